"""Chronological order of a user's interactions, with a seeded tie rule.

Interactions of one user that share a timestamp are ordered by
``seeded_hash(seed, user_id, item_id)``, never by item id: ordering ties by id leaks
information (ids often correlate with release date or popularity) and inflated a peer's
NDCG by about 20%. This matters a lot on MovieLens-100K, where about 76% of ratings share
their (user, timestamp) with another rating of the same user, so the rule decides many
leave-one-out targets; changing ``seed`` changes those targets.
"""

from __future__ import annotations

from collections.abc import Sequence

from instructrec_jax.data.seeding import seeded_hash


def tie_key(seed: int, user_id: str, item_id: str) -> int:
    """Secondary sort key among one user's interactions with the same timestamp."""
    return seeded_hash(seed, "tie", user_id, item_id)


def chronological(
    seed: int, user_id: str, events: Sequence[tuple[str, int]]
) -> list[tuple[str, int]]:
    """Sort one user's (item_id, timestamp) events oldest first, ties by ``tie_key``."""
    return sorted(events, key=lambda event: (event[1], tie_key(seed, user_id, event[0])))


def tied_fraction(timestamps_per_user: Sequence[Sequence[int]]) -> float:
    """Share of interactions whose (user, timestamp) is shared with another interaction."""
    total = 0
    tied = 0
    for timestamps in timestamps_per_user:
        counts: dict[int, int] = {}
        for timestamp in timestamps:
            counts[timestamp] = counts.get(timestamp, 0) + 1
        total += len(timestamps)
        tied += sum(count for count in counts.values() if count > 1)
    return tied / total if total else 0.0
