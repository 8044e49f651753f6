"""The end-to-end demo runs on a small synthetic dataset and reports every model."""

from __future__ import annotations

import json

import pytest
import seqio

import gin
from instructrec_jax import demo
from instructrec_jax.data import load_processed


@pytest.fixture
def stale_gin_bindings():
    """Bindings an earlier gin parse in the same process could have left behind."""
    import instructrec_jax.evaluate  # noqa: F401  (registers `evaluate`)

    gin.clear_config()
    gin.bind_parameter("evaluate.output_dir", "/nonexistent/eval")
    gin.bind_parameter("demo.train_steps", 999)
    yield
    gin.clear_config()


@pytest.mark.slow
def test_demo_runs_end_to_end_on_synthetic_data(tmp_path, monkeypatch, stale_gin_bindings):
    monkeypatch.setenv("INSTRUCTREC_DATA_DIR", str(tmp_path / "data"))
    config = demo.DemoConfig(
        work_dir=str(tmp_path / "demo"),
        dataset="synthetic",
        dataset_kwargs={"num_users": 200, "num_items": 160, "num_categories": 4, "seed": 0},
        vocab_size=400,
        title_pieces=True,
        mixtures={"rank": ["recommendation/p1_i0_t3", "personalized_search/p1_i1_t3"]},
        mixture="instructrec_{dataset}_rank",
        train_steps=4,
        batch_size=8,
        warmup_steps=2,
        input_length=128,
        target_length=32,
        protocols=("random",),
        scenarios=("sequential",),
        hard_protocols=("full100",),  # 1 + 99 candidates: the catalog must exceed 100
        hard_scenarios=("sequential",),
        hard_max_test_examples=4,
        baselines=("random", "popularity"),
        max_test_examples=8,
        max_valid_examples=4,
        shuffle_buffer_size=64,
        workers=1,
    )
    table_path = demo.run_demo(config)

    table = table_path.read_text()
    for model in ("InstructRec", "random", "popularity"):
        assert model in table
    metrics = json.loads((tmp_path / "demo" / "eval" / "metrics.json").read_text())
    assert metrics  # rows of test metrics were written
    assert (tmp_path / "demo" / "eval" / "chart.png").stat().st_size > 0
    # The explicit config wins over any gin state: 4 steps, reports under tmp_path.
    assert (tmp_path / "demo" / "model" / "checkpoint_4").is_dir()
    assert "full100" in (tmp_path / "demo" / "eval_hard" / "results.md").read_text()
    train_config = json.loads((tmp_path / "demo" / "model" / "train_config.json").read_text())
    assert train_config["mixture_or_task_name"] == "instructrec_synthetic_rank"
    vocab = seqio.SentencePieceVocabulary(
        str(tmp_path / "demo" / "instructions" / "vocab" / "spm.model")
    )
    some_title = next(iter(load_processed(tmp_path / "demo" / "processed").catalog.values())).title
    assert len(vocab.encode(some_title)) == 1  # title_pieces: a title is one piece


def test_flags_split_into_gin_files_and_bindings():
    flags = demo.parse_flags(
        ["--gin_file=x.gin", "--gin.TRAIN_STEPS=5", "--compilation_cache_dir=/tmp/c"]
    )
    assert flags.gin_files == ["x.gin"]
    assert flags.bindings == ["TRAIN_STEPS = 5"]
    assert flags.search_folders[-1].endswith("gin")
    assert flags.compilation_cache_dir == "/tmp/c"
    flags = demo.parse_flags([])
    assert flags.gin_files == [demo.DEFAULT_GIN_FILE]
    assert flags.compilation_cache_dir is None
    with pytest.raises(SystemExit):
        demo.parse_flags(["--unknown"])


def test_a_bad_gin_binding_is_one_error_line(capsys):
    # A string without gin quotes: rejected with the quoting that works, before any work.
    with pytest.raises(SystemExit):
        demo.main(["--gin.WORK_DIR=/tmp/x"])
    assert "not a gin value" in capsys.readouterr().err
    # An unknown configurable in a binding that parses: one line, exit code 2.
    assert demo.main(["--gin_bindings=no_such_thing.x = 1"]) == 2
    assert capsys.readouterr().err.startswith(
        "python -m instructrec_jax.demo: error: unknown gin configurable 'no_such_thing'"
    )
    gin.clear_config()
