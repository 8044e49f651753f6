"""evaluate's zero-shot rows, cross-domain and full-catalog runs from the gin/runs files."""

from __future__ import annotations

import json

from instructrec_jax import evaluate
from instructrec_jax.checkpoints import export_hf
from instructrec_jax.data import PrepareConfig, make_synthetic, prepare
from instructrec_jax.evaluation.reports import CATALOG_COLUMNS
from tests.evaluation.test_evaluate import _argv, artifacts  # noqa: F401  (fixture)
from tests.inference.conftest import random_params, small_config


def _untuned(vocab_size: int, path) -> str:
    return str(
        export_hf(random_params(small_config(vocab_size), 7), small_config(vocab_size), path)
    )


def test_cross_domain_scores_target_text_with_the_source_vocabulary(
    artifacts,  # noqa: F811
    tmp_path,
):
    source, _, vocab_path, checkpoint = artifacts
    target = prepare(
        make_synthetic(num_users=40, num_items=120, num_categories=3, seed=5),
        PrepareConfig(k_core=2),
    )
    target_dir = target.save(tmp_path / "target")
    vocab_size = json.loads((checkpoint / "config.json").read_text())["vocab_size"]
    untuned = _untuned(vocab_size, tmp_path / "untuned")
    out = tmp_path / "eval"
    argv = [
        *_argv(target_dir, vocab_path, checkpoint, out),
        "--gin_file=runs/cross_domain.gin",
        "--gin.SOURCE_DATASET='synthetic-a'",
        f"--gin.UNTUNED_CHECKPOINT='{untuned}'",
        "--gin.evaluate.baselines=('random',)",
        "--gin.PROTOCOLS=('random',)",
    ]
    assert evaluate.main(argv) == 0
    payload = json.loads((out / "metrics.json").read_text())
    rows = payload["results"]
    assert {r["model"] for r in rows} == {
        "InstructRec (trained on synthetic-a)",
        "untuned",
        "random",
    }
    assert {r["num_examples"] for r in rows} == {8} and {r["protocol"] for r in rows} == {"random"}
    run = payload["settings"]["run"]
    assert run["vocabulary"] == str(vocab_path) and run["source_dataset"] == "synthetic-a"
    assert run["zero_shot_checkpoints"]["untuned"]["vocabulary"] == str(vocab_path)
    coverage = run["vocabulary_coverage"]
    assert coverage["texts"] == len(target.catalog) and coverage["pieces"] > coverage["texts"]
    assert payload["settings"]["dataset_fingerprint"] == target.fingerprint != source.fingerprint


def test_full_catalog_run_file_ranks_the_whole_catalog(artifacts, tmp_path):  # noqa: F811
    _, data_dir, vocab_path, checkpoint = artifacts
    out = tmp_path / "eval"
    argv = [
        *_argv(data_dir, vocab_path, checkpoint, out),
        "--gin_file=runs/full_catalog.gin",
        "--gin.PROTOCOLS=('full_catalog',)",
        "--gin.MAX_TEST_EXAMPLES=4",
        "--gin.EvaluationConfig.scenarios=('sequential',)",
        "--gin.evaluate.baselines=('sasrec',)",
    ]
    assert evaluate.main(argv) == 0
    payload = json.loads((out / "metrics.json").read_text())
    rows = {r["model"]: r for r in payload["results"]}
    assert set(rows) == {"InstructRec", "sasrec"}
    assert rows["InstructRec"]["template_id"] == "A1" and rows["sasrec"]["template_id"] == ""
    for row in rows.values():
        assert row["protocol"] == "full_catalog" and row["num_examples"] == 4
        assert set(row["metrics"]) == set(CATALOG_COLUMNS)
    assert payload["settings"]["run"]["generation_beam_size"] == 20


def test_chat_row_from_the_gin_file_against_a_local_endpoint(
    artifacts,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    from tests.evaluation.test_chat_ranker import _RankingServer

    _, data_dir, vocab_path, checkpoint = artifacts
    server = _RankingServer(garbage_every=4)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-logged-123")
    out = tmp_path / "eval"
    try:
        argv = [
            *_argv(data_dir, vocab_path, checkpoint, out),
            "--gin_file=runs/chat_zero_shot.gin",
            f"--gin.CHAT_BASE_URL='{server.url}'",
            f"--gin.CHAT_CACHE='{tmp_path / 'chat.sqlite'}'",
            "--gin.PROTOCOLS=('random',)",
            "--gin.evaluate.baselines=('random',)",
        ]
        assert evaluate.main(argv) == 0
    finally:
        server.close()
    payload = json.loads((out / "metrics.json").read_text())
    assert {r["model"] for r in payload["results"]} == {
        "InstructRec",
        "chat:gpt-3.5-turbo",
        "random",
    }
    counts = payload["settings"]["diagnostics"]["chat:gpt-3.5-turbo"]
    assert counts["answers"] == server.count == 16 and counts["unparseable"] == 4
    assert "sk-not-logged-123" not in (out / "metrics.json").read_text()
