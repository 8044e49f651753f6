"""The training loop every trained baseline shares: shuffled batches, Adam, early stopping.

A baseline supplies its training rows as a tuple of numpy arrays with one row per training
case (e.g. SASRec's ``(inputs, targets)`` windows, BPR's ``(users, items)`` pairs), a loss
``(params, batch, key) -> scalar`` and a validation function; the loop trains epoch by
epoch, checks validation every ``eval_every`` epochs and keeps the parameters of the best
check. Row 0 of every embedding table is padding: the rows that fill up the last batch are
all zeros, and every loss ignores rows whose target is 0.

Randomness: the seed drives the row order of every epoch (numpy) and the per-step keys
(XLA's RngBitGenerator, "rbg": seeded and deterministic like threefry, but much faster to
compile on CPU), so a fit is reproducible for a given (data, config, seed) and platform.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import numpy as np
import optax
from tqdm.auto import tqdm

from instructrec_jax.evaluation.baselines.training_config import TrainingConfig

logger = logging.getLogger(__name__)

Params = Any  # a flax parameter pytree
Batch = tuple[jax.Array, ...]
# A loss must be hashable (a frozen dataclass holding the flax module), so that the
# compiled train step is cached per (loss, optimizer settings) across fits.
LossFn = Callable[[Params, Batch, jax.Array], jax.Array]
TrainStep = Callable[[Params, Any, Batch, jax.Array], tuple[Params, Any, jax.Array]]
Validator = Callable[[Params], dict[str, float]]


@dataclasses.dataclass(frozen=True)
class LoopResult:
    """What training produced.

    Attributes:
      params: the kept (best-validation) parameters, as numpy arrays.
      best_epoch: epoch of the kept parameters.
      epochs_run: epochs actually trained.
      valid_metrics: validation metrics of the kept parameters (empty without a
        validation split).
      history: one dict per validation check: epoch, mean training loss, metrics.
      train_seconds: wall-clock seconds of the training loop (compilation included).
    """

    params: Params
    best_epoch: int
    epochs_run: int
    valid_metrics: dict[str, float]
    history: list[dict[str, float]]
    train_seconds: float


def shuffled_batches(
    num_rows: int, batch_size: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Row indices per batch, a fresh permutation per call; the last batch is padded
    with -1 (rows to mask) so every batch has exactly ``batch_size`` entries."""
    order = rng.permutation(num_rows)
    num_batches = -(-num_rows // batch_size)
    padded = np.full(num_batches * batch_size, -1, dtype=np.int64)
    padded[:num_rows] = order
    yield from padded.reshape(num_batches, batch_size)


def gather_rows(arrays: Sequence[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """``array[rows]`` for each array, with all-zero rows where ``rows`` is -1."""
    keep = rows >= 0
    return tuple(
        np.where(keep.reshape(-1, *([1] * (array.ndim - 1))), array[rows], 0) for array in arrays
    )


@functools.lru_cache(maxsize=32)
def make_train_step(
    loss_fn: LossFn, learning_rate: float, adam_b2: float
) -> tuple[optax.GradientTransformation, TrainStep]:
    """Adam and a jitted ``(params, opt_state, batch, key) -> (params, opt_state, loss)``;
    cached so repeated fits of one architecture compile once per process."""
    optimizer = optax.adam(learning_rate, b1=0.9, b2=adam_b2)

    def step(
        params: Params, opt_state: Any, batch: Batch, key: jax.Array
    ) -> tuple[Params, Any, jax.Array]:
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return optimizer, jax.jit(step, donate_argnums=(0, 1))


def run_epoch(
    train_step: TrainStep,
    params: Params,
    opt_state: Any,
    arrays: Sequence[np.ndarray],
    batch_size: int,
    rng: np.random.Generator,
    key: jax.Array,
) -> tuple[Params, Any, float]:
    """One shuffled pass over the rows of ``arrays``; returns the new state and the mean
    batch loss."""
    losses = []
    for step, rows in enumerate(shuffled_batches(arrays[0].shape[0], batch_size, rng)):
        params, opt_state, loss = train_step(
            params, opt_state, gather_rows(arrays, rows), jax.random.fold_in(key, step)
        )
        losses.append(loss)
    return params, opt_state, float(np.mean(jax.device_get(losses)))


def snapshot(params: Params) -> Params:
    """A host copy of ``params`` (the device buffers are donated to the next step)."""
    return jax.tree.map(lambda leaf: np.array(leaf, copy=True), params)


@dataclasses.dataclass(frozen=True)
class _Best:
    params: Params
    epoch: int
    metrics: dict[str, float]


class EarlyStopping:
    """Keeps the parameters of the best validation check; says when to stop."""

    def __init__(self, metric: str, patience: int) -> None:
        self.metric = metric
        self.patience = patience
        self.best = _Best(params=None, epoch=0, metrics={})
        self.checks_without_gain = 0

    def should_stop(self, epoch: int, metrics: dict[str, float], params: Params) -> bool:
        """Record a check; True once ``patience`` checks in a row brought no gain."""
        if metrics[self.metric] > self.best.metrics.get(self.metric, -np.inf):
            self.best = _Best(params=snapshot(params), epoch=epoch, metrics=metrics)
            self.checks_without_gain = 0
            return False
        self.checks_without_gain += 1
        return self.checks_without_gain >= self.patience

    def keep_last(self, epoch: int, params: Params) -> None:
        """Without validation: keep the last parameters."""
        self.best = _Best(params=snapshot(params), epoch=epoch, metrics={})


def train_with_early_stopping(
    loss_fn: LossFn,
    params: Params,
    arrays: Sequence[np.ndarray],
    config: TrainingConfig,
    validate: Validator | None,
    seed: int,
    progress: bool = True,
    name: str = "baseline",
) -> LoopResult:
    """Train ``params`` on ``arrays`` with Adam; early-stop on ``validate``.

    Args:
      loss_fn: hashable ``(params, batch, key) -> mean loss``; ``batch`` holds one slice
        of every array of ``arrays`` (``config.batch_size`` rows).
      params: initial parameters.
      arrays: training rows, equal first dimension.
      config: learning rate, batch size, epochs, patience, checks, monitored metric.
      validate: parameters -> validation metrics, or ``None`` (keep the last parameters).
      seed: seeds the row order and the per-step keys (dropout, negatives, masks).
      progress: show a progress bar.
      name: the bar's and the log's label.
    """
    if arrays[0].shape[0] == 0:
        raise ValueError(f"{name}: no training rows")
    train_key = jax.random.key(seed, impl="rbg")
    optimizer, train_step = make_train_step(loss_fn, config.learning_rate, config.adam_b2)
    opt_state = optimizer.init(params)
    rng = np.random.default_rng(seed)
    stopper = EarlyStopping(config.monitor_metric, config.patience)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    epochs = tqdm(range(1, config.max_epochs + 1), desc=name, disable=not progress)
    epoch = 0
    for epoch in epochs:
        epoch_key = jax.random.fold_in(train_key, epoch)
        params, opt_state, mean_loss = run_epoch(
            train_step, params, opt_state, arrays, config.batch_size, rng, epoch_key
        )
        if validate is None or (epoch % config.eval_every and epoch != config.max_epochs):
            continue
        metrics = validate(params)
        history.append({"epoch": epoch, "loss": mean_loss, **metrics})
        monitored = f"{metrics[config.monitor_metric]:.4f}"
        epochs.set_postfix({"loss": f"{mean_loss:.4f}", config.monitor_metric: monitored})
        logger.info("%s epoch %d loss %.4f valid %s", name, epoch, mean_loss, metrics)
        if stopper.should_stop(epoch, metrics, params):
            break
    if validate is None:
        stopper.keep_last(epoch, params)
    best = stopper.best
    return LoopResult(
        params=best.params,
        best_epoch=best.epoch,
        epochs_run=epoch,
        valid_metrics=best.metrics,
        history=history,
        train_seconds=time.perf_counter() - start,
    )
