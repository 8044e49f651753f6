"""Training negatives: the data layer's draws, with each user's forbidden set memoised.

``ProcessedDataset.sample_negatives`` rebuilds the user's forbidden set (interacted items
plus items sharing their titles) on every call, which dominates generation time when it is
called once per instruction. ``MemoisedNegativeSampler`` builds that set once per user and
then runs the same seeded draw (``instructrec_jax.data.negatives``), so it returns exactly
what ``dataset.sample_negatives`` returns (checked by the tests).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from instructrec_jax.data.negatives import CatalogNegativeSampler
from instructrec_jax.data.seeding import seeded_hash
from instructrec_jax.data.types import Item, UserSequence


class SamplingDataset(Protocol):
    """What the sampler needs from a ProcessedDataset."""

    catalog: Mapping[str, Item]
    sequences: Mapping[str, UserSequence]

    def sample_negatives(
        self, user_id: str, n: int, seed: int, exclude: Collection[str] = ()
    ) -> tuple[str, ...]:
        """The reference implementation."""
        ...


class MemoisedNegativeSampler:
    """``sample_negatives`` with the per-user forbidden set computed once per user."""

    def __init__(self, dataset: SamplingDataset) -> None:
        self._dataset = dataset
        self._catalog_sampler = CatalogNegativeSampler(dataset.catalog)
        self._item_ids: Sequence[str] = self._catalog_sampler.item_ids
        self._forbidden: dict[str, tuple[frozenset[str], int]] = {}

    def _blocked(self, user_id: str) -> tuple[frozenset[str], int]:
        cached = self._forbidden.get(user_id)
        if cached is None:
            interacted = self._dataset.sequences[user_id].item_ids
            blocked = frozenset(self._catalog_sampler.forbidden(interacted))
            allowed = len(self._item_ids) - len(blocked & self._catalog_sampler.item_set)
            cached = (blocked, allowed)
            if len(self._forbidden) > 4096:  # users arrive grouped: a small memo suffices
                self._forbidden.clear()
            self._forbidden[user_id] = cached
        return cached

    def sample_negatives(
        self, user_id: str, n: int, seed: int, exclude: Collection[str] = ()
    ) -> tuple[str, ...]:
        """Same result as ``dataset.sample_negatives(user_id, n, seed, exclude)``."""
        if exclude:
            return self._dataset.sample_negatives(user_id, n, seed, exclude)
        blocked, allowed = self._blocked(user_id)
        if n < 0 or n > allowed or 2 * n > allowed:  # errors and dense draws: reference path
            return self._dataset.sample_negatives(user_id, n, seed)
        rng = random.Random(seeded_hash(seed, "negatives", user_id))
        item_ids = self._item_ids
        drawn: list[str] = []
        while len(drawn) < n:
            candidate = item_ids[rng.randrange(len(item_ids))]
            if candidate in blocked or candidate in drawn:
                continue
            drawn.append(candidate)
        return tuple(drawn)
