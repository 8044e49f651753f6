"""The evaluation entry point end to end: HF checkpoint + SentencePiece vocab + gin."""

from __future__ import annotations

import json

import pytest

from instructrec_jax import evaluate
from instructrec_jax.checkpoints import export_hf
from instructrec_jax.tasks.vocab import get_vocabulary, model_vocab_size, train_vocabulary
from tests.evaluation.helpers import small_dataset
from tests.inference.conftest import random_params, small_config


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_cli")
    dataset = small_dataset()
    data_dir = dataset.save(root / "data")
    sentences = [item.title for item in dataset.catalog.values()] + [
        "Here is what the user watched recently; pick the candidate they will like next."
    ] * 3
    vocab_path = train_vocabulary(sentences, root / "vocab", vocab_size=150)
    vocab = get_vocabulary(vocab_path)
    config = small_config(model_vocab_size(vocab))
    checkpoint = export_hf(random_params(config, 2), config, root / "hf")
    return dataset, data_dir, vocab_path, checkpoint


def _argv(data_dir, vocab_path, checkpoint, out):
    return [
        "--gin_file=gin/runs/eval.gin",
        f"--gin.CHECKPOINT_PATH='{checkpoint}'",
        f"--gin.DATASET='{data_dir}'",
        f"--gin.VOCABULARY='{vocab_path}'",
        f"--gin.EVAL_OUTPUT_DIR='{out}'",
        "--gin.PROTOCOLS=('random', 'grouped100')",
        "--gin.MAX_TEST_EXAMPLES=8",
        "--gin.EvaluationConfig.max_valid_examples=8",
        "--gin.EvaluationConfig.scenarios=('sequential',)",
        "--gin.evaluate.baselines=('random', 'popularity')",
        "--gin.evaluate.progress=False",
        "--gin.ScoringBuckets.input_lengths=(512,)",
        "--gin.ScoringBuckets.target_lengths=(32,)",
        "--gin.ScoringBuckets.candidate_counts=(10,)",
    ]


def test_cli_evaluates_a_checkpoint_and_resumes(artifacts, tmp_path, capsys):
    dataset, data_dir, vocab_path, checkpoint = artifacts
    out = tmp_path / "eval"
    assert evaluate.main(_argv(data_dir, vocab_path, checkpoint, out)) == 0
    payload = json.loads((out / "metrics.json").read_text())
    models = {row["model"] for row in payload["results"]}
    assert models == {"InstructRec", "random", "popularity"}
    ours = [r for r in payload["results"] if r["model"] == "InstructRec"]
    assert {r["protocol"] for r in ours} == {"random", "grouped100"}
    # The template was chosen among the five T3 recommendation templates on validation.
    assert set(ours[0]["validation"]) == {"A7", "A8", "A9", "A10", "A13"}
    assert ours[0]["template_id"] == max(ours[0]["validation"], key=ours[0]["validation"].get)
    assert all(r["num_examples"] == 8 for r in payload["results"])
    assert "| sequential | p1_i0_t3 | InstructRec (" in capsys.readouterr().out
    shards = sorted(p.relative_to(out) for p in (out / "shards").glob("*/*.json"))
    assert len(shards) > 5 and len({p.parent for p in shards}) == 1
    # Rerun: every shard is reused, results are identical.
    assert evaluate.main(_argv(data_dir, vocab_path, checkpoint, out)) == 0
    assert sorted(p.relative_to(out) for p in (out / "shards").glob("*/*.json")) == shards
    assert json.loads((out / "metrics.json").read_text())["results"] == payload["results"]
    assert dataset.fingerprint == payload["settings"]["dataset_fingerprint"]


def test_cli_trains_a_text_baseline_with_its_gin_config(artifacts, tmp_path):
    # DSSM reads the queries through VOCABULARY; its config comes from gin bindings.
    _, data_dir, vocab_path, checkpoint = artifacts
    out = tmp_path / "eval"
    argv = [
        *_argv(data_dir, vocab_path, checkpoint, out),
        "--gin.evaluate.baselines=('dssm',)",
        "--gin.evaluate.baseline_configs={'dssm': @DSSMConfig()}",
        "--gin.DSSMConfig.max_epochs=2",
        "--gin.DSSMConfig.hidden_size=16",
        "--gin.EvaluationConfig.scenarios=('product_search',)",
        "--gin.PROTOCOLS=('random',)",
    ]
    assert evaluate.main(argv) == 0
    rows = json.loads((out / "metrics.json").read_text())["results"]
    dssm = {r["instruction_type"] for r in rows if r["model"] == "dssm"}
    assert dssm == {"p0_i1_t3", "p0_i2_t3"}  # scored once per query type
    saved = json.loads((out / "dssm" / "dssm.json").read_text())
    assert saved["config"]["max_epochs"] == 2 and saved["config"]["hidden_size"] == 16
    assert saved["extras"]["vocabulary"] == str(vocab_path)


def test_cli_reports_missing_macros(capsys):
    assert evaluate.main(["--gin_file=gin/runs/eval.gin", "--gin.DATASET='x'"]) == 2
    assert "CHECKPOINT_PATH" in capsys.readouterr().err


def test_a_misspelled_macro_is_a_usage_error(artifacts, tmp_path, capsys):
    _, data_dir, vocab_path, checkpoint = artifacts
    argv = [*_argv(data_dir, vocab_path, checkpoint, tmp_path), "--gin.MAX_TEST_EXAMPLEZ=5"]
    assert evaluate.main(argv) == 2
    error = capsys.readouterr().err
    assert "MAX_TEST_EXAMPLEZ" in error and "did you mean MAX_TEST_EXAMPLES" in error
    assert not (tmp_path / "shards").exists()


def test_a_checkpoint_replaced_at_the_same_path_is_scored_anew(artifacts, tmp_path):
    _, data_dir, vocab_path, _ = artifacts
    config = small_config(model_vocab_size(get_vocabulary(vocab_path)))
    checkpoint = export_hf(random_params(config, 2), config, tmp_path / "hf")
    out = tmp_path / "eval"
    assert evaluate.main(_argv(data_dir, vocab_path, checkpoint, out)) == 0
    first = json.loads((out / "metrics.json").read_text())
    export_hf(random_params(config, 7), config, tmp_path / "hf")  # same path, new weights
    assert evaluate.main(_argv(data_dir, vocab_path, checkpoint, out)) == 0
    second = json.loads((out / "metrics.json").read_text())
    assert len({p.parent for p in (out / "shards").glob("*/*.json")}) == 2
    assert first["settings"]["run"]["checkpoint"] == second["settings"]["run"]["checkpoint"]
    fingerprints = [run["settings"]["run"]["checkpoint_fingerprint"] for run in (first, second)]
    assert fingerprints[0] != fingerprints[1]


def test_the_checkpoint_is_resolved_once_for_loading_and_the_cache_key(
    artifacts, tmp_path, monkeypatch
):
    from instructrec_jax.evaluation import job

    _, data_dir, vocab_path, _ = artifacts
    config = small_config(model_vocab_size(get_vocabulary(vocab_path)))
    model_dir = tmp_path / "model"
    step_1 = export_hf(random_params(config, 2), config, model_dir / "checkpoint_1")
    loaded, captured = [], {}
    load = job.load_model_params
    make_baselines = job.make_baselines

    def record_load(path, model_config, *shardings):
        loaded.append(str(path))
        return load(path, model_config, *shardings)

    def trainer_saves_meanwhile(*args):
        # A trainer writes a newer checkpoint while the baselines are built (SASRec trains).
        export_hf(random_params(config, 3), config, model_dir / "checkpoint_2")
        return make_baselines(*args)

    def capture(*args, **kwargs):
        captured["run_settings"] = args[-1]
        return "result"

    monkeypatch.setattr(job, "load_model_params", record_load)
    monkeypatch.setattr(job, "make_baselines", trainer_saves_meanwhile)
    monkeypatch.setattr(evaluate, "run_evaluation", capture)
    result = evaluate.evaluate_checkpoint(
        str(model_dir),
        str(data_dir),
        str(vocab_path),
        str(tmp_path / "eval"),
        hf_config=str(step_1 / "config.json"),
        baselines=("random",),
        hard_negative_retriever=None,
        progress=False,
    )
    assert result == "result"
    assert loaded == [str(step_1)]
    assert captured["run_settings"]["checkpoint"] == str(step_1)
