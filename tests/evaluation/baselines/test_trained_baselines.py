"""What every trained baseline must do, checked for each of them on tiny planted data."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from baseline_datasets import small_gru4rec_config

from instructrec_jax.data import ProcessedDataset
from instructrec_jax.evaluation.baselines import EmbeddingScorer, GRU4RecScorer
from instructrec_jax.evaluation.metrics import ranking_metrics


@dataclasses.dataclass(frozen=True)
class Spec:
    """A baseline under test: its class, a small config and the planted dataset."""

    scorer_class: type[EmbeddingScorer]
    config: Callable[..., Any]
    dataset_fixture: str


SPECS = {
    "gru4rec": Spec(GRU4RecScorer, small_gru4rec_config, "chain_dataset"),
}


@pytest.fixture(scope="session")
def fitted_cache() -> dict[str, EmbeddingScorer]:
    return {}


@pytest.fixture(params=sorted(SPECS))
def case(request, fitted_cache) -> tuple[Spec, ProcessedDataset, EmbeddingScorer]:
    """(spec, its dataset, the baseline trained on it once per session)."""
    spec = SPECS[request.param]
    dataset = request.getfixturevalue(spec.dataset_fixture)
    if request.param not in fitted_cache:
        fitted_cache[request.param] = spec.scorer_class.fit(
            dataset, spec.config(), seed=0, progress=False
        )
    return spec, dataset, fitted_cache[request.param]


def test_training_reduces_validation_loss(case):
    spec, dataset, trained = case
    untrained = spec.scorer_class.untrained(dataset, spec.config(), seed=0)
    before = untrained.validation_loss(dataset.valid)
    assert before == pytest.approx(np.log(10), abs=0.1)  # near-uniform at initialization
    assert trained.validation_loss(dataset.valid) < before - 1.0
    history = trained.training["history"]
    assert history[-1]["loss"] < history[0]["loss"]


def test_ranks_the_planted_pattern_first(case):
    _, dataset, trained = case
    positives = np.zeros(len(dataset.test), dtype=np.int64)
    assert ranking_metrics(trained.score(dataset.test), positives)["HR@1"] > 0.8
    assert trained.training["valid_metrics"]["NDCG@5"] > 0.8


def test_same_seed_same_scores(case):
    spec, dataset, _ = case
    config = spec.config(max_epochs=1)
    first, second, other = (
        spec.scorer_class.fit(dataset, config, seed=seed, progress=False) for seed in (5, 5, 6)
    )
    examples = dataset.test[:30]
    np.testing.assert_array_equal(first.score(examples), second.score(examples))
    assert not np.allclose(first.score(examples), other.score(examples))


def test_save_load_round_trip(tmp_path, case):
    spec, dataset, trained = case
    loaded = spec.scorer_class.load(
        trained.save(tmp_path / "model"), expected_fingerprint=dataset.fingerprint
    )
    examples = dataset.test[:30]
    np.testing.assert_array_equal(loaded.score(examples), trained.score(examples))
    assert loaded.fingerprint == trained.fingerprint
    assert loaded.top_items(examples, 5) == trained.top_items(examples, 5)


def test_top_items_exclude_everything_the_user_touched(case):
    _, dataset, trained = case
    examples = dataset.test[:40]
    for example, top in zip(examples, trained.top_items(examples, k=9)):
        assert len(set(top)) == 9
        assert not set(dataset.sequences[example.user_id].item_ids) & set(top)
