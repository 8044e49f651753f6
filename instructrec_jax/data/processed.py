"""``ProcessedDataset``: the data layer's product, consumed by every later stage.

Leave-one-out: in each user's chronological sequence the last item is the test target,
the second-to-last the validation target and ``items[:-2]`` the training part.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Iterator
from pathlib import Path

from instructrec_jax.data.config import PrepareConfig
from instructrec_jax.data.negatives import CatalogNegativeSampler
from instructrec_jax.data.types import EvalExample, Item, SplitName, TrainExample, UserSequence


@dataclasses.dataclass(frozen=True)
class ProcessedDataset:
    """A filtered, ordered and split dataset.

    Attributes:
      name: dataset name (``ml-100k``, ``amazon2018-Video_Games``, ``synthetic``, ...).
      catalog: item id -> item, only items that survive filtering, sorted by id.
      sequences: user id -> full chronological sequence, sorted by user id.
      valid: one example per user (target = second-to-last item), in user order.
      test: one example per user (target = last item), in user order.
      item_split: item id -> "train" | "valid" | "test" (product search, seeded).
      config: the configuration that produced it.
      stats: counts after each preprocessing step (see ``pipeline.prepare``).
      fingerprint: hex digest of the dataset name, raw inputs and config.
    """

    name: str
    catalog: dict[str, Item]
    sequences: dict[str, UserSequence]
    valid: list[EvalExample]
    test: list[EvalExample]
    item_split: dict[str, SplitName]
    config: PrepareConfig
    stats: dict
    fingerprint: str

    def train_examples(self) -> Iterator[TrainExample]:
        """Every (history prefix -> next item) inside ``items[:-2]`` of each user.

        Prefixes are non-empty (the first training item has no history to predict it
        from) and truncated to the last ``config.max_history`` items. Users in id order,
        then positions in time order.
        """
        max_history = self.config.max_history
        for user_id, sequence in self.sequences.items():
            training_part = sequence.item_ids[:-2]
            for position in range(1, len(training_part)):
                target = training_part[position]
                yield TrainExample(
                    user_id=user_id,
                    history=training_part[max(0, position - max_history) : position],
                    target=target,
                    review=sequence.reviews.get(target),
                )

    def train_item_counts(self) -> dict[str, int]:
        """Item popularity counted over the training parts only (``items[:-2]``).

        Every catalog item is a key (0 when it only occurs as a held-out target).
        """
        counts = dict.fromkeys(self.catalog, 0)
        for sequence in self.sequences.values():
            for item_id in sequence.item_ids[:-2]:
                counts[item_id] += 1
        return counts

    def sample_negatives(
        self, user_id: str, n: int, seed: int, exclude: Collection[str] = ()
    ) -> tuple[str, ...]:
        """``n`` distinct items drawn uniformly (seeded) among catalog items that
        ``user_id`` never interacted with, that share no title with an item they
        interacted with, and that are not in ``exclude``.

        Same (user, n, seed, exclude) -> same tuple. Raises ``KeyError`` for an unknown
        user and ``ValueError`` when fewer than ``n`` items are allowed.
        """
        interacted = self.sequences[user_id].item_ids
        return self._negative_sampler.sample(user_id, interacted, n, seed, exclude)

    def split_examples(self, split: SplitName) -> list[EvalExample]:
        """The validation or test examples by split name."""
        if split == "valid":
            return self.valid
        if split == "test":
            return self.test
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")

    def save(self, directory: str | Path) -> Path:
        """Write the dataset as JSON lines plus ``manifest.json`` (see ``storage``)."""
        from instructrec_jax.data.storage import save_processed

        return save_processed(self, directory)

    @functools.cached_property
    def _negative_sampler(self) -> CatalogNegativeSampler:
        return CatalogNegativeSampler(self.catalog)
