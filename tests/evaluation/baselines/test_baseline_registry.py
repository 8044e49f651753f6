from __future__ import annotations

import numpy as np
import pytest
from baseline_datasets import (
    small_config,
    small_sasrec_config,
)

from instructrec_jax.evaluation.baselines import (
    BERT4RecScorer,
    BPRScorer,
    DSSMScorer,
    GRU4RecConfig,
    GRU4RecScorer,
    PopularityScorer,
    RandomScorer,
    SASRecScorer,
    TEMScorer,
    baseline_names,
    make_baseline,
    register_baseline,
    registry,
    trained_class,
)
from instructrec_jax.evaluation.scorer import CandidateScorer


@pytest.fixture
def private_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_builtin_baselines_by_name(chain_dataset):
    expected = {"random", "popularity", "sasrec", "bert4rec", "gru4rec", "bpr", "tem", "dssm"}
    assert expected <= set(baseline_names())
    random_scorer = make_baseline("random", chain_dataset, seed=4)
    assert isinstance(random_scorer, RandomScorer) and random_scorer.seed == 4
    popularity = make_baseline("popularity", chain_dataset, seed=0, break_ties=False)
    assert isinstance(popularity, PopularityScorer) and not popularity.break_ties
    assert isinstance(popularity, CandidateScorer)


def test_unknown_name_lists_the_known_ones(chain_dataset):
    with pytest.raises(ValueError, match=r"unknown baseline 'nope'.*popularity"):
        make_baseline("nope", chain_dataset, seed=0)


class LastItemScorer:
    """Scores a candidate 1 if it directly follows the last history item on the cycle."""

    name = "last-item"

    def score(self, examples):
        rows = []
        for example in examples:
            following = f"c{(int(example.history[-1][1:]) + 1) % 40:03d}"
            rows.append([float(candidate == following) for candidate in example.candidates])
        return np.asarray(rows)


def test_user_baseline_registers_and_scores(private_registry, chain_dataset):
    register_baseline("last-item", lambda dataset, seed: LastItemScorer())
    scorer = make_baseline("last-item", chain_dataset, seed=0)
    scores = scorer.score(chain_dataset.test)
    assert (scores[:, 0] == 1).all()  # the chain's next item is always the target
    with pytest.raises(ValueError, match="already registered"):
        register_baseline("last-item", lambda dataset, seed: LastItemScorer())


def test_factory_must_return_a_scorer(private_registry, chain_dataset):
    register_baseline("broken", lambda dataset, seed: object())
    with pytest.raises(TypeError, match="CandidateScorer"):
        make_baseline("broken", chain_dataset, seed=0)


def test_sasrec_model_dir_trains_once_then_reuses(tmp_path, monkeypatch, chain_dataset):
    config = small_sasrec_config(max_epochs=1)
    model_dir = tmp_path / "sasrec"
    first = make_baseline(
        "sasrec", chain_dataset, seed=0, config=config, progress=False, model_dir=model_dir
    )

    def no_training(*args, **kwargs):
        raise AssertionError("should have loaded the saved model")

    monkeypatch.setattr(SASRecScorer, "fit", no_training)
    second = make_baseline("sasrec", chain_dataset, seed=0, model_dir=model_dir)
    examples = chain_dataset.test[:20]
    np.testing.assert_array_equal(first.score(examples), second.score(examples))
    with pytest.raises(ValueError, match="seed 0"):
        make_baseline("sasrec", chain_dataset, seed=1, model_dir=model_dir)
    other = small_sasrec_config(max_epochs=2)
    with pytest.raises(ValueError, match="give another model_dir"):
        make_baseline("sasrec", chain_dataset, seed=0, config=other, model_dir=model_dir)
    same = make_baseline("sasrec", chain_dataset, seed=0, config=config, model_dir=model_dir)
    np.testing.assert_array_equal(first.score(examples), same.score(examples))


@pytest.mark.parametrize(
    ("name", "scorer_class"),
    [
        ("sasrec", SASRecScorer),
        ("gru4rec", GRU4RecScorer),
        ("bert4rec", BERT4RecScorer),
        ("bpr", BPRScorer),
        ("tem", TEMScorer),
        ("dssm", DSSMScorer),
    ],
)
def test_trained_baselines_by_name(monkeypatch, chain_dataset, name, scorer_class):
    # Training itself is tested per baseline (test_trained_baselines); here: the dispatch.
    calls = []

    def fit(dataset, config=None, seed=0, progress=True, **options):
        calls.append((dataset, config, seed, progress, options))
        return RandomScorer(seed)

    monkeypatch.setattr(scorer_class, "fit", fit)
    config = scorer_class.config_class(max_epochs=2)
    make_baseline(name, chain_dataset, seed=3, config=config, progress=False, teacher="t")
    assert calls == [(chain_dataset, config, 3, False, {"teacher": "t"})]
    assert trained_class(name) is scorer_class


def test_trained_baseline_option_errors_are_clear(chain_dataset, text_dataset):
    with pytest.raises(ValueError, match="DSSM reads text: pass vocabulary="):
        make_baseline("dssm", text_dataset, seed=0, progress=False)
    with pytest.raises(TypeError, match="GRU4Rec takes no options"):
        make_baseline("gru4rec", chain_dataset, seed=0, vocabulary="spm.model")
    with pytest.raises(TypeError, match="BERT4RecConfig"):
        make_baseline("bert4rec", chain_dataset, seed=0, config=small_config(GRU4RecConfig))
