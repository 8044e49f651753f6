"""Title trie and trie-constrained greedy/beam generation."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.inference import buckets
from instructrec_jax.inference.generation import ConstrainedGenerator
from instructrec_jax.inference.trie import TitleTrie
from tests.inference.conftest import ragged_batch

# Titles share prefixes (5, 6, ...) and one is a prefix of another; two items share a title.
CATALOG = {
    "a": [5, 6, 7],
    "b": [5, 6, 8, 9],
    "c": [5, 6],
    "d": [10, 11, 12, 13, 14],
    "e": [15],
    "f": [5, 6, 7],
}
GEN_BUCKETS = buckets.ScoringBuckets(
    input_lengths=(32,), target_lengths=(8,), candidate_counts=(8,), batch_size=4
)


def test_trie_lookups():
    trie = TitleTrie(CATALOG.items())
    assert trie.allowed_next([]) == [5, 10, 15]
    assert trie.allowed_next([5, 6]) == [1, 7, 8]  # EOS ends title "c"
    assert trie.allowed_next([5, 9]) == []
    assert trie.items_for([5, 6, 7, 1]) == ("a", "f")
    assert trie.items_for([5, 6, 7]) == ()
    assert trie.max_length == 6 and trie.num_titles == 6
    with pytest.raises(ValueError, match="padding or EOS"):
        trie.add("x", [3, 1, 4])
    with pytest.raises(ValueError, match="empty"):
        trie.add("x", [])


def test_beam_search_yields_catalog_titles_sorted_and_exact_when_exhaustive(
    tiny_model, exact_scorer
):
    module, params = tiny_model
    trie = TitleTrie(CATALOG.items())
    generator = ConstrainedGenerator(module, params, trie, GEN_BUCKETS)
    instructions, _ = ragged_batch(4, rows=3, num_candidates=1, max_input=20, max_target=2)
    titles = {tuple([*tokens, 1]) for tokens in CATALOG.values()}  # 5 distinct titles

    # Beam as wide as the number of distinct titles prunes nothing: the search is exact.
    beams = generator.generate(instructions, beam_size=5)
    distinct = sorted(titles)
    targets = np.stack([buckets.pad_token_rows(distinct, 6)] * 3)
    encoder = buckets.pad_token_rows(instructions, 20)
    exact = np.asarray(exact_scorer(params, jnp.asarray(encoder), jnp.asarray(targets)))
    for row, row_beams in enumerate(beams):
        assert len(row_beams) == 5
        assert {g.tokens for g in row_beams} == titles
        scores = [g.score for g in row_beams]
        assert scores == sorted(scores, reverse=True)
        for generation in row_beams:
            assert generation.item_ids == trie.items_for(generation.tokens)
            expected = exact[row, distinct.index(generation.tokens)]
            assert generation.score == pytest.approx(expected, abs=1e-4)

    greedy = generator.generate(instructions, beam_size=1)
    for row_beams in greedy:
        assert len(row_beams) == 1
        assert row_beams[0].tokens in titles
        assert row_beams[0].item_ids
