"""Bucketed, chunked and sharded scoring through ScoringEngine."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

from instructrec_jax.inference import buckets
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.partitioning import Partitioner
from tests.inference.conftest import ragged_batch

SMALL_BUCKETS = buckets.ScoringBuckets(
    input_lengths=(32,), target_lengths=(8,), candidate_counts=(4, 8), batch_size=8
)


def _reference(exact_scorer, params, instructions, candidates):
    """All rows and candidates in one exact-shape call (no buckets, chunks or batches)."""
    encoder = buckets.pad_token_rows(instructions, max(len(i) for i in instructions))
    length = max(len(c) for row in candidates for c in row)
    targets = np.stack([buckets.pad_token_rows(row, length) for row in candidates])
    return np.asarray(exact_scorer(params, jnp.asarray(encoder), jnp.asarray(targets)))


@pytest.fixture(scope="module")
def batch_and_reference(tiny_model, exact_scorer):
    # 11 rows -> two batches of 8 (the last padded); 19 candidates -> chunks of 8, 8, 3 (->4).
    instructions, candidates = ragged_batch(
        0, rows=11, num_candidates=19, max_input=30, max_target=7
    )
    return (
        instructions,
        candidates,
        _reference(exact_scorer, tiny_model[1], instructions, candidates),
    )


def test_engine_matches_exact_scoring_and_compiles_few_programs(
    tiny_model, exact_scorer, batch_and_reference
):
    module, params = tiny_model
    instructions, candidates, expected = batch_and_reference
    engine = ScoringEngine(module, params, SMALL_BUCKETS)
    scores = engine.score(instructions, candidates)
    assert scores.shape == (11, 19)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    # One encode program (B 8, L 32) and score programs for N buckets 8 and 4 (T 8).
    assert engine.compiled_programs() == 3
    for seed in range(1, 4):  # other lengths and counts within the same buckets: no new program
        more_instructions, more_candidates = ragged_batch(
            seed, rows=2 + 3 * seed, num_candidates=4 * seed, max_input=31, max_target=7
        )
        engine.score(more_instructions, more_candidates)
    assert engine.compiled_programs() == 3


def test_sharded_scores_equal_unsharded(tiny_model, batch_and_reference):
    module, params = tiny_model
    instructions, candidates, expected = batch_and_reference
    assert len(jax.devices()) >= 8, "tests/conftest.py provides 8 CPU devices"
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    sharded = ScoringEngine(module, params, SMALL_BUCKETS, Partitioner(mesh))
    np.testing.assert_allclose(
        sharded.score(instructions, candidates), expected, rtol=1e-5, atol=1e-5
    )
    # The rows really were split over the data axis.
    cross_kv = sharded._encode(sharded.params, sharded._put_rows(np.ones((8, 32), np.int32)))
    key = jax.tree_util.tree_leaves(cross_kv)[0]
    assert key.sharding.spec[0] == "data"
    assert len(key.sharding.device_set) == 8


def test_engine_rejects_bad_inputs(tiny_model):
    module, params = tiny_model
    engine = ScoringEngine(module, params, SMALL_BUCKETS)
    with pytest.raises(ValueError, match="same number of candidates"):
        engine.score([[5, 1], [6, 1]], [[[7, 1]], [[7, 1], [8, 1]]])
    with pytest.raises(ValueError, match="largest input bucket"):
        engine.score([[5] * 40 + [1]], [[[7, 1]]])  # 41 > 32
    # An empty candidate would be all padding and score 0, the best log-likelihood.
    with pytest.raises(ValueError, match="row 1, candidate 0 is empty"):
        engine.score([[5, 1], [6, 1]], [[[7, 1], [8, 1]], [[], [8, 1]]])
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(8, 1), ("data", "model"))
    with pytest.raises(ValueError, match="multiple of the mesh"):
        ScoringEngine(module, params, buckets.ScoringBuckets(batch_size=4), Partitioner(mesh))
    assert engine.compiled_programs() == 0
