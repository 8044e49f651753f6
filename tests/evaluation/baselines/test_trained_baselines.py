"""What every trained baseline must do, checked for each of them on tiny planted data."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from baseline_datasets import (
    other_category_examples,
    seen_target_examples,
    small_config,
)

from instructrec_jax.data import EvalExample, ProcessedDataset
from instructrec_jax.evaluation.baselines import (
    BERT4RecScorer,
    BPRScorer,
    DSSMScorer,
    EmbeddingScorer,
    GRU4RecScorer,
    TEMScorer,
)
from instructrec_jax.evaluation.metrics import ranking_metrics


def _as_stored(dataset: ProcessedDataset, examples: Sequence[EvalExample]) -> list[EvalExample]:
    del dataset
    return list(examples)


@dataclasses.dataclass(frozen=True)
class Spec:
    """A baseline under test: its class, the planted dataset, how its evaluation examples
    plant the pattern, and whether it reads text (its config: ``small_config``)."""

    scorer_class: type[EmbeddingScorer]
    dataset_fixture: str
    planted: Callable[[ProcessedDataset, Sequence[EvalExample]], list[EvalExample]] = _as_stored
    reads_text: bool = False

    def config(self, **overrides: Any) -> Any:
        return small_config(self.scorer_class.config_class, **overrides)


SPECS = {
    "gru4rec": Spec(GRU4RecScorer, "chain_dataset"),
    "bert4rec": Spec(BERT4RecScorer, "chain_dataset"),
    "bpr": Spec(BPRScorer, "cluster_dataset"),
    "tem": Spec(TEMScorer, "text_dataset", seen_target_examples, True),
    "dssm": Spec(DSSMScorer, "text_dataset", other_category_examples, True),
}


@pytest.fixture(scope="session")
def fitted_cache() -> dict[str, EmbeddingScorer]:
    return {}


@dataclasses.dataclass(frozen=True)
class Case:
    """A spec with its dataset, options and the baseline trained once per session."""

    spec: Spec
    dataset: ProcessedDataset
    options: dict[str, Any]
    trained: EmbeddingScorer

    def fit(self, seed: int, **config: Any) -> EmbeddingScorer:
        return self.spec.scorer_class.fit(
            self.dataset, self.spec.config(**config), seed=seed, progress=False, **self.options
        )

    def examples(self, split: str) -> list[EvalExample]:
        """The split's examples, with the spec's planted negatives."""
        return self.spec.planted(self.dataset, self.dataset.split_examples(split))


@pytest.fixture(params=sorted(SPECS))
def case(request, fitted_cache) -> Case:
    spec = SPECS[request.param]
    dataset = request.getfixturevalue(spec.dataset_fixture)
    options = {"vocabulary": request.getfixturevalue("text_vocabulary")} if spec.reads_text else {}
    if request.param not in fitted_cache:
        fitted_cache[request.param] = spec.scorer_class.fit(
            dataset, spec.config(), seed=0, progress=False, **options
        )
    return Case(spec, dataset, options, fitted_cache[request.param])


def test_training_reduces_validation_loss(case):
    untrained = case.spec.scorer_class.untrained(
        case.dataset, case.spec.config(), seed=0, **case.options
    )
    valid = case.examples("valid")
    after = case.trained.validation_loss(valid)
    assert after < untrained.validation_loss(valid)
    assert after < np.log(10) - 1.0  # a nat better than uniform scores over 10 candidates
    history = case.trained.training["history"]
    assert history[-1]["loss"] < history[0]["loss"]


def test_ranks_the_planted_pattern_first(case):
    examples = case.examples("test")
    positives = np.zeros(len(examples), dtype=np.int64)
    assert ranking_metrics(case.trained.score(examples), positives)["HR@1"] > 0.8


def test_same_seed_same_scores(case):
    first, second, other = (case.fit(seed, max_epochs=1) for seed in (5, 5, 6))
    examples = case.examples("test")[:30]
    np.testing.assert_array_equal(first.score(examples), second.score(examples))
    assert not np.allclose(first.score(examples), other.score(examples))


def test_save_load_round_trip(tmp_path, case):
    loaded = case.spec.scorer_class.load(
        case.trained.save(tmp_path / "model"), dataset=case.dataset
    )
    examples = case.examples("test")[:30]
    np.testing.assert_array_equal(loaded.score(examples), case.trained.score(examples))
    assert loaded.fingerprint == case.trained.fingerprint
    assert loaded.top_items(examples, 5) == case.trained.top_items(examples, 5)


def test_top_items_exclude_everything_the_user_touched(case):
    examples = case.examples("test")[:40]
    for example, top in zip(examples, case.trained.top_items(examples, k=9)):
        assert len(set(top)) == 9
        assert not set(case.dataset.sequences[example.user_id].item_ids) & set(top)
