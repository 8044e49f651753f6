"""Leave-one-out examples and the seeded item-level split for product search."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from instructrec_jax.data.seeding import seeded_hash
from instructrec_jax.data.types import EvalExample, SplitName, UserSequence

NegativeSampler = Callable[[str, int, int], tuple[str, ...]]


def split_seed(seed: int, split: SplitName) -> int:
    """The negative-sampling seed of a split, derived from the dataset seed, so the
    validation and test candidates are independent draws."""
    return seeded_hash(seed, "split-negatives", split) % (2**31)


def leave_one_out(
    sequences: Mapping[str, UserSequence],
    split: SplitName,
    max_history: int,
    num_negatives: int,
    seed: int,
    sample_negatives: NegativeSampler,
) -> list[EvalExample]:
    """One example per user: target = last item (``test``) or second-to-last (``valid``).

    Args:
      sequences: user id -> chronological sequence (length >= 3).
      split: "valid" or "test".
      max_history: the history keeps the last ``max_history`` items before the target.
      num_negatives: negatives per example.
      seed: dataset seed; the split's sampling seed is ``split_seed(seed, split)``.
      sample_negatives: (user_id, n, seed) -> negatives never interacted with.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    target_position = -1 if split == "test" else -2
    sampling_seed = split_seed(seed, split)
    examples = []
    for user_id, sequence in sequences.items():
        items = sequence.item_ids
        position = len(items) + target_position
        target = items[position]
        examples.append(
            EvalExample(
                user_id=user_id,
                split=split,
                history=items[max(0, position - max_history) : position],
                target=target,
                negatives=sample_negatives(user_id, num_negatives, sampling_seed),
                review=sequence.reviews.get(target),
            )
        )
    return examples


def item_level_split(
    item_ids: Collection[str], fractions: tuple[float, float, float], seed: int
) -> dict[str, SplitName]:
    """Assign each item to train/valid/test by a seeded shuffle (product search).

    The first ``round(fractions[0] * n)`` items of the seeded order go to train, the next
    ``round(fractions[1] * n)`` to valid, the rest to test. Returned sorted by item id.
    """
    order = sorted(item_ids, key=lambda item: (seeded_hash(seed, "item-split", item), item))
    train_count = round(fractions[0] * len(order))
    valid_count = min(round(fractions[1] * len(order)), len(order) - train_count)
    assignment: dict[str, SplitName] = {}
    for rank, item_id in enumerate(order):
        if rank < train_count:
            assignment[item_id] = "train"
        elif rank < train_count + valid_count:
            assignment[item_id] = "valid"
        else:
            assignment[item_id] = "test"
    return dict(sorted(assignment.items()))
