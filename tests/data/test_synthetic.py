"""The synthetic generator: shape, determinism, speed-relevant size, learnable structure."""

from __future__ import annotations

import collections
import itertools

import pytest

from instructrec_jax.data import PrepareConfig, make_synthetic, prepare


def test_same_seed_same_data_and_other_seed_differs():
    first = make_synthetic(50, 80, 4, seed=3)
    second = make_synthetic(50, 80, 4, seed=3)
    third = make_synthetic(50, 80, 4, seed=4)
    assert first.items == second.items
    assert list(first.interactions) == list(second.interactions)
    assert first.source_digest == second.source_digest != third.source_digest
    assert list(first.interactions) != list(third.interactions)


def test_items_and_sequences_have_the_promised_fields():
    raw = make_synthetic(30, 60, 5, seed=0, min_len=4, max_len=9)
    assert len(raw.items) == 60
    assert all(item.title and len(item.categories) == 2 for item in raw.items.values())
    assert all({"brand", "year", "price"} <= set(item.attributes) for item in raw.items.values())
    per_user = collections.defaultdict(list)
    for interaction in raw.interactions:
        assert interaction.item_id in raw.items
        per_user[interaction.user_id].append(interaction)
    assert len(per_user) == 30
    for events in per_user.values():
        assert 4 <= len(events) <= 9
        assert len({e.item_id for e in events}) == len(events)
        stamps = [e.timestamp for e in events]
        assert stamps == sorted(stamps)


def test_has_ties_purposeful_reviews_and_text_to_clean():
    raw = make_synthetic(200, 300, 8, seed=1)
    events = list(raw.interactions)
    ties = sum(
        1
        for a, b in itertools.pairwise(events)
        if a.user_id == b.user_id and a.timestamp == b.timestamp
    )
    assert ties > 0.05 * len(events)
    reviews = [e.review for e in events if e.review]
    assert any("bought this for my" in review for review in reviews)
    assert any("&amp;" in item.title for item in raw.items.values())
    assert any(not item.title.isascii() for item in raw.items.values())


def test_next_item_category_is_predictable_from_history():
    """The history's most frequent category predicts the next item's category far above
    chance (1 / num_categories), so a model can learn something."""
    raw = make_synthetic(200, 300, 8, seed=2)
    dataset = prepare(raw, PrepareConfig(k_core=2))
    category = {item_id: item.categories[-1] for item_id, item in dataset.catalog.items()}
    hits = total = 0
    for example in dataset.train_examples():
        counts = collections.Counter(category[i] for i in example.history)
        hits += counts.most_common(1)[0][0] == category[example.target]
        total += 1
    assert hits / total > 0.4  # chance is 1/8


@pytest.mark.parametrize("bad", [dict(min_len=0), dict(min_len=5, max_len=4), dict(max_len=1000)])
def test_rejects_impossible_lengths(bad):
    with pytest.raises(ValueError):
        make_synthetic(10, 50, 3, seed=0, **bad)
