"""k-core filtering reaches the fixed point and equals repeated whole-graph rounds."""

from __future__ import annotations

import collections
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from instructrec_jax.data.kcore import k_core


def _rounds_reference(pairs, user_k, item_k):
    kept = set(pairs)
    while True:
        users = collections.Counter(u for u, _ in kept)
        items = collections.Counter(i for _, i in kept)
        filtered = {(u, i) for u, i in kept if users[u] >= user_k and items[i] >= item_k}
        if filtered == kept:
            return kept
        kept = filtered


def test_cascade_needs_several_rounds():
    # u3 has 2 items; dropping u3 pushes item c below 2, which then pushes u2 below 2.
    pairs = {("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "c"), ("u3", "c"), ("u3", "b"),
             ("u4", "a"), ("u4", "b")}  # fmt: skip
    result = k_core(pairs, user_threshold=2, item_threshold=3)
    # items: a(3) b(3) c(2) -> c dropped; u2, u3 fall to 1 item -> dropped; a, b fall to 2.
    assert result == set()
    assert result == _rounds_reference(pairs, 2, 3)


def test_survivors_meet_both_thresholds():
    rng = random.Random(0)
    pairs = {(f"u{rng.randrange(60)}", f"i{rng.randrange(40)}") for _ in range(700)}
    result = k_core(pairs, 5, 4)
    assert result
    users = collections.Counter(u for u, _ in result)
    items = collections.Counter(i for _, i in result)
    assert min(users.values()) >= 5 and min(items.values()) >= 4
    assert result == _rounds_reference(pairs, 5, 4)


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=90),
    st.integers(1, 5),
    st.integers(1, 5),
)
def test_matches_reference_on_random_graphs(raw_pairs, user_k, item_k):
    pairs = {(f"u{u}", f"i{i}") for u, i in raw_pairs}
    assert k_core(pairs, user_k, item_k) == _rounds_reference(pairs, user_k, item_k)
