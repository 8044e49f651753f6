"""The train state (params + Adafactor state + step), created directly sharded.

Shardings come from the parameters' logical axis names (``nn.with_logical_partitioning`` in
the model) through logical axis rules onto the ('data', 'model') mesh. The state is built
by a function the layout's :class:`~instructrec_jax.partitioning.Partitioner` compiles with
those shardings as ``out_shardings``, so no device ever holds the whole unsharded state.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from instructrec_jax.models.config import T5Config
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.models.t5 import abstract_params
from instructrec_jax.partitioning import Partitioner
from instructrec_jax.training.optimizer import (
    AdafactorConfig,
    FactoredAdafactorState,
    Schedule,
    factored_adafactor,
    plan_tree,
    state_partition_specs,
)


class TrainState(NamedTuple):
    """``step``: int32 scalar (updates applied); ``params``; ``opt_state``."""

    step: jax.Array
    params: Any
    opt_state: FactoredAdafactorState

    def to_checkpoint(self) -> dict[str, Any]:
        """The saved tree: ``{"params", "opt_state" (a dict), "step"}``."""
        return {"params": self.params, "opt_state": self.opt_state._asdict(), "step": self.step}

    @classmethod
    def from_checkpoint(cls, tree: dict[str, Any]) -> TrainState:
        """Inverse of :meth:`to_checkpoint`."""
        return cls(tree["step"], tree["params"], FactoredAdafactorState(**tree["opt_state"]))


@dataclasses.dataclass(frozen=True)
class StateLayout:
    """The optimizer, the shardings of every part of the train state, and the partitioner
    (mesh + logical rules) every train-state program is compiled with."""

    optimizer: optax.GradientTransformationExtraArgs
    state_shardings: TrainState
    abstract_state: TrainState
    partitioner: Partitioner

    @property
    def param_shardings(self) -> Any:
        """``NamedSharding`` per parameter."""
        return self.state_shardings.params


def build_layout(
    model_config: T5Config,
    partitioner: Partitioner,
    learning_rate: Schedule,
    adafactor: AdafactorConfig,
) -> StateLayout:
    """Optimizer (factored by the params' logical axes) and state shardings, from shapes only."""
    boxed = abstract_params(model_config)
    logical_specs = nn.get_partition_spec(boxed)
    shapes = nn.unbox(boxed)
    plans = plan_tree(shapes, logical_specs, adafactor.min_dim_size_to_factor)
    optimizer = factored_adafactor(learning_rate, plans, adafactor, model_config.cpu_rewrites)
    opt_specs = state_partition_specs(logical_specs, plans)
    shardings = TrainState(
        step=partitioner.replicated(),
        params=partitioner.logical_shardings(logical_specs),
        opt_state=partitioner.logical_shardings(opt_specs),
    )
    abstract_opt = jax.eval_shape(optimizer.init, shapes)
    abstract = TrainState(jax.ShapeDtypeStruct((), jnp.int32), shapes, abstract_opt)
    abstract = jax.tree.map(
        lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
        abstract,
        shardings,
    )
    return StateLayout(optimizer, shardings, abstract, partitioner)


def init_state(layout: StateLayout, model_config: T5Config, seed: int) -> TrainState:
    """Fresh parameters from ``seed`` and a zero optimizer state, created sharded."""
    model = EncoderDecoderModel(model_config)

    def make() -> TrainState:
        params = model.initial_params(jax.random.PRNGKey(seed))
        return TrainState(jnp.zeros((), jnp.int32), params, layout.optimizer.init(params))

    return layout.partitioner.partition(make, out_shardings=layout.state_shardings)()


def _place_sharded(path: Any, value: Any, target: jax.ShapeDtypeStruct) -> jax.Array:
    """Each device receives only its shard of the host value; an array already laid out as
    the target (e.g. from sharded loading) is kept as it is."""
    if (
        isinstance(value, jax.Array)
        and value.sharding == target.sharding
        and value.shape == target.shape
        and value.dtype == target.dtype
    ):
        return value
    host = np.asarray(value).astype(target.dtype)
    if host.shape != target.shape:
        raise ValueError(
            f"parameter {jax.tree_util.keystr(path)} has shape {host.shape}, "
            f"the model expects {target.shape}"
        )
    return jax.make_array_from_callback(target.shape, target.sharding, lambda index: host[index])


def state_from_params(layout: StateLayout, params: Any, step: int = 0) -> TrainState:
    """A state around given (e.g. pretrained) params: placed sharded, fresh optimizer state.

    ``params`` may be host numpy arrays; each is cast to the model's parameter dtype.
    """
    abstract_params_tree = layout.abstract_state.params
    placed = jax.tree_util.tree_map_with_path(_place_sharded, params, abstract_params_tree)
    init_opt = layout.partitioner.partition(
        layout.optimizer.init, out_shardings=layout.state_shardings.opt_state
    )
    step_array = jax.device_put(jnp.asarray(step, jnp.int32), layout.state_shardings.step)
    return TrainState(step_array, placed, init_opt(placed))


def state_from_checkpoint_tree(layout: StateLayout, tree: dict[str, Any]) -> TrainState:
    """A full state (params, optimizer state, step) from a host checkpoint tree
    (:meth:`TrainState.to_checkpoint` layout, numpy leaves), each device receiving its shard."""
    target = layout.abstract_state.to_checkpoint()
    placed = jax.tree_util.tree_map_with_path(_place_sharded, tree, target)
    return TrainState.from_checkpoint(placed)
