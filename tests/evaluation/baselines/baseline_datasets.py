"""Hand-made datasets for the baseline tests, built through the real ``prepare``."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from instructrec_jax.data import (
    EvalExample,
    Interaction,
    Item,
    PrepareConfig,
    ProcessedDataset,
    RawDataset,
)
from instructrec_jax.data import prepare as prepare_raw
from instructrec_jax.evaluation.baselines import (
    BERT4RecConfig,
    BPRConfig,
    DSSMConfig,
    GRU4RecConfig,
    SASRecConfig,
    TEMConfig,
)
from instructrec_jax.evaluation.baselines.queries import text_corpus
from instructrec_jax.instructions.teachers import HeuristicTeacher
from instructrec_jax.tasks.vocab import train_vocabulary


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


def cluster_sequences(
    num_users: int, num_groups: int, items_per_group: int, seed: int
) -> dict[str, list[str]]:
    """Each user belongs to a group and interacts, in random order, with all but one or
    two of the group's items only: no order to learn, but who likes what (what BPR-MF
    learns)."""
    rng = random.Random(seed)
    sequences = {}
    for user in range(num_users):
        group = user % num_groups
        items = [f"g{group}i{k:02d}" for k in range(items_per_group)]
        sequences[f"u{user:04d}"] = rng.sample(
            items, rng.randint(items_per_group - 2, items_per_group - 1)
        )
    return sequences


def train_text_vocabulary(dataset: ProcessedDataset, directory: Path) -> str:
    """A 300-piece SentencePiece model of the dataset's item texts and training queries."""
    corpus = text_corpus(dataset, HeuristicTeacher(), ("title", "categories", "year"))
    return train_vocabulary(corpus, directory, vocab_size=300)


def other_category_examples(
    dataset: ProcessedDataset, examples: Sequence[EvalExample], seed: int = 0
) -> list[EvalExample]:
    """``examples`` with 9 negatives drawn (seeded) from items outside the target's
    categories: a query naming the target's category then singles the target out."""
    rng = random.Random(seed)
    planted = []
    for example in examples:
        labels = set(dataset.catalog[example.target].categories[1:])
        others = sorted(
            item_id
            for item_id, item in dataset.catalog.items()
            if not labels & set(item.categories[1:])
        )
        planted.append(dataclasses.replace(example, negatives=tuple(rng.sample(others, 9))))
    return planted


def seen_target_examples(
    dataset: ProcessedDataset, examples: Sequence[EvalExample]
) -> list[EvalExample]:
    """``other_category_examples`` of the examples whose target is a ``train`` item (an
    id-based model such as TEM has never been asked a query about the others)."""
    seen = [e for e in examples if dataset.item_split.get(e.target) == "train"]
    return other_category_examples(dataset, seen)


# Small, fast settings per trained baseline (one architecture each, so the jitted train
# steps compile once per test process).
SMALL_CONFIGS: dict[type, dict[str, object]] = {
    GRU4RecConfig: {
        "embedding_size": 16,
        "hidden_size": 32,
        "max_length": 8,
        "dropout_rate": 0.1,
        "learning_rate": 1e-2,
        "max_epochs": 20,
        "patience": 20,
    },
    BERT4RecConfig: {
        "hidden_size": 32,
        "num_layers": 1,
        "inner_size": 64,
        "max_length": 8,
        "dropout_rate": 0.1,
        "mask_ratio": 0.3,
        "learning_rate": 1e-2,
        "max_epochs": 40,
        "eval_every": 5,
        "patience": 20,
    },
    BPRConfig: {
        "embedding_size": 16,
        "batch_size": 256,
        "learning_rate": 3e-2,
        "max_epochs": 30,
        "eval_every": 5,
        "patience": 20,
    },
    DSSMConfig: {
        "token_embedding_size": 16,
        "hidden_size": 32,
        "output_size": 16,
        "max_query_tokens": 12,
        "max_item_tokens": 16,
        "batch_size": 16,
        "learning_rate": 1e-2,
        "max_epochs": 25,
        "eval_every": 5,
        "patience": 20,
    },
    TEMConfig: {
        "token_embedding_size": 16,
        "hidden_size": 16,
        "inner_size": 32,
        "max_length": 8,
        "max_query_tokens": 12,
        "query_kind": "specific",
        "batch_size": 128,
        "learning_rate": 1e-2,
        "max_epochs": 10,
        "eval_every": 5,
        "patience": 20,
    },
}


def small_config(config_class: type, **overrides: object) -> Any:
    """``config_class`` with its ``SMALL_CONFIGS`` settings and ``overrides``."""
    return config_class(**{**SMALL_CONFIGS[config_class], **overrides})
