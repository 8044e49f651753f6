"""Shape buckets: round every dimension of a scoring batch up to one of a few sizes.

A jitted function compiles one program per distinct input shape. Evaluation batches differ
in instruction length, candidate count and title length, so without buckets a job would
compile a new program for nearly every batch. Rounding each dimension up to a bucket caps
the number of programs at the product of the bucket counts actually used (a handful).

Padding is semantically neutral: token id 0 is padding everywhere (masked in attention,
excluded from likelihoods), padded candidates score 0 and padded batch rows are dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from instructrec_jax.tasks.vocab import EOS_ID, PAD_ID

__all__ = [
    "EOS_ID",
    "PAD_ID",
    "ScoringBuckets",
    "pad_array",
    "pad_instruction_rows",
    "pad_token_rows",
    "round_up_to_bucket",
    "used_length",
]


def round_up_to_bucket(value: int, buckets: Sequence[int], what: str) -> int:
    """Smallest bucket >= ``value``; beyond the largest bucket, the next multiple of it.

    Args:
      value: the actual size (>= 0).
      buckets: increasing positive sizes.
      what: the dimension's name, for error messages.
    """
    if value < 0:
        raise ValueError(f"{what}: negative size {value}")
    if not buckets or any(b <= 0 for b in buckets) or list(buckets) != sorted(set(buckets)):
        raise ValueError(f"{what}: buckets must be increasing positive ints, got {buckets}")
    for bucket in buckets:
        if value <= bucket:
            return int(bucket)
    largest = int(buckets[-1])
    return -(-value // largest) * largest


@dataclasses.dataclass(frozen=True)
class ScoringBuckets:
    """Allowed sizes per dimension of a scoring call.

    Attributes:
      input_lengths: instruction token lengths L (inputs longer than the largest are an
        error: truncate them when tokenizing).
      target_lengths: candidate title token lengths T (EOS included).
      candidate_counts: candidates per instruction N in one call; larger N is split into
        chunks of ``candidate_counts[-1]``.
      batch_size: instructions per call B (the last batch is padded up to it); must be a
        multiple of the mesh's data-axis size when sharded.
    """

    input_lengths: tuple[int, ...] = (32, 64, 128, 256, 512)
    target_lengths: tuple[int, ...] = (8, 16, 32, 64)
    candidate_counts: tuple[int, ...] = (1, 2, 5, 10, 20)
    batch_size: int = 8

    def __post_init__(self) -> None:
        for name in ("input_lengths", "target_lengths", "candidate_counts"):
            round_up_to_bucket(0, getattr(self, name), name)
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")

    @property
    def max_candidates_per_call(self) -> int:
        """Chunk size for the candidate axis."""
        return int(self.candidate_counts[-1])

    def input_length(self, length: int) -> int:
        """Bucketed instruction length; refuses inputs longer than the largest bucket."""
        if length > self.input_lengths[-1]:
            raise ValueError(
                f"instruction of {length} tokens exceeds the largest input bucket "
                f"{self.input_lengths[-1]}; truncate inputs when tokenizing"
            )
        return round_up_to_bucket(length, self.input_lengths, "input length")

    def target_length(self, length: int) -> int:
        """Bucketed candidate length (multiples of the largest bucket beyond it)."""
        return round_up_to_bucket(length, self.target_lengths, "target length")

    def candidate_count(self, count: int) -> int:
        """Bucketed candidate count of one chunk (at most ``max_candidates_per_call``)."""
        return round_up_to_bucket(count, self.candidate_counts, "candidate count")


def pad_token_rows(
    rows: Sequence[Sequence[int]], length: int, num_rows: int | None = None
) -> np.ndarray:
    """Right-pad token id lists with 0 into an int32 array [num_rows, length]; rows beyond
    ``len(rows)`` (default: none) are all padding."""
    num_rows = len(rows) if num_rows is None else num_rows
    if num_rows < len(rows):
        raise ValueError(f"{len(rows)} rows do not fit in {num_rows}")
    out = np.full((num_rows, length), PAD_ID, dtype=np.int32)
    for i, row in enumerate(rows):
        if len(row) > length:
            raise ValueError(f"row {i} has {len(row)} tokens, more than the padded {length}")
        out[i, : len(row)] = row
    return out


def pad_instruction_rows(rows: Sequence[Sequence[int]], length: int, num_rows: int) -> np.ndarray:
    """:func:`pad_token_rows` for encoder inputs: the ``num_rows - len(rows)`` filler rows
    hold a lone EOS, so no attention row is fully masked (their outputs are dropped)."""
    return pad_token_rows([*rows, *([[EOS_ID]] * (num_rows - len(rows)))], length)


def pad_array(array: np.ndarray, shape: Sequence[int], fill: int = PAD_ID) -> np.ndarray:
    """Pad ``array`` at the end of every axis up to ``shape`` with ``fill``."""
    if len(shape) != array.ndim or any(s < a for s, a in zip(shape, array.shape)):
        raise ValueError(f"cannot pad shape {array.shape} to {tuple(shape)}")
    out = np.full(tuple(shape), fill, dtype=array.dtype)
    out[tuple(slice(0, n) for n in array.shape)] = array
    return out


def used_length(tokens: np.ndarray) -> int:
    """Length of the longest row up to its last non-padding token (0 for all padding)."""
    nonzero = np.asarray(tokens) != PAD_ID
    if not nonzero.any():
        return 0
    flat = nonzero.reshape(-1, nonzero.shape[-1])
    last = nonzero.shape[-1] - np.argmax(flat[:, ::-1], axis=1)
    return int(np.where(flat.any(axis=1), last, 0).max())
