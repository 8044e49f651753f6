"""Typed records shared by the data layer and everything downstream of it.

These are the contract between `instructrec_jax.data` (which produces them) and the
instruction generator, the evaluation job and the baselines (which consume them).
Everything is a frozen dataclass of plain Python values so it can be written as JSON
lines without pickle and compared in tests.

Identifiers are strings everywhere (raw ids from the source file, e.g. ml-100k's
``"242"`` or an Amazon ASIN), never consecutive integers assigned along user sequences:
that assignment leaks the test item (a trap in P5's code).
Timestamps are integer seconds since the Unix epoch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Literal

SplitName = Literal["train", "valid", "test"]


@dataclasses.dataclass(frozen=True)
class Item:
    """One catalog entry.

    Attributes:
      item_id: the source's raw id.
      title: cleaned, non-empty title (HTML entities decoded, whitespace collapsed).
      categories: category labels, coarse to fine (Amazon) or genres (MovieLens).
      attributes: optional extra fields as text: ``brand``, ``price``, ``year``,
        ``description``; absent keys are simply missing.
    """

    item_id: str
    title: str
    categories: tuple[str, ...] = ()
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Interaction:
    """One (user, item, time) event read from a raw log.

    Attributes:
      user_id: the source's raw user id.
      item_id: the source's raw item id.
      timestamp: seconds since the epoch.
      rating: explicit rating if the source has one.
      review: the user's review text of the item ("summary. text" for Amazon), if any.
    """

    user_id: str
    item_id: str
    timestamp: int
    rating: float | None = None
    review: str | None = None


@dataclasses.dataclass(frozen=True)
class RawDataset:
    """What a reader yields: a catalog and a stream of interactions, not yet filtered.

    ``interactions`` may be a one-shot iterator (readers stream large files).

    Attributes:
      name: dataset name, e.g. ``ml-100k`` or ``amazon2018-Video_Games``.
      items: the raw catalog (titles not yet cleaned; items may lack a title).
      interactions: the raw event stream.
      source_digest: hex digest identifying the raw inputs (file hashes, generator
        parameters); ``None`` makes ``prepare`` hash the content as it streams.
      bad_lines: malformed lines skipped per file (``skip_bad_lines``), filled while
        ``interactions`` is consumed.
    """

    name: str
    items: Mapping[str, Item]
    interactions: Iterable[Interaction]
    source_digest: str | None = None
    bad_lines: MutableMapping[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class UserSequence:
    """A user's full chronological sequence after filtering (oldest first).

    Attributes:
      user_id: raw user id.
      item_ids: items in interaction order; the last is the test target and the
        second-to-last the validation target (leave-one-out).
      timestamps: seconds since the epoch, aligned with ``item_ids``.
      reviews: review text per item id, only for items the user reviewed.
    """

    user_id: str
    item_ids: tuple[str, ...]
    timestamps: tuple[int, ...]
    reviews: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TrainExample:
    """One (history prefix -> next item) pair from the training part of a sequence.

    Attributes:
      user_id: raw user id.
      history: the preceding items, oldest first, truncated to ``max_history``.
      target: the next item id.
      review: the user's review of ``target``, if any (the teacher uses it for I1).
    """

    user_id: str
    history: tuple[str, ...]
    target: str
    review: str | None = None


@dataclasses.dataclass(frozen=True)
class EvalExample:
    """A validation or test example with its fixed candidate list.

    Attributes:
      user_id: raw user id.
      split: "valid" or "test".
      history: preceding items, oldest first, truncated to ``max_history``.
      target: the held-out item id (the single positive).
      negatives: item ids sampled uniformly (seeded) among items the user never
        interacted with; ``len(negatives)`` is the protocol's negative count (9).
      review: the user's review of ``target``, if any.
    """

    user_id: str
    split: SplitName
    history: tuple[str, ...]
    target: str
    negatives: tuple[str, ...]
    review: str | None = None

    @property
    def candidates(self) -> tuple[str, ...]:
        """Positive first, then negatives. Renderers shuffle this order with a seed."""
        return (self.target, *self.negatives)
