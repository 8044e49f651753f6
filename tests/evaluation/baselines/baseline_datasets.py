"""Hand-made datasets for the baseline tests, built through the real ``prepare``."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from instructrec_jax.data import Interaction, Item, PrepareConfig, ProcessedDataset, RawDataset
from instructrec_jax.data import prepare as prepare_raw
from instructrec_jax.evaluation.baselines import GRU4RecConfig, SASRecConfig


def dataset_from_sequences(
    sequences: Mapping[str, Sequence[str]], num_negatives: int = 9, name: str = "handmade"
) -> ProcessedDataset:
    """A ProcessedDataset whose users have exactly ``sequences`` (oldest first).

    Timestamps strictly increase along each sequence, so the order is the given one;
    ``k_core=1`` keeps every user and item.
    """
    item_ids = sorted({item for items in sequences.values() for item in items})
    catalog = {item: Item(item_id=item, title=f"Item {item}") for item in item_ids}
    interactions = [
        Interaction(user_id=user, item_id=item, timestamp=1_000 + 10 * step)
        for user, items in sequences.items()
        for step, item in enumerate(items)
    ]
    raw = RawDataset(name=name, items=catalog, interactions=interactions, source_digest=name)
    config = PrepareConfig(k_core=1, num_negatives=num_negatives, seed=0)
    return prepare_raw(raw, config)


def chain_sequences(num_users: int, num_items: int, seed: int) -> dict[str, list[str]]:
    """Users walk a cycle of items: the next item is always (previous + 1) mod num_items,
    starting from a random item, for 6..12 steps. Popularity cannot predict it; a
    sequential model can."""
    rng = random.Random(seed)
    sequences = {}
    for user in range(num_users):
        start = rng.randrange(num_items)
        length = rng.randint(6, 12)
        sequences[f"u{user:04d}"] = [f"c{(start + step) % num_items:03d}" for step in range(length)]
    return sequences


def small_sasrec_config(**overrides: object) -> SASRecConfig:
    """One small architecture for every SASRec test (the jitted train step compiles once
    per process): width 32, window 8, 2 blocks, 1 head."""
    values = {"hidden_size": 32, "max_length": 8, "max_epochs": 20, "patience": 20}
    values.update(overrides)
    return SASRecConfig(**values)


def small_gru4rec_config(**overrides: object) -> GRU4RecConfig:
    """One small GRU4Rec for every test: embedding 16, hidden 32, window 8."""
    values = {
        "embedding_size": 16,
        "hidden_size": 32,
        "max_length": 8,
        "dropout_rate": 0.1,
        "learning_rate": 1e-2,
        "max_epochs": 20,
        "patience": 20,
    }
    values.update(overrides)
    return GRU4RecConfig(**values)
