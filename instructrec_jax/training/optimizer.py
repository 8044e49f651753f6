"""Adafactor with second moments factored by logical axis names (T5X's defaults).

Why not ``optax.adafactor``: optax decides which dimensions to factor by size alone (the
two largest dims, both at least ``min_dim_size_to_factor``). T5X decides by *meaning*:
each logical axis of a parameter is a row axis, a column axis, a batch axis (kept in both
factors, e.g. stacked ``layers``) or a "do not factor" axis (``relpos_buckets``). For the
plain 2-D kernels of T5 both rules give the same rank-1 estimate (the estimate
``v_row[i] * v_col[j] / mean(v_row)`` is symmetric in which factor is called the row), but
they differ for scanned (3-D) parameters, for the relative-position table and for parameters
whose axes are not the two largest. This module implements the axis rule:

* A parameter is factored when it has at least one ROW and one COLUMN axis, no NONE axis,
  and both the product of its row dims and the product of its column dims are at least
  ``min_dim_size_to_factor`` (128, as in T5X). Otherwise it keeps a full second moment.
* Parameters without logical axis names (or with names not in the rules) fall back to
  optax's size rule, so a model that adds a new axis name still trains.

The update, per parameter (``t`` = 1-based count of updates this optimizer state has
applied, ``s`` = 0-based global step, ``g`` = gradient):

    decay = 1 - t ** (-decay_rate)                        # decay_rate 0.8
    g2 = g * g + epsilon1                                 # 1e-30
    factored:   v_row <- decay v_row + (1 - decay) mean(g2, column axes)
                v_col <- decay v_col + (1 - decay) mean(g2, row axes)
                v_hat = v_row * v_col / mean(v_row, row axes)
    otherwise:  v <- decay v + (1 - decay) g2 ;  v_hat = v
    u = g / sqrt(v_hat)
    u = u / max(1, rms(u) / clipping_threshold)           # update clipping 1.0
    u = u * max(rms(param), epsilon2)                     # parameter scale, epsilon2 1e-3

(``rms`` per index of the BATCH axes: a stacked [layers, ...] parameter of a scanned model
gets the updates its per-layer slices get in the unrolled model.)
    param <- param - learning_rate(s) * u

``s`` equals ``t - 1`` unless the state was created fresh at a later global step (a run
started from a step-N checkpoint, whose optimizer state is never loaded): the learning rate
then follows the global step, as in T5X where the step carries over, and the decay restarts
with the fresh moments (T5X's ``step_offset``). Updates are float32; ``optax.apply_updates``
adds them to the parameters in float32 and casts the sum to the parameter dtype, which is
T5X's ``(param - update).astype(param.dtype)``.

No momentum and no weight decay (T5X fine-tuning defaults). The state is a
:class:`FactoredAdafactorState` whose trees mirror the parameter tree; unused slots hold a
scalar zero so that every parameter has all three entries.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec

from instructrec_jax.models.xla_cpu import mean_over_axes

ROW = "row"
COLUMN = "column"
BATCH = "batch"
NONE = "none"

# Logical axis -> factoring role, as T5X's standard factor rules.
STANDARD_FACTOR_RULES: Mapping[str, str] = {
    "vocab": COLUMN,
    "embed": ROW,
    "mlp": COLUMN,
    "heads": COLUMN,
    "kv": COLUMN,
    "joined_kv": COLUMN,
    "relpos_buckets": NONE,
    "abspos_buckets": ROW,
    "length": COLUMN,
    "layers": BATCH,
    "stack": BATCH,
    "mlp_activations": COLUMN,
}

Schedule = Callable[[jax.Array], jax.Array]


class FactorPlan(NamedTuple):
    """How one parameter's second moment is stored: reduced axes of each factor.

    ``row_axes``/``column_axes`` are dimension indices; both empty means unfactored.
    ``batch_axes`` (e.g. the stacked ``layers`` of a scanned model) index independent
    parameters: the update's clipping RMS and the parameter scale are taken per index, so a
    stacked parameter is updated exactly like its per-layer slices would be.
    """

    row_axes: tuple[int, ...]
    column_axes: tuple[int, ...]
    batch_axes: tuple[int, ...] = ()

    @property
    def factored(self) -> bool:
        """Whether the parameter keeps two factors instead of a full second moment."""
        return bool(self.row_axes) and bool(self.column_axes)


UNFACTORED = FactorPlan((), ())


class FactoredAdafactorState(NamedTuple):
    """Optimizer state: ``count`` (int32 scalar, steps taken) and three param-shaped trees."""

    count: jax.Array
    v_row: Any
    v_col: Any
    v: Any


@dataclasses.dataclass(frozen=True)
class AdafactorConfig:
    """Hyper-parameters of :func:`factored_adafactor` (T5X defaults)."""

    decay_rate: float = 0.8
    clipping_threshold: float = 1.0
    min_dim_size_to_factor: int = 128
    multiply_by_parameter_scale: bool = True
    epsilon1: float = 1e-30
    epsilon2: float = 1e-3


def _size_rule(shape: Sequence[int], min_dim_size: int) -> FactorPlan:
    """optax's rule: factor the two largest dims when the smaller of them is big enough."""
    if len(shape) < 2:
        return UNFACTORED
    order = np.argsort(shape, kind="stable")
    second, largest = int(order[-2]), int(order[-1])
    if shape[second] < min_dim_size:
        return UNFACTORED
    # Averaging over the largest dim gives the row factor, over the second the column one.
    return FactorPlan(row_axes=(second,), column_axes=(largest,))


def plan_factoring(
    shape: Sequence[int],
    axis_names: Sequence[str | None] | None,
    min_dim_size_to_factor: int = 128,
    rules: Mapping[str, str] = STANDARD_FACTOR_RULES,
) -> FactorPlan:
    """The factoring of one parameter of ``shape`` whose dims carry ``axis_names``.

    Raises ValueError when names and shape disagree in length.
    """
    if len(shape) < 2:
        return UNFACTORED
    if axis_names is None or any(name not in rules for name in axis_names):
        return _size_rule(shape, min_dim_size_to_factor)
    if len(axis_names) != len(shape):
        raise ValueError(f"axis names {tuple(axis_names)} do not match shape {tuple(shape)}")
    roles = [rules[name] for name in axis_names]
    batch = tuple(i for i, role in enumerate(roles) if role == BATCH)
    unfactored = FactorPlan((), (), batch)
    if NONE in roles:
        return unfactored
    rows = tuple(i for i, role in enumerate(roles) if role == ROW)
    columns = tuple(i for i, role in enumerate(roles) if role == COLUMN)
    if not rows or not columns:
        return unfactored
    row_size = math.prod(shape[i] for i in rows)
    column_size = math.prod(shape[i] for i in columns)
    if min(row_size, column_size) < min_dim_size_to_factor:
        return unfactored
    return FactorPlan(row_axes=rows, column_axes=columns, batch_axes=batch)


def plan_tree(
    params: Any,
    logical_axes: Any,
    min_dim_size_to_factor: int = 128,
    rules: Mapping[str, str] = STANDARD_FACTOR_RULES,
) -> Any:
    """A tree of :class:`FactorPlan` mirroring ``params``.

    ``logical_axes`` mirrors ``params`` with a ``PartitionSpec``/tuple of logical names (or
    ``None``) per leaf; pass ``None`` to use the size rule everywhere.
    """
    if logical_axes is None:
        return jax.tree.map(lambda p: _size_rule(p.shape, min_dim_size_to_factor), params)
    return jax.tree.map(
        lambda p, names: plan_factoring(p.shape, _names(names), min_dim_size_to_factor, rules),
        params,
        logical_axes,
        is_leaf=lambda x: x is None or isinstance(x, PartitionSpec),
    )


def _names(spec: PartitionSpec | tuple | None) -> tuple[str | None, ...] | None:
    if spec is None:
        return None
    return tuple(spec)


def _is_plan(node: Any) -> bool:
    return isinstance(node, FactorPlan)


def _reduced(array: jax.Array, axes: tuple[int, ...], cpu_rewrites: str) -> jax.Array:
    return mean_over_axes(array, axes, cpu_rewrites)


def _init_leaf(param: jax.Array, plan: FactorPlan) -> tuple[jax.Array, jax.Array, jax.Array]:
    zero = jnp.zeros((), jnp.float32)
    if plan.factored:
        shape = np.array(param.shape)
        row_shape = tuple(np.delete(shape, plan.column_axes))
        column_shape = tuple(np.delete(shape, plan.row_axes))
        return jnp.zeros(row_shape, jnp.float32), jnp.zeros(column_shape, jnp.float32), zero
    return zero, zero, jnp.zeros(param.shape, jnp.float32)


def _rms(array: jax.Array, batch_axes: tuple[int, ...] = ()) -> jax.Array:
    """Root mean square over all axes but ``batch_axes`` (kept as size-1 dims)."""
    axes = tuple(i for i in range(array.ndim) if i not in batch_axes)
    return jnp.sqrt(jnp.mean(jnp.square(array), axis=axes, keepdims=bool(batch_axes)))


def factored_adafactor(
    learning_rate: Schedule | float,
    factor_plans: Any,
    config: AdafactorConfig = AdafactorConfig(),
    cpu_rewrites: str = "auto",
) -> optax.GradientTransformationExtraArgs:
    """Adafactor whose factoring follows ``factor_plans`` (from :func:`plan_tree`).

    ``cpu_rewrites`` (the model's ``T5Config.cpu_rewrites``) picks the form of the factor
    means (:func:`~instructrec_jax.models.xla_cpu.mean_over_axes`).

    The returned transformation needs ``params`` in ``update`` when parameter scaling is on.
    ``update(grads, state, params, step=s)`` takes the learning rate at the global 0-based step
    ``s`` (the train state's step before this update); without ``step`` it uses
    ``state.count``.
    """
    schedule = learning_rate if callable(learning_rate) else optax.constant_schedule(learning_rate)

    def init(params: Any) -> FactoredAdafactorState:
        triples = jax.tree.map(_init_leaf, params, factor_plans)
        is_triple = lambda x: isinstance(x, tuple) and not _is_plan(x)  # noqa: E731
        pick = lambda k: jax.tree.map(lambda t: t[k], triples, is_leaf=is_triple)  # noqa: E731
        return FactoredAdafactorState(jnp.zeros((), jnp.int32), pick(0), pick(1), pick(2))

    def update(
        grads: Any,
        state: FactoredAdafactorState,
        params: Any = None,
        *,
        step: jax.Array | None = None,
    ) -> tuple[Any, FactoredAdafactorState]:
        if config.multiply_by_parameter_scale and params is None:
            raise ValueError("factored_adafactor needs params to scale updates")
        count = state.count + 1
        decay = 1.0 - jnp.power(count.astype(jnp.float32), -config.decay_rate)
        rate = schedule(state.count if step is None else step)

        def leaf(
            grad: jax.Array,
            plan: FactorPlan,
            v_row: jax.Array,
            v_col: jax.Array,
            v: jax.Array,
            param: jax.Array | None,
        ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
            grad32 = grad.astype(jnp.float32)
            g2 = jnp.square(grad32) + config.epsilon1
            if plan.factored:
                v_row = decay * v_row + (1.0 - decay) * _reduced(g2, plan.column_axes, cpu_rewrites)
                v_col = decay * v_col + (1.0 - decay) * _reduced(g2, plan.row_axes, cpu_rewrites)
                row_full = jnp.expand_dims(v_row, plan.column_axes)
                col_full = jnp.expand_dims(v_col, plan.row_axes)
                row_mean = jnp.mean(row_full, axis=plan.row_axes, keepdims=True)
                update = grad32 * jax.lax.rsqrt(row_full / row_mean) * jax.lax.rsqrt(col_full)
            else:
                v = decay * v + (1.0 - decay) * g2
                update = grad32 * jax.lax.rsqrt(v)
            batch = plan.batch_axes
            update = update / jnp.maximum(1.0, _rms(update, batch) / config.clipping_threshold)
            if config.multiply_by_parameter_scale:
                scale = jnp.maximum(_rms(param.astype(jnp.float32), batch), config.epsilon2)
                update = update * scale
            # float32 whatever the parameter dtype: see the module docstring.
            return -rate * update, v_row, v_col, v

        param_tree = params if params is not None else jax.tree.map(lambda _: None, grads)
        results = jax.tree.map(
            leaf,
            grads,
            factor_plans,
            state.v_row,
            state.v_col,
            state.v,
            param_tree,
            is_leaf=_is_plan,
        )
        is_result = lambda x: isinstance(x, tuple) and not _is_plan(x)  # noqa: E731
        pick = lambda k: jax.tree.map(lambda r: r[k], results, is_leaf=is_result)  # noqa: E731
        return pick(0), FactoredAdafactorState(count, pick(1), pick(2), pick(3))

    return optax.GradientTransformationExtraArgs(init, update)


def state_partition_specs(param_specs: Any, factor_plans: Any) -> FactoredAdafactorState:
    """Logical ``PartitionSpec``s of the optimizer state, from those of the params.

    Each factor keeps the names of the dims it keeps; scalar placeholders are replicated.
    """

    def leaf(spec: PartitionSpec | None, plan: FactorPlan) -> tuple[PartitionSpec, ...]:
        names = tuple(spec) if spec is not None else None
        if plan.factored:
            if names is None:
                return PartitionSpec(), PartitionSpec(), PartitionSpec()
            keep_rows = [n for i, n in enumerate(names) if i not in plan.column_axes]
            keep_cols = [n for i, n in enumerate(names) if i not in plan.row_axes]
            return PartitionSpec(*keep_rows), PartitionSpec(*keep_cols), PartitionSpec()
        full = PartitionSpec(*names) if names is not None else PartitionSpec()
        return PartitionSpec(), PartitionSpec(), full

    triples = jax.tree.map(
        leaf,
        param_specs,
        factor_plans,
        is_leaf=lambda x: x is None or isinstance(x, PartitionSpec),
    )
    is_triple = lambda x: isinstance(x, tuple) and not isinstance(x, (PartitionSpec, FactorPlan))  # noqa: E731
    pick = lambda k: jax.tree.map(lambda t: t[k], triples, is_leaf=is_triple)  # noqa: E731
    return FactoredAdafactorState(PartitionSpec(), pick(0), pick(1), pick(2))


SCHEDULES = ("constant", "rsqrt")


def check_schedule_args(base_rate: float, kind: str, warmup_steps: int) -> None:
    """Raise ValueError naming the bad argument of :func:`learning_rate_schedule`.

    The message starts with the TrainConfig field name (``learning_rate``,
    ``learning_rate_schedule``, ``warmup_steps``).
    """
    if not base_rate > 0:  # also catches NaN
        raise ValueError(f"learning_rate must be positive, got {base_rate}")
    if kind not in SCHEDULES:
        known = ", ".join(repr(name) for name in SCHEDULES)
        raise ValueError(f"learning_rate_schedule {kind!r} is unknown; known: {known}")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")


def learning_rate_schedule(
    base_rate: float, kind: str = "constant", warmup_steps: int = 0
) -> Schedule:
    """``constant`` (with optional linear warmup) or T5's ``rsqrt`` decay.

    ``rsqrt``: ``base_rate * rsqrt(max(step, warmup_steps)) * sqrt(max(warmup_steps, 1))``,
    so the rate is ``base_rate`` through warmup and decays as 1/sqrt(step) after it.
    ``step`` is the 0-based global number of updates already applied.
    """
    check_schedule_args(base_rate, kind, warmup_steps)
    if kind == "constant":

        def constant(step: jax.Array) -> jax.Array:
            if warmup_steps == 0:
                return jnp.asarray(base_rate, jnp.float32)
            ramp = jnp.minimum(1.0, (step.astype(jnp.float32) + 1.0) / warmup_steps)
            return base_rate * ramp

        return constant
    if kind == "rsqrt":
        anchor = float(max(warmup_steps, 1))

        def rsqrt(step: jax.Array) -> jax.Array:
            current = jnp.maximum(step.astype(jnp.float32), anchor)
            return base_rate * jnp.sqrt(anchor) * jax.lax.rsqrt(current)

        return rsqrt
    raise AssertionError(f"SCHEDULES lists {kind!r} but learning_rate_schedule lacks it")
