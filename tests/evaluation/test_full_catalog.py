"""The full_catalog protocol: generative and full-ranking top-k lists, metrics, reports."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from instructrec_jax.evaluation import full_catalog
from instructrec_jax.evaluation.instructrec_scorer import InstructionRenderer, RenderSettings
from instructrec_jax.evaluation.job import make_title_trie
from instructrec_jax.evaluation.runner import EvaluationConfig, run_evaluation
from instructrec_jax.inference import buckets
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.inference.generation import ConstrainedGenerator
from instructrec_jax.instructions.codes import CodeCombination
from instructrec_jax.instructions.teachers import HeuristicTeacher
from instructrec_jax.instructions.templates import load_templates
from instructrec_jax.models.t5 import Transformer
from tests.evaluation.helpers import GlobalScorer, small_dataset
from tests.inference.conftest import VOCAB, random_params, small_config

BUCKETS = buckets.ScoringBuckets(
    input_lengths=(128,), target_lengths=(16,), candidate_counts=(8,), batch_size=4
)


class WordTokenizer:
    """One id per whitespace word, by CRC32, in [2, VOCAB - 1)."""

    def encode(self, s: str) -> list[int]:
        return [2 + zlib.crc32(word.encode()) % (VOCAB - 3) for word in s.split()]


class FakeFullRanker:
    """``top_items`` returning the user's history first, then the catalog in id order."""

    name = "fake-sasrec"

    def __init__(self, catalog):
        self.catalog = sorted(catalog)

    def top_items(self, examples, k, exclude_interacted=True):
        assert not exclude_interacted
        return [tuple(dict.fromkeys([*e.history, *self.catalog]))[:k] for e in examples]


def test_matching_types_and_templates():
    assert full_catalog.matching_type("p1_i1_t3") == "p1_i1_t2"
    with pytest.raises(ValueError, match="T3"):
        full_catalog.matching_type("p1_i0_t0")
    templates = load_templates()
    assert full_catalog.matching_template(templates, "recommendation", "p1_i0_t3") == "A1"
    assert templates[full_catalog.matching_template(templates, "personalized_search", "p1_i1_t3")]


def test_full_ranking_drops_history_and_ranks_misses_past_k():
    dataset = small_dataset()
    examples = dataset.split_examples("test")[:5]
    ranker = full_catalog.SASRecCatalogRanker(FakeFullRanker(dataset.catalog))
    lists = ranker.rank_catalog(examples, "recommendation", "p1_i0_t3", 20)
    for items, example in zip(lists, examples):
        assert len(items) == 20 and not set(items) & set(example.history)
    ranks = full_catalog.catalog_ranks(lists, examples, 20)
    expected = [
        lst.index(e.target) + 1 if e.target in lst else 21 for lst, e in zip(lists, examples)
    ]
    np.testing.assert_array_equal(ranks, expected)


def test_generation_with_enough_beams_lists_every_title_by_exact_likelihood():
    """With as many beams as titles nothing is pruned: the list is every small-catalog
    item outside the history, ordered by the scoring engine's exact log-likelihood."""
    config = small_config()
    module, params = Transformer(config), random_params(config, 3)
    dataset = small_dataset()
    tokenizer = WordTokenizer()
    example = dataset.split_examples("test")[0]
    small = sorted(dataset.catalog)[:6]
    subset = {item: dataset.catalog[item] for item in [*small, example.target]}
    trie = make_title_trie(subset, tokenizer, max_title_tokens=16)
    settings = RenderSettings(seed=0, max_input_tokens=128, max_target_tokens=16)
    renderer = InstructionRenderer(dataset.catalog, HeuristicTeacher(), load_templates(), settings)
    ranker = full_catalog.GenerativeCatalogRanker(
        ConstrainedGenerator(module, params, trie, BUCKETS),
        tokenizer,
        renderer,
        beam_size=len(subset),
    )
    (items,) = ranker.rank_catalog([example], "recommendation", "p1_i0_t3", len(subset))
    wanted = [item for item in subset if item not in example.history]
    assert sorted(items) == sorted(wanted)
    # The same instruction scored exactly by the engine, titles EOS-terminated.
    (text,), _ = renderer.texts("A1", CodeCombination.parse("p1_i0_t2"), [example], [()])
    instruction = [*tokenizer.encode(text)[:127], buckets.EOS_ID]
    titles = [[*tokenizer.encode(dataset.catalog[i].title), buckets.EOS_ID] for i in items]
    exact = ScoringEngine(module, params, BUCKETS).score([instruction], [titles])[0]
    assert list(np.argsort(-exact, kind="stable")) == list(range(len(items)))


def test_run_evaluation_adds_full_catalog_rows_with_cost(tmp_path):
    dataset = small_dataset()
    config = EvaluationConfig(
        scenarios=("sequential", "product_search"),
        protocols=("random", "full_catalog"),
        max_test_examples=10,
    )
    fake = FakeFullRanker(dataset.catalog)
    with pytest.raises(ValueError, match="catalog_rankers"):
        run_evaluation(dataset, tmp_path, baselines=[GlobalScorer()], config=config)
    ranker = full_catalog.SASRecCatalogRanker(fake)
    result = run_evaluation(
        dataset,
        tmp_path,
        baselines=[GlobalScorer()],
        config=config,
        catalog_rankers=[ranker],
        progress=False,
    )
    rows = [row for row in result.rows if row.protocol == "full_catalog"]
    assert [(row.scenario, row.model) for row in rows] == [("sequential", "fake-sasrec")]
    examples = dataset.split_examples("test")[:10]
    lists = ranker.rank_catalog(examples, "recommendation", "p1_i0_t3", 20)
    ranks = full_catalog.catalog_ranks(lists, examples, 20)
    assert rows[0].metrics["HR@20"] == pytest.approx(np.mean(ranks <= 20))
    assert rows[0].metrics["s/user"] > 0 and "MRR" not in rows[0].metrics
    table = result.table_path.read_text()
    assert "## Protocol `full_catalog`" in table and "| HR@20 | NDCG@20 | s/user |" in table
