"""Every inference path gives the unrolled model's results with a scanned model: candidate
scoring (engine), pointwise Yes/No log-odds and constrained beam generation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_params, small_config

from instructrec_jax.checkpoints.layer_stacking import stack_layers
from instructrec_jax.inference.buckets import ScoringBuckets
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.inference.generation import ConstrainedGenerator
from instructrec_jax.inference.pointwise import PointwiseScorer
from instructrec_jax.inference.trie import TitleTrie
from instructrec_jax.models.t5 import Transformer

UNROLLED = small_config()
SCANNED = UNROLLED.replace(scan_layers=True)
BUCKETS = ScoringBuckets(
    input_lengths=(8,), target_lengths=(4,), candidate_counts=(3,), batch_size=2
)
INSTRUCTIONS = [[5, 9, 13, 1], [7, 3, 1]]
CANDIDATES = [[[11, 1], [12, 14, 1], [20, 1]], [[30, 31, 1], [11, 1], [40, 1]]]
TITLES = [("a", [11, 12]), ("b", [11, 13]), ("c", [20])]


@pytest.fixture(scope="module")
def models() -> dict:
    params = random_params(UNROLLED, seed=4)
    return {
        False: (Transformer(UNROLLED), params),
        True: (Transformer(SCANNED), stack_layers(params)),
    }


def test_engine_scores_agree(models):
    scores = {
        scan: ScoringEngine(module, params, BUCKETS).score(INSTRUCTIONS, CANDIDATES)
        for scan, (module, params) in models.items()
    }
    assert scores[True].shape == (2, 3)
    np.testing.assert_allclose(scores[True], scores[False], atol=1e-5, rtol=1e-6)


def test_pointwise_log_odds_agree(models):
    odds = {
        scan: PointwiseScorer(module, params, yes_id=6, no_id=8, buckets=BUCKETS).score(
            INSTRUCTIONS
        )
        for scan, (module, params) in models.items()
    }
    np.testing.assert_allclose(odds[True], odds[False], atol=1e-5, rtol=1e-6)


def test_beam_generation_agrees(models):
    results = {
        scan: ConstrainedGenerator(module, params, TitleTrie(TITLES), BUCKETS).generate(
            INSTRUCTIONS, beam_size=2
        )
        for scan, (module, params) in models.items()
    }
    for got_row, want_row in zip(results[True], results[False]):
        assert [g.tokens for g in got_row] == [g.tokens for g in want_row]
        np.testing.assert_allclose(
            [g.score for g in got_row], [g.score for g in want_row], atol=1e-5, rtol=1e-6
        )
