"""The jitted train and evaluation steps.

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

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding

from instructrec_jax.models.t5 import Transformer
from instructrec_jax.training.losses import LossSums, normalized_metrics, token_loss_sums
from instructrec_jax.training.state import LogicalRules, StateLayout, TrainState

Batch = Mapping[str, jax.Array]
TrainStepFn = Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]
EvalStepFn = Callable[[Any, Batch], LossSums]

MODEL_FEATURES = (
    "encoder_input_tokens",
    "decoder_input_tokens",
    "decoder_target_tokens",
    "encoder_segment_ids",
    "decoder_segment_ids",
    "encoder_positions",
    "decoder_positions",
)


def _model_inputs(batch: Batch) -> dict[str, jax.Array]:
    return {name: batch[name] for name in MODEL_FEATURES if name in batch}


def batch_loss_sums(
    model: Transformer,
    params: Any,
    batch: Batch,
    z_loss: float,
    dropout_rng: jax.Array | None,
) -> LossSums:
    """Loss sums of one (micro)batch; dropout is on when ``dropout_rng`` is given."""
    logits = model.apply(
        {"params": params},
        **_model_inputs(batch),
        enable_dropout=dropout_rng is not None,
        rngs={"dropout": dropout_rng} if dropout_rng is not None else None,
    )
    return token_loss_sums(
        logits, batch["decoder_target_tokens"], batch["decoder_loss_weights"], z_loss
    )


def _split_microbatches(batch: Batch, count: int) -> dict[str, jax.Array]:
    """[B, ...] -> [M, B/M, ...] with row r in microbatch r % M."""

    def split(array: jax.Array) -> jax.Array:
        rows = array.shape[0]
        return jnp.swapaxes(array.reshape(rows // count, count, *array.shape[1:]), 0, 1)

    return {name: split(array) for name, array in batch.items()}


def make_train_step(
    model: Transformer,
    layout: StateLayout,
    *,
    z_loss: float,
    num_microbatches: int,
    dropout: bool,
    seed: int,
) -> Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]:
    """The pure train step ``(state, batch) -> (state, metrics)`` (not yet jitted).

    Metrics (float32 scalars): loss, cross_entropy_loss, z_loss, accuracy, target_tokens,
    ``grad_norm`` (global L2 norm of the token-normalized gradients) and ``finite`` (1.0 when
    loss and gradient norm are finite).
    """
    optimizer: optax.GradientTransformationExtraArgs = layout.optimizer

    def objective(params: Any, micro: Batch, rng: jax.Array | None) -> tuple[jax.Array, LossSums]:
        sums = batch_loss_sums(model, params, micro, z_loss, rng)
        return sums.cross_entropy + sums.z_loss, sums

    grad_fn = jax.grad(objective, has_aux=True)

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


def sharded_train_step_jit(
    step: Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]],
    layout: StateLayout,
    batch_sharding: NamedSharding,
) -> Any:
    """The ``jax.jit`` of the train step with the state's shardings in and out and the state
    donated; call, ``.lower`` or ``.trace`` it under ``jax.set_mesh`` and the logical axis
    rules (ahead-of-time compilation lowers it with ``layout.abstract_state``)."""
    return jax.jit(
        step,
        in_shardings=(layout.state_shardings, batch_sharding),
        out_shardings=(layout.state_shardings, None),
        donate_argnums=(0,),
    )


def jit_train_step(
    step: Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]],
    layout: StateLayout,
    mesh: Mesh,
    rules: LogicalRules,
    batch_sharding: NamedSharding,
) -> TrainStepFn:
    """``jax.jit`` with the state's shardings in and out; the state buffer is donated.

    The returned function runs (and so traces) under the mesh and the logical axis rules.
    """
    jitted = sharded_train_step_jit(step, layout, batch_sharding)

    def run(state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        with jax.set_mesh(mesh), nn.logical_axis_rules(list(rules)):
            return jitted(state, batch)

    return run


def make_eval_step(
    model: Transformer,
    layout: StateLayout,
    mesh: Mesh,
    rules: LogicalRules,
    batch_sharding: NamedSharding,
    z_loss: float,
) -> EvalStepFn:
    """Jitted ``(params, batch) -> LossSums`` without dropout (validation loss)."""

    def evaluate(params: Any, batch: Batch) -> LossSums:
        return batch_loss_sums(model, params, batch, z_loss, None)

    jitted = jax.jit(evaluate, in_shardings=(layout.param_shardings, batch_sharding))

    def run(params: Any, batch: Batch) -> LossSums:
        with jax.set_mesh(mesh), nn.logical_axis_rules(list(rules)):
            return jitted(params, batch)

    return run
