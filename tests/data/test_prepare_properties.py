"""Invariants of prepare() on random interaction logs (hypothesis)."""

from __future__ import annotations

import collections

from hypothesis import given, settings
from hypothesis import strategies as st

from instructrec_jax.data import (
    EmptyDatasetError,
    Interaction,
    Item,
    PrepareConfig,
    RawDataset,
    prepare,
)
from instructrec_jax.data.text import clean_text

EVENTS = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 14), st.integers(0, 6)), min_size=1, max_size=120
)


@settings(max_examples=25, deadline=None)
@given(EVENTS, st.integers(1, 4), st.integers(0, 3), st.integers(1, 4))
def test_prepare_invariants(events, k, seed, max_history):
    items = {f"i{n}": Item(f"i{n}", f"Title {n}") for n in range(15)}
    raw = RawDataset("random", items, [Interaction(f"u{u}", f"i{i}", t) for u, i, t in events])
    config = PrepareConfig(k_core=k, seed=seed, max_history=max_history, num_negatives=0)
    try:
        dataset = prepare(raw, config)
    except EmptyDatasetError:
        return
    item_counts = collections.Counter(i for s in dataset.sequences.values() for i in s.item_ids)
    assert set(item_counts) == set(dataset.catalog)
    assert min(item_counts.values()) >= k
    for sequence in dataset.sequences.values():
        assert len(sequence.item_ids) >= max(k, 3)
        assert len(set(sequence.item_ids)) == len(sequence.item_ids)
        assert list(sequence.timestamps) == sorted(sequence.timestamps)
    trained = collections.defaultdict(set)
    for example in dataset.train_examples():
        assert 1 <= len(example.history) <= max_history
        trained[example.user_id].update((*example.history, example.target))
    for valid, test in zip(dataset.valid, dataset.test):
        assert test.target not in trained[test.user_id] | {valid.target}
        assert valid.target not in trained[valid.user_id]
        assert test.history[-1] == valid.target


@given(st.text())
def test_clean_text_is_idempotent_and_trimmed(text):
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned or "&" in cleaned or "<" in cleaned
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned


def test_clean_text_examples():
    assert clean_text("Tom &amp;amp; Jerry") == "Tom & Jerry"
    assert clean_text("<span>Half-Life</span>\t2 ") == "Half-Life 2"
    assert clean_text("Pokémon ™ 日本") == "Pokémon ™ 日本"
    assert clean_text(None) == ""
