from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest
from baseline_datasets import chain_sequences, dataset_from_sequences, small_sasrec_config

from instructrec_jax.data import EvalExample
from instructrec_jax.evaluation.baselines import PopularityScorer, SASRecScorer
from instructrec_jax.evaluation.baselines.sasrec import INTERACTED_FILE, META_FILE, PARAMS_FILE
from instructrec_jax.evaluation.metrics import ranking_metrics


def _metrics(scores: np.ndarray) -> dict[str, float]:
    return ranking_metrics(scores, np.zeros(len(scores), dtype=np.int64))


def test_sasrec_learns_the_sequential_rule_popularity_cannot(chain_dataset, trained_chain_sasrec):
    sasrec = _metrics(trained_chain_sasrec.score(chain_dataset.test))
    popularity = _metrics(PopularityScorer.fit(chain_dataset).score(chain_dataset.test))
    assert popularity["HR@1"] < 0.3
    assert sasrec["HR@1"] > 0.8
    assert sasrec["HR@1"] > popularity["HR@1"] + 0.5
    assert trained_chain_sasrec.training["valid_metrics"]["NDCG@5"] > 0.8


def test_score_shape_and_batch_independence(chain_dataset, trained_chain_sasrec):
    scores = trained_chain_sasrec.score(chain_dataset.test)
    assert scores.shape == (len(chain_dataset.test), 10)
    np.testing.assert_allclose(
        trained_chain_sasrec.score(chain_dataset.test[3:5]), scores[3:5], rtol=1e-5, atol=1e-5
    )


def test_same_seed_same_scores(chain_dataset):
    config = small_sasrec_config(max_epochs=2)
    first = SASRecScorer.fit(chain_dataset, config, seed=5, progress=False)
    second = SASRecScorer.fit(chain_dataset, config, seed=5, progress=False)
    other = SASRecScorer.fit(chain_dataset, config, seed=6, progress=False)
    examples = chain_dataset.test[:50]
    np.testing.assert_array_equal(first.score(examples), second.score(examples))
    assert not np.allclose(first.score(examples), other.score(examples))


def test_training_never_sees_test_targets():
    # Same catalog and training parts; only the test targets differ.
    sequences = chain_sequences(num_users=60, num_items=40, seed=1)
    swapped = {}
    for user, items in sequences.items():
        unused = sorted({f"c{k:03d}" for k in range(40)} - set(items))
        swapped[user] = [*items[:-1], unused[0]]
    datasets = [dataset_from_sequences(s) for s in (sequences, swapped)]
    assert datasets[0].catalog.keys() == datasets[1].catalog.keys()
    config = small_sasrec_config(max_epochs=2)
    params = [
        SASRecScorer.fit(dataclasses.replace(d, valid=[]), config, seed=0, progress=False).params
        for d in datasets
    ]
    for left, right in zip(jax.tree.leaves(params[0]), jax.tree.leaves(params[1])):
        np.testing.assert_array_equal(left, right)


def test_top_items_exclude_everything_the_user_touched(chain_dataset, trained_chain_sasrec):
    examples = chain_dataset.test[:40]
    tops = trained_chain_sasrec.top_items(examples, k=9)
    for example, top in zip(examples, tops):
        touched = set(chain_dataset.sequences[example.user_id].item_ids)
        assert len(top) == 9 and len(set(top)) == 9
        assert not touched & set(top)
        assert example.target not in top and not set(example.history) & set(top)


def test_top_items_without_exclusion_put_the_next_item_first(chain_dataset, trained_chain_sasrec):
    examples = chain_dataset.test[:100]
    tops = trained_chain_sasrec.top_items(examples, k=3, exclude_interacted=False)
    hits = np.mean([top[0] == example.target for example, top in zip(examples, tops)])
    assert hits > 0.4  # among all 40 items (chance 0.025), a harder task than 1 of 10


def test_top_items_unknown_user_excludes_history_and_target(trained_chain_sasrec):
    example = EvalExample("stranger", "test", ("c001", "c002"), "c003", ())
    (top,) = trained_chain_sasrec.top_items([example], k=37)  # 40 items - 3 excluded
    assert not {"c001", "c002", "c003"} & set(top)
    with pytest.raises(ValueError, match="fewer than 38"):
        trained_chain_sasrec.top_items([example], k=38)


def test_save_load_round_trip(tmp_path, chain_dataset, trained_chain_sasrec):
    trained_chain_sasrec.save(tmp_path / "model")
    loaded = SASRecScorer.load(tmp_path / "model", expected_fingerprint=chain_dataset.fingerprint)
    examples = chain_dataset.test[:30]
    np.testing.assert_array_equal(loaded.score(examples), trained_chain_sasrec.score(examples))
    assert loaded.top_items(examples, 5) == trained_chain_sasrec.top_items(examples, 5)
    assert loaded.training["best_epoch"] == trained_chain_sasrec.training["best_epoch"]
    with pytest.raises(ValueError, match="fingerprint"):
        SASRecScorer.load(tmp_path / "model", expected_fingerprint="0123456789abcdef")


def test_load_rejects_mismatched_files(tmp_path, trained_chain_sasrec):
    model_dir = trained_chain_sasrec.save(tmp_path / "model")
    (model_dir / INTERACTED_FILE).write_text(json.dumps({"u0000": [1, 41]}))
    with pytest.raises(ValueError, match=r"u0000.*outside 1\.\.40"):
        SASRecScorer.load(model_dir)
    meta = json.loads((model_dir / META_FILE).read_text())
    meta["config"]["hidden_size"] = 16
    (model_dir / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=PARAMS_FILE):
        SASRecScorer.load(model_dir)
    (model_dir / META_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        SASRecScorer.load(model_dir)
    with pytest.raises(FileNotFoundError, match="no saved SASRec"):
        SASRecScorer.load(tmp_path / "missing")


def test_top_items_and_scores_do_not_depend_on_chunk_size(chain_dataset, trained_chain_sasrec):
    small_chunks = SASRecScorer(
        trained_chain_sasrec.params,
        dataclasses.replace(trained_chain_sasrec.config, eval_batch_size=16),
        trained_chain_sasrec.index,
        trained_chain_sasrec.interacted,
        trained_chain_sasrec.training,
    )
    examples = chain_dataset.test[:40]
    assert small_chunks.top_items(examples, 5) == trained_chain_sasrec.top_items(examples, 5)
    np.testing.assert_allclose(
        small_chunks.score(examples), trained_chain_sasrec.score(examples), rtol=1e-5, atol=1e-5
    )


def test_fingerprint_follows_the_parameters_across_save_and_load(tmp_path, chain_dataset):
    model = SASRecScorer.fit(chain_dataset, small_sasrec_config(max_epochs=1), progress=False)
    loaded = SASRecScorer.load(model.save(tmp_path / "model"))
    assert len(model.fingerprint) == 16 and loaded.fingerprint == model.fingerprint
    nudged = jax.tree.map(lambda leaf: leaf + 1e-3, model.params)
    retrained = SASRecScorer(nudged, model.config, model.index, model.interacted, model.training)
    assert retrained.fingerprint != model.fingerprint
