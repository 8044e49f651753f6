"""Training SASRec on the training parts of a ``ProcessedDataset``, with early stopping.

The model is trained on every user's ``items[:-2]`` (never on a validation or test
target), checked on the validation split with the shared ranking metrics (1 positive
+ the dataset's fixed negatives), and the parameters of the best check are kept; the
same parameters then score the test split, whose histories include the validation item.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.evaluation.baselines.item_index import PADDING_INDEX, ItemIndex
from instructrec_jax.evaluation.baselines.sasrec_config import SASRecConfig
from instructrec_jax.evaluation.baselines.sasrec_data import (
    TrainingWindows,
    encode_candidates,
    encode_histories,
    shuffled_batches,
    training_windows,
)
from instructrec_jax.evaluation.baselines.sasrec_inference import (
    Params,
    build_model,
    candidate_scores,
    item_table,
)
from instructrec_jax.evaluation.baselines.sasrec_model import SASRec
from instructrec_jax.evaluation.metrics import ranking_metrics

logger = logging.getLogger(__name__)

TrainStep = Callable[[Params, Any, jax.Array, jax.Array, jax.Array], tuple[Params, Any, jax.Array]]


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What training produced.

    Attributes:
      params: the kept (best-validation) parameters, as numpy arrays.
      config: the resolved configuration (``max_length`` set).
      index: the item index the parameters refer to.
      best_epoch: epoch of the kept parameters.
      epochs_run: epochs actually trained.
      valid_metrics: validation metrics of the kept parameters (empty without a
        validation split).
      history: one dict per validation check: epoch, mean training loss, metrics.
      train_seconds: wall-clock seconds of the training loop (compilation included).
    """

    params: Params
    config: SASRecConfig
    index: ItemIndex
    best_epoch: int
    epochs_run: int
    valid_metrics: dict[str, float]
    history: list[dict[str, float]]
    train_seconds: float


def next_item_loss(
    model: SASRec,
    params: Params,
    inputs: jax.Array,
    targets: jax.Array,
    key: jax.Array,
    loss_name: str,
) -> jax.Array:
    """Mean next-item loss over the non-padding positions of a batch.

    Args:
      model: the SASRec module.
      params: its parameters.
      inputs: int32 [B, L] left-padded item indices.
      targets: int32 [B, L] next items (0 = no target).
      key: PRNG key for dropout (and the sampled negatives of ``"bce"``).
      loss_name: ``"ce"``: softmax cross-entropy over the whole catalog; ``"bce"``:
        binary cross-entropy of the target against one uniformly drawn other item.
    """
    dropout_key, negative_key = jax.random.split(key)
    states = model.apply(
        {"params": params}, inputs, deterministic=False, rngs={"dropout": dropout_key}
    )
    table = item_table(params)
    is_target = targets != PADDING_INDEX
    if loss_name == "ce":
        logits = jnp.einsum("bld,nd->bln", states, table)
        logits = logits.at[..., PADDING_INDEX].set(-1e9)
        per_position = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    else:
        num_items = table.shape[0] - 1
        offsets = jax.random.randint(negative_key, targets.shape, 1, num_items)
        negatives = 1 + (targets - 1 + offsets) % num_items  # never equal to the target
        positive_logits = jnp.sum(states * table[targets], axis=-1)
        negative_logits = jnp.sum(states * table[negatives], axis=-1)
        per_position = jax.nn.softplus(-positive_logits) + jax.nn.softplus(negative_logits)
    total = jnp.sum(jnp.where(is_target, per_position, 0.0))
    return total / jnp.maximum(jnp.sum(is_target), 1)


@functools.lru_cache(maxsize=16)
def make_train_step(
    model: SASRec, learning_rate: float, adam_b2: float, loss_name: str
) -> tuple[optax.GradientTransformation, TrainStep]:
    """Adam and a jitted ``(params, opt_state, inputs, targets, key) -> (params, opt_state,
    loss)``; cached so repeated fits of one architecture compile once per process."""
    optimizer = optax.adam(learning_rate, b1=0.9, b2=adam_b2)

    def step(
        params: Params, opt_state: Any, inputs: jax.Array, targets: jax.Array, key: jax.Array
    ) -> tuple[Params, Any, jax.Array]:
        loss, grads = jax.value_and_grad(next_item_loss, argnums=1)(
            model, params, inputs, targets, key, loss_name
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return optimizer, jax.jit(step, donate_argnums=(0, 1))


def run_epoch(
    train_step: TrainStep,
    params: Params,
    opt_state: Any,
    windows: TrainingWindows,
    batch_size: int,
    rng: np.random.Generator,
    key: jax.Array,
) -> tuple[Params, Any, float]:
    """One shuffled pass over ``windows``; returns the new state and the mean batch loss."""
    losses = []
    for step, rows in enumerate(shuffled_batches(windows.inputs.shape[0], batch_size, rng)):
        valid_rows = rows >= 0
        inputs = np.where(valid_rows[:, None], windows.inputs[rows], PADDING_INDEX)
        targets = np.where(valid_rows[:, None], windows.targets[rows], PADDING_INDEX)
        params, opt_state, loss = train_step(
            params, opt_state, inputs, targets, jax.random.fold_in(key, step)
        )
        losses.append(loss)
    return params, opt_state, float(np.mean(jax.device_get(losses)))


def fit_sasrec(
    dataset: ProcessedDataset, config: SASRecConfig, seed: int, progress: bool = True
) -> FitResult:
    """Train SASRec on ``dataset``'s training parts; early-stop on its validation split.

    Deterministic for a given (dataset, config, seed) on a given platform: the seed
    drives initialization, dropout, negatives and the window order of every epoch.
    """
    index = ItemIndex(dataset.catalog)
    config = config.resolved(dataset.config.max_history)
    max_length = int(config.max_length)  # resolved above
    windows = training_windows(
        (sequence.item_ids[:-2] for sequence in dataset.sequences.values()), index, max_length
    )
    model = build_model(config, index.num_items)
    params = _init_params(model, seed)
    # Dropout and negatives use XLA's RngBitGenerator ("rbg"): seeded and deterministic
    # like threefry, but much faster to compile on CPU.
    train_key = jax.random.key(seed, impl="rbg")
    optimizer, train_step = make_train_step(
        model, config.learning_rate, config.adam_b2, config.loss
    )
    opt_state = optimizer.init(params)
    validate = _validator(model, dataset, index, config)
    rng = np.random.default_rng(seed)

    stopper = _EarlyStopping(config.monitor_metric, config.patience)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    epochs = tqdm(range(1, config.max_epochs + 1), desc="SASRec", disable=not progress)
    epoch = 0
    for epoch in epochs:
        epoch_key = jax.random.fold_in(train_key, epoch)
        params, opt_state, mean_loss = run_epoch(
            train_step, params, opt_state, windows, config.batch_size, rng, epoch_key
        )
        if validate is None or (epoch % config.eval_every and epoch != config.max_epochs):
            continue
        metrics = validate(params)
        history.append({"epoch": epoch, "loss": mean_loss, **metrics})
        monitored = f"{metrics[config.monitor_metric]:.4f}"
        epochs.set_postfix({"loss": f"{mean_loss:.4f}", config.monitor_metric: monitored})
        logger.info("SASRec epoch %d loss %.4f valid %s", epoch, mean_loss, metrics)
        if stopper.should_stop(epoch, metrics, params):
            break
    if validate is None:  # no validation split: keep the last parameters
        stopper.best = _Best(params=_snapshot(params), epoch=epoch, metrics={})
    best = stopper.best
    return FitResult(
        params=best.params,
        config=config,
        index=index,
        best_epoch=best.epoch,
        epochs_run=epoch,
        valid_metrics=best.metrics,
        history=history,
        train_seconds=time.perf_counter() - start,
    )


@functools.partial(jax.jit, static_argnums=0)
def _init_params_jit(model: SASRec, key: jax.Array) -> Params:
    return model.init(key, jnp.zeros((1, model.max_length), jnp.int32))["params"]


def _init_params(model: SASRec, seed: int) -> Params:
    """Initial parameters from ``seed`` (one compiled call instead of many small ones)."""
    return _init_params_jit(model, jax.random.PRNGKey(seed))


def _snapshot(params: Params) -> Params:
    """A host copy of ``params`` (the device buffers are donated to the next step)."""
    return jax.tree.map(lambda leaf: np.array(leaf, copy=True), params)


@dataclasses.dataclass(frozen=True)
class _Best:
    params: Params
    epoch: int
    metrics: dict[str, float]


class _EarlyStopping:
    """Keeps the parameters of the best validation check; says when to stop."""

    def __init__(self, metric: str, patience: int) -> None:
        self.metric = metric
        self.patience = patience
        self.best = _Best(params=None, epoch=0, metrics={})
        self.checks_without_gain = 0

    def should_stop(self, epoch: int, metrics: dict[str, float], params: Params) -> bool:
        """Record a check; True once ``patience`` checks in a row brought no gain."""
        if metrics[self.metric] > self.best.metrics.get(self.metric, -np.inf):
            self.best = _Best(params=_snapshot(params), epoch=epoch, metrics=metrics)
            self.checks_without_gain = 0
            return False
        self.checks_without_gain += 1
        return self.checks_without_gain >= self.patience


def _validator(
    model: SASRec, dataset: ProcessedDataset, index: ItemIndex, config: SASRecConfig
) -> Callable[[Params], dict[str, float]] | None:
    """Validation-split metrics of given parameters, or ``None`` without a validation split."""
    if not dataset.valid:
        return None
    histories = encode_histories(dataset.valid, index, int(config.max_length))
    candidates = encode_candidates(dataset.valid, index)
    positives = np.zeros(len(dataset.valid), dtype=np.int64)

    def validate(params: Params) -> dict[str, float]:
        scores = candidate_scores(model, params, histories, candidates, config.eval_batch_size)
        return ranking_metrics(scores, positives)

    return validate
