"""Integer arrays for the sequential baselines: training windows, left-padded histories."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.item_index import PADDING_INDEX, ItemIndex


@dataclasses.dataclass(frozen=True)
class TrainingWindows:
    """Next-item training pairs cut from the training parts of the user sequences.

    Attributes:
      inputs: int32 [num_windows, L], left-padded item indices.
      targets: int32 [num_windows, L], ``targets[w, t]`` is the item following
        ``inputs[w, t]`` (0 where ``inputs`` is padding).
    """

    inputs: np.ndarray
    targets: np.ndarray

    @property
    def num_targets(self) -> int:
        """Number of (non-padding) next-item targets."""
        return int((self.targets != PADDING_INDEX).sum())


def left_pad(indices: np.ndarray, length: int) -> np.ndarray:
    """The last ``length`` entries of 1-D ``indices``, left-padded with 0 to ``length``."""
    kept = indices[-length:] if length else indices[:0]
    padded = np.zeros(length, dtype=np.int32)
    if kept.size:
        padded[length - kept.size :] = kept
    return padded


def training_windows(
    training_parts: Iterable[Sequence[str]], index: ItemIndex, max_length: int
) -> TrainingWindows:
    """Cut every training sequence into windows whose targets do not overlap.

    A sequence ``s`` of n items has targets ``s[1:]``. Walking back from the end, each
    window holds up to ``max_length`` consecutive targets and the items just before
    them as inputs, so every target is predicted exactly once per epoch, from at most
    ``max_length`` items of context (the most recent window gets the longest history,
    as in the paper; older windows re-use the rest of the sequence instead of dropping it).

    Args:
      training_parts: per user, the training part (``items[:-2]``), oldest first.
      index: raw id -> integer id.
      max_length: window length L.
    """
    inputs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for sequence in training_parts:
        encoded = index.indices(sequence)
        end = encoded.size
        while end > 1:
            window = encoded[max(0, end - max_length - 1) : end]
            inputs.append(left_pad(window[:-1], max_length))
            targets.append(left_pad(window[1:], max_length))
            end -= max_length
    if not inputs:
        raise ValueError("no training sequence has two or more items: nothing to train on")
    return TrainingWindows(np.stack(inputs), np.stack(targets))


def encode_histories(
    examples: Sequence[EvalExample], index: ItemIndex, max_length: int
) -> np.ndarray:
    """Int32 [len(examples), max_length]: each example's history, left-padded."""
    rows = np.zeros((len(examples), max_length), dtype=np.int32)
    for row, example in enumerate(examples):
        rows[row] = left_pad(_indices_or_error(example, example.history, index), max_length)
    return rows


def encode_candidates(examples: Sequence[EvalExample], index: ItemIndex) -> np.ndarray:
    """Int32 [len(examples), num_candidates] of candidate indices (same count per example)."""
    return np.stack([_indices_or_error(example, example.candidates, index) for example in examples])


def _indices_or_error(
    example: EvalExample, item_ids: Sequence[str], index: ItemIndex
) -> np.ndarray:
    try:
        return index.indices(item_ids)
    except KeyError as error:
        raise KeyError(
            f"{example.split} example of user {example.user_id!r}: {error.args[0]}"
        ) from None


def item_windows(
    training_parts: Iterable[Sequence[str]], index: ItemIndex, max_length: int
) -> np.ndarray:
    """Int32 [num_windows, max_length]: every training sequence cut into consecutive,
    non-overlapping runs of up to ``max_length`` items (from the end back, so the most
    recent run is the longest), left-padded; runs of a single item are dropped (a Cloze
    model needs context). For BERT4Rec, which predicts masked items inside a window.
    """
    windows = []
    for sequence in training_parts:
        encoded = index.indices(sequence)
        for end in range(encoded.size, 1, -max_length):
            run = encoded[max(0, end - max_length) : end]
            if run.size > 1:
                windows.append(left_pad(run, max_length))
    if not windows:
        raise ValueError("no training sequence has two or more items: nothing to train on")
    return np.stack(windows)
