"""The train and evaluation steps, compiled by the layout's partitioner.

Train step: the global batch [B, ...] is split into ``num_microbatches`` interleaved
microbatches (row ``r`` goes to microbatch ``r % M``, so every device keeps its rows);
gradients of the *summed* token loss (cross-entropy + z-loss) are accumulated with
``lax.scan`` and divided once by the batch's number of target tokens (T5X's
NUM_REAL_TARGET_TOKENS normalization), so accumulation changes nothing but memory.
Dropout keys are ``fold_in(fold_in(PRNGKey(seed), step), microbatch)``: a restarted run
draws the same masks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding

from instructrec_jax.models.losses import LossSums, normalized_metrics
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.partitioning import PartitionedFunction
from instructrec_jax.training.state import StateLayout, TrainState

Batch = Mapping[str, jax.Array]
TrainStepFn = Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]
EvalStepFn = Callable[[Any, Batch], LossSums]


def _split_microbatches(batch: Batch, count: int) -> dict[str, jax.Array]:
    """[B, ...] -> [M, B/M, ...] with row r in microbatch r % M."""

    def split(array: jax.Array) -> jax.Array:
        rows = array.shape[0]
        return jnp.swapaxes(array.reshape(rows // count, count, *array.shape[1:]), 0, 1)

    return {name: split(array) for name, array in batch.items()}


def make_train_step(
    model: EncoderDecoderModel,
    layout: StateLayout,
    *,
    num_microbatches: int,
    dropout: bool,
    seed: int,
) -> Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]:
    """The pure train step ``(state, batch) -> (state, metrics)`` (not yet compiled) of
    ``model.loss_fn`` (cross-entropy + the model's z-loss).

    Metrics (float32 scalars): loss, cross_entropy_loss, z_loss, accuracy, target_tokens,
    ``grad_norm`` (global L2 norm of the token-normalized gradients) and ``finite`` (1.0 when
    loss and gradient norm are finite).
    """
    optimizer: optax.GradientTransformationExtraArgs = layout.optimizer

    grad_fn = jax.grad(model.loss_fn, has_aux=True)

    def dropout_rng(step_rng: jax.Array, micro_index: jax.Array | int) -> jax.Array | None:
        """The dropout key of one microbatch, or None without dropout."""
        return jax.random.fold_in(step_rng, micro_index) if dropout else None

    def _accumulated_gradients(params: Any, batch: Batch, step_rng: jax.Array) -> Any:
        """Summed gradients and loss sums over the microbatches (``lax.scan``)."""
        micro_batches = _split_microbatches(batch, num_microbatches)

        def accumulate(carry: tuple[Any, LossSums], inputs: tuple[jax.Array, Batch]) -> Any:
            grads_sum, sums_total = carry
            index, micro = inputs
            grads, sums = grad_fn(params, micro, dropout_rng(step_rng, index))
            grads_sum = jax.tree.map(jnp.add, grads_sum, grads)
            return (grads_sum, sums_total + sums), None

        zero_grads = jax.tree.map(jnp.zeros_like, params)
        (grads, sums), _ = jax.lax.scan(
            accumulate,
            (zero_grads, LossSums.zeros()),
            (jnp.arange(num_microbatches), micro_batches),
        )
        return grads, sums

    def step(state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        step_rng = jax.random.fold_in(jax.random.PRNGKey(seed), state.step)
        if num_microbatches == 1:
            # No accumulator: a zero gradient tree plus a scan costs a full pass over the
            # parameters (12 ms of a 480 ms tiny-model step on CPU).
            grads, sums = grad_fn(state.params, batch, dropout_rng(step_rng, 0))
        else:
            grads, sums = _accumulated_gradients(state.params, batch, step_rng)
        grads = jax.tree.map(lambda g: g / jnp.maximum(sums.weight, 1.0), grads)
        # The learning rate follows the global step (it carries over from a step-N checkpoint).
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params, step=state.step)
        params = optax.apply_updates(state.params, updates)
        metrics = normalized_metrics(sums)
        grad_norm = optax.global_norm(grads)
        metrics["grad_norm"] = grad_norm
        metrics["finite"] = (jnp.isfinite(metrics["loss"]) & jnp.isfinite(grad_norm)).astype(
            jnp.float32
        )
        return TrainState(state.step + 1, params, opt_state), metrics

    return step


def jit_train_step(
    step: Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]],
    layout: StateLayout,
    batch_sharding: NamedSharding,
) -> PartitionedFunction:
    """The train step compiled by ``layout.partitioner`` with the state's shardings in and
    out and the state buffer donated. Calling, ``.lower`` or ``.trace`` runs under the mesh
    and the logical axis rules (ahead-of-time compilation lowers it with
    ``layout.abstract_state``)."""
    return layout.partitioner.partition(
        step,
        in_shardings=(layout.state_shardings, batch_sharding),
        out_shardings=(layout.state_shardings, None),
        donate_argnums=(0,),
    )


def make_eval_step(
    model: EncoderDecoderModel, layout: StateLayout, batch_sharding: NamedSharding
) -> EvalStepFn:
    """Compiled ``(params, batch) -> LossSums`` without dropout (validation loss)."""

    def evaluate(params: Any, batch: Batch) -> LossSums:
        return model.loss_fn(params, batch)[1]

    return layout.partitioner.partition(
        evaluate, in_shardings=(layout.param_shardings, batch_sharding)
    )
