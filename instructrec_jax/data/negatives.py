"""Seeded uniform negative sampling among items a user never interacted with."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from collections.abc import Set as AbstractSet

from instructrec_jax.data.seeding import seeded_hash


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
