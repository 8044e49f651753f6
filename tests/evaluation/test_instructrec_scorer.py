"""InstructRecScorer: rendered instruction + candidate titles -> likelihood scores."""

from __future__ import annotations

import functools
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.evaluation.candidate_lists import CandidateListScorer
from instructrec_jax.evaluation.instructrec_scorer import (
    InstructionRenderer,
    InstructRecScorer,
    RenderSettings,
    rank_templates,
)
from instructrec_jax.evaluation.scorer import CandidateScorer
from instructrec_jax.inference import buckets
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.instructions.teachers import HeuristicTeacher
from instructrec_jax.instructions.templates import load_templates
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.models.t5 import Transformer
from tests.evaluation.helpers import small_dataset
from tests.inference.conftest import VOCAB, random_params, small_config


class WordTokenizer:
    """One id per whitespace word, by CRC32, in [2, VOCAB - 1) ("Yes" and "No" differ)."""

    def encode(self, s: str) -> list[int]:
        return [2 + zlib.crc32(word.encode()) % (VOCAB - 3) for word in s.split()]


@pytest.fixture(scope="module")
def scorer_and_model():
    config = small_config()
    module, params = Transformer(config), random_params(config, 1)
    engine = ScoringEngine(
        module,
        params,
        buckets.ScoringBuckets(
            input_lengths=(128,), target_lengths=(16,), candidate_counts=(10,), batch_size=4
        ),
    )
    dataset = small_dataset()
    scorer = InstructRecScorer(
        engine,
        WordTokenizer(),
        InstructionRenderer(
            dataset.catalog,
            HeuristicTeacher(),
            load_templates(),
            RenderSettings(seed=0, max_input_tokens=128, max_target_tokens=16),
        ),
        "p1_i0_t3",
        "A7",
    )
    return scorer, module, params, dataset


def test_rank_templates_lists_plain_t3_templates():
    templates = load_templates()
    assert rank_templates(templates, "p1_i0_t3") == ["A7", "A8", "A9", "A10", "A13"]
    assert rank_templates(templates, "p0_i2_t3") == ["B7", "B8", "B9"]
    assert rank_templates(templates, "p1_i0_t0") == ["A11", "A12"]
    assert rank_templates(templates, "p1_i0_t2") == []


def test_scores_follow_the_callers_candidate_order(scorer_and_model):
    scorer, module, params, dataset = scorer_and_model
    assert isinstance(scorer, CandidateScorer) and isinstance(scorer, CandidateListScorer)
    examples = dataset.test[:5]
    scores = scorer.score(examples)
    assert scores.shape == (5, 10)
    instructions, shown = scorer.render_instructions(examples, [e.candidates for e in examples])
    assert any(list(s) != list(e.candidates) for s, e in zip(shown, examples))  # shuffled
    assert all(sorted(s) == sorted(e.candidates) for s, e in zip(shown, examples))
    assert all(len(t) <= 128 and t[-1] == 1 for t in instructions)
    # Reference: the exact scorer on the titles in the caller's order.
    titles = [
        [[*WordTokenizer().encode(dataset.catalog[c].title), 1] for c in e.candidates]
        for e in examples
    ]
    encoder = buckets.pad_token_rows(instructions, 128)
    targets = np.stack([buckets.pad_token_rows(row, 16) for row in titles])
    exact = jax.jit(EncoderDecoderModel(module.config).score_candidates)(
        params, jnp.asarray(encoder), jnp.asarray(targets)
    )
    np.testing.assert_allclose(scores, np.asarray(exact), rtol=1e-5, atol=1e-5)


def test_lists_without_the_target_and_rebinding(scorer_and_model):
    scorer, _, _, dataset = scorer_and_model
    examples = dataset.test[:2]
    lists = [(*reversed(e.negatives), e.negatives[0]) for e in examples]
    with pytest.raises(ValueError, match="duplicate candidates"):
        scorer.score_lists(examples, lists)
    lists = [tuple(reversed(e.negatives)) for e in examples]
    scores = scorer.score_lists(examples, lists)
    assert scores.shape == (2, 9) and np.all(scores < 0)
    other = scorer.with_template("p1_i0_t3", "A8")
    assert other.template_id == "A8" and other.engine is scorer.engine
    with pytest.raises(ValueError, match="not a plain T3/T0 template"):
        scorer.with_template("p1_i0_t3", "B7")


def test_pointwise_templates_rank_by_yes_log_odds(scorer_and_model):
    scorer, module, params, dataset = scorer_and_model
    pointwise_scorer = scorer.with_template("p1_i0_t0", "A11")
    examples = dataset.test[:2]
    scores = pointwise_scorer.score(examples)
    assert scores.shape == (2, 10) and np.isfinite(scores).all()
    instructions, shown = pointwise_scorer.render_instructions(
        examples, [e.candidates for e in examples]
    )
    assert [s[0] for s in shown] == [c for e in examples for c in e.candidates]
    yes_id, no_id = WordTokenizer().encode("Yes")[0], WordTokenizer().encode("No")[0]
    expected = jax.jit(
        functools.partial(
            EncoderDecoderModel(module.config).yes_log_odds, yes_id=yes_id, no_id=no_id
        )
    )(params, jnp.asarray(buckets.pad_token_rows(instructions, 128)))
    np.testing.assert_allclose(scores.ravel(), np.asarray(expected), rtol=1e-5, atol=1e-6)


def test_rank_templates_keep_to_the_family():
    templates = load_templates()
    both = rank_templates(templates, "p1p2_i0_t3")
    assert {"A7", "C10"} <= set(both)  # A and C templates both render p1p2_i0_t3
    assert rank_templates(templates, "p1p2_i0_t3", "personalized_search") == [
        "C10",
        "C11",
        "C12",
        "C13",
    ]
    assert rank_templates(templates, "p1p2_i0_t3", "recommendation") == [
        "A7",
        "A8",
        "A9",
        "A10",
        "A13",
    ]
    assert rank_templates(templates, "p0_i1_t3", "recommendation") == []
