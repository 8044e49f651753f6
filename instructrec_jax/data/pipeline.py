"""``prepare``: raw catalog + interaction stream -> ``ProcessedDataset``.

Steps, each recorded in ``stats``:
1. ``title``: clean titles (HTML entities, tags, whitespace); drop items whose cleaned
   title is empty and interactions with items not in the titled catalog.
2. ``dedupe``: keep the earliest interaction per (user, item) (first in the file on a
   timestamp tie, together with its review).
3. ``kcore``: iterative k-core to a fixed point (users >= max(k, 3), items >= k).
4. order each user's interactions chronologically; ties by a seeded hash (``ordering``).
5. leave-one-out validation/test examples with seeded negatives (never an interacted
   item nor an item sharing its title, see ``negatives``); seeded item split.

``stats`` keys: ``raw_catalog_items``, ``items_with_title``, ``raw_users``,
``raw_interacted_items``, ``raw_interactions``, ``interactions_with_title``,
``titled_users``, ``titled_interacted_items``, ``deduped_interactions``, ``bad_lines``
(per file), then after the k-core ``users``, ``items``, ``interactions``,
``avg_sequence_length``, ``tied_interaction_fraction``, ``tie_decided_test_targets``,
``train_examples``, ``valid_examples``, ``test_examples``, ``item_split_counts``.

The whole deduplicated interaction table is held in memory (ids, timestamps and reviews);
the raw stream itself is consumed once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Protocol

from instructrec_jax.data.config import PrepareConfig, dataset_fingerprint
from instructrec_jax.data.errors import EmptyDatasetError
from instructrec_jax.data.kcore import k_core
from instructrec_jax.data.negatives import CatalogNegativeSampler
from instructrec_jax.data.ordering import chronological, tied_fraction
from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.splits import item_level_split, leave_one_out
from instructrec_jax.data.text import clean_text
from instructrec_jax.data.types import Interaction, Item, RawDataset, UserSequence


class _Hasher(Protocol):
    """The part of a ``hashlib`` hash object used here."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


# (user_id, item_id) -> (timestamp, raw review or None)
_EventTable = dict[tuple[str, str], tuple[int, str | None]]


def clean_catalog(items: Mapping[str, Item]) -> dict[str, Item]:
    """Items with their titles cleaned; items whose cleaned title is empty are dropped."""
    cleaned = {}
    for item_id, item in items.items():
        title = clean_text(item.title)
        if title:
            categories = tuple(c for c in (clean_text(c) for c in item.categories) if c)
            attributes = {k: clean_text(v) for k, v in item.attributes.items() if clean_text(v)}
            cleaned[item_id] = Item(item_id, title, categories, attributes)
    return cleaned


def _catalog_digest(items: Mapping[str, Item]) -> _Hasher:
    hasher = hashlib.sha256()
    for item_id in sorted(items):
        item = items[item_id]
        attributes = sorted(item.attributes.items())
        hasher.update(repr((item_id, item.title, item.categories, attributes)).encode())
    return hasher


def dedupe_earliest(
    interactions: Iterable[Interaction],
    titled_items: Mapping[str, Item],
    stats: dict,
    content_hasher: _Hasher | None,
) -> _EventTable:
    """Stream ``interactions`` once: count raw figures, drop untitled items, keep the
    earliest event per (user, item). Updates ``stats`` and ``content_hasher``."""
    events: _EventTable = {}
    raw_count = 0
    titled_count = 0
    users: set[str] = set()
    interacted_items: set[str] = set()
    for interaction in interactions:
        raw_count += 1
        users.add(interaction.user_id)
        interacted_items.add(interaction.item_id)
        if content_hasher is not None:
            content_hasher.update(repr(dataclass_tuple(interaction)).encode())
        if interaction.item_id not in titled_items:
            continue
        titled_count += 1
        key = (interaction.user_id, interaction.item_id)
        previous = events.get(key)
        if previous is None or interaction.timestamp < previous[0]:
            events[key] = (interaction.timestamp, interaction.review)
    stats.update(
        raw_users=len(users),
        raw_interacted_items=len(interacted_items),
        raw_interactions=raw_count,
        interactions_with_title=titled_count,
        titled_users=len({user_id for user_id, _ in events}),
        titled_interacted_items=len({item_id for _, item_id in events}),
        deduped_interactions=len(events),
    )
    return events


def dataclass_tuple(interaction: Interaction) -> tuple:
    """The fields of an interaction as a plain tuple (for hashing)."""
    return (
        interaction.user_id,
        interaction.item_id,
        interaction.timestamp,
        interaction.rating,
        interaction.review,
    )


def build_sequences(events: _EventTable, seed: int) -> dict[str, UserSequence]:
    """Per-user chronological sequences (ties by seeded hash), sorted by user id."""
    per_user: dict[str, list[tuple[str, int]]] = {}
    for (user_id, item_id), (timestamp, _) in events.items():
        per_user.setdefault(user_id, []).append((item_id, timestamp))
    sequences = {}
    for user_id in sorted(per_user):
        ordered = chronological(seed, user_id, per_user[user_id])
        item_ids = tuple(item for item, _ in ordered)
        reviews = {}
        for item_id in item_ids:
            review = clean_text(events[(user_id, item_id)][1])  # only survivors get cleaned
            if review:
                reviews[item_id] = review
        sequences[user_id] = UserSequence(
            user_id=user_id,
            item_ids=item_ids,
            timestamps=tuple(timestamp for _, timestamp in ordered),
            reviews=reviews,
        )
    return sequences


def filter_interactions(
    raw: RawDataset, config: PrepareConfig, stats: dict
) -> tuple[dict[str, Item], _EventTable, str]:
    """Steps 1-3 (title, dedupe, k-core). Returns the titled catalog, the surviving
    events and the source digest; records counts in ``stats``."""
    stats["raw_catalog_items"] = len(raw.items)
    titled_items = clean_catalog(raw.items)
    stats["items_with_title"] = len(titled_items)
    if not titled_items:
        raise EmptyDatasetError(raw.name, "dropping items without a title", "no item has one")

    content_hasher = None if raw.source_digest is not None else _catalog_digest(raw.items)
    events = dedupe_earliest(raw.interactions, titled_items, stats, content_hasher)
    stats["bad_lines"] = dict(raw.bad_lines)
    if stats["raw_interactions"] == 0:
        raise EmptyDatasetError(raw.name, "reading", "the interaction stream is empty")
    if not events:
        raise EmptyDatasetError(
            raw.name,
            "dropping items without a title",
            "no interaction refers to an item with a title",
        )

    kept = k_core(events, config.user_threshold, config.k_core)
    if not kept:
        raise EmptyDatasetError(
            raw.name,
            f"the {config.k_core}-core filter",
            f"no users with >= {config.user_threshold} and items with >= {config.k_core} "
            "interactions remain",
        )
    source_digest = raw.source_digest or content_hasher.hexdigest()
    return titled_items, {pair: events[pair] for pair in kept}, source_digest


def tie_decided_fraction(sequences: Mapping[str, UserSequence]) -> float:
    """Share of test targets that share their timestamp with the previous item, i.e.
    whose choice as the last item was made by the tie rule."""
    decided = sum(1 for s in sequences.values() if s.timestamps[-1] == s.timestamps[-2])
    return decided / len(sequences)


def prepare(raw: RawDataset, config: PrepareConfig = PrepareConfig()) -> ProcessedDataset:  # noqa: B008
    """Filter, order and split a raw dataset (see the module docstring for the steps).

    Raises:
      EmptyDatasetError: a step left no data; the error names the step.
    """
    stats: dict = {}
    titled_items, events, source_digest = filter_interactions(raw, config, stats)
    sequences = build_sequences(events, config.seed)
    catalog = {item_id: titled_items[item_id] for item_id in sorted({i for _, i in events})}
    stats.update(
        users=len(sequences),
        items=len(catalog),
        interactions=len(events),
        avg_sequence_length=round(len(events) / len(sequences), 4),
        tied_interaction_fraction=round(
            tied_fraction([s.timestamps for s in sequences.values()]), 4
        ),
        tie_decided_test_targets=round(tie_decided_fraction(sequences), 4),
    )

    negative_sampler = CatalogNegativeSampler(catalog)

    def sampler(user_id: str, n: int, seed: int) -> tuple[str, ...]:
        return negative_sampler.sample(user_id, sequences[user_id].item_ids, n, seed)

    valid, test = (
        leave_one_out(
            sequences, split, config.max_history, config.num_negatives, config.seed, sampler
        )
        for split in ("valid", "test")
    )
    item_split = item_level_split(catalog, config.item_split_fractions, config.seed)
    stats.update(
        train_examples=sum(len(s.item_ids) - 3 for s in sequences.values()),
        valid_examples=len(valid),
        test_examples=len(test),
        item_split_counts={
            name: sum(1 for value in item_split.values() if value == name)
            for name in ("train", "valid", "test")
        },
    )
    return ProcessedDataset(
        name=raw.name,
        catalog=catalog,
        sequences=sequences,
        valid=valid,
        test=test,
        item_split=item_split,
        config=config,
        stats=stats,
        fingerprint=dataset_fingerprint(raw.name, source_digest, config),
    )
