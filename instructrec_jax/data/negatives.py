"""Seeded uniform negative sampling among items a user never interacted with.

Candidates are ranked by their titles, so an item that merely shares the title of an item
the user interacted with (MovieLens lists some films twice; Amazon has one title under
several ASINs) would be indistinguishable from the positive. ``CatalogNegativeSampler``
therefore also excludes every item whose title equals the title of an interacted item.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

from instructrec_jax.data.seeding import seeded_hash
from instructrec_jax.data.types import Item


def sample_uniform_negatives(
    item_ids: Sequence[str],
    item_set: AbstractSet[str],
    forbidden: Collection[str],
    n: int,
    seed: int,
    user_id: str,
) -> tuple[str, ...]:
    """Draw ``n`` distinct items uniformly from ``item_ids`` minus ``forbidden``.

    Deterministic: the draw depends only on (``seed``, ``user_id``) and the contents of
    ``item_ids`` (pass them in a fixed order, e.g. sorted) and ``forbidden``.

    Args:
      item_ids: the catalog, in a fixed order, without duplicates.
      item_set: the same items as a set (callers keep one per catalog).
      forbidden: items that must not be drawn (the user's interactions plus extras).
      n: how many negatives.
      seed: random seed.
      user_id: mixed into the seed so users get independent draws.

    Returns:
      ``n`` item ids in draw order.

    Raises:
      ValueError: fewer than ``n`` items are allowed.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    forbidden_set = set(forbidden)
    allowed_count = len(item_ids) - len(forbidden_set & item_set)
    if n > allowed_count:
        raise ValueError(
            f"user {user_id!r}: asked for {n} negatives but only {allowed_count} items "
            "are not interacted with or excluded"
        )
    rng = random.Random(seeded_hash(seed, "negatives", user_id))
    if 2 * n > allowed_count:  # dense draw: enumerate the allowed items
        allowed = [item for item in item_ids if item not in forbidden_set]
        return tuple(rng.sample(allowed, n))
    drawn: list[str] = []
    taken: set[str] = set()
    while len(drawn) < n:  # rejection sampling: expected < 2 tries per draw
        candidate = item_ids[rng.randrange(len(item_ids))]
        if candidate in forbidden_set or candidate in taken:
            continue
        taken.add(candidate)
        drawn.append(candidate)
    return tuple(drawn)


class CatalogNegativeSampler:
    """Negative sampling over one catalog (sorted ids, id set and same-title groups kept).

    Args:
      catalog: item id -> item of the processed dataset.
    """

    def __init__(self, catalog: Mapping[str, Item]) -> None:
        self.item_ids = tuple(sorted(catalog))
        self.item_set = frozenset(self.item_ids)
        by_title: dict[str, list[str]] = {}
        for item_id in self.item_ids:
            by_title.setdefault(catalog[item_id].title, []).append(item_id)
        self.same_title = {
            item_id: tuple(group)
            for group in by_title.values()
            if len(group) > 1
            for item_id in group
        }

    def forbidden(self, interacted: Iterable[str], exclude: Iterable[str] = ()) -> set[str]:
        """Interacted items, items sharing their titles, and ``exclude``."""
        blocked = set(exclude)
        for item_id in interacted:
            blocked.add(item_id)
            blocked.update(self.same_title.get(item_id, ()))
        return blocked

    def sample(
        self,
        user_id: str,
        interacted: Iterable[str],
        n: int,
        seed: int,
        exclude: Iterable[str] = (),
    ) -> tuple[str, ...]:
        """``n`` distinct negatives for ``user_id``, uniform and seeded (see module doc)."""
        blocked = self.forbidden(interacted, exclude)
        return sample_uniform_negatives(self.item_ids, self.item_set, blocked, n, seed, user_id)
