"""The gin entry point: clear one-line errors before compiling, config.gin, a short run."""

from __future__ import annotations

from pathlib import Path

import pytest
import training_tiny_task

from instructrec_jax import train as train_cli
from instructrec_jax.checkpoints.loader import checkpoint_model_config
from instructrec_jax.models.config import T5Config

HERE = Path(__file__).resolve().parent


def _argv(model_dir, *extra):
    return [
        "--gin_file=runs/finetune.gin",
        f"--gin_search_paths={HERE}",
        "--gin_file=tiny_model.gin",
        "--gin.MIXTURE_OR_TASK_MODULE='training_tiny_task'",
        "--gin.TASK_FEATURE_LENGTHS={'inputs': 16, 'targets': 8}",
        "--gin.BATCH_SIZE=8",
        "--gin.PEAK_FLOPS_PER_DEVICE=1e9",
        *([f"--gin.MODEL_DIR='{model_dir}'"] if model_dir else []),
        *extra,
    ]


def _error_line(capsys, argv):
    assert train_cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_missing_required_macro_is_named(capsys):
    line = _error_line(capsys, _argv(None, "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'"))
    assert "MODEL_DIR" in line and "--gin.MODEL_DIR" in line


def test_macro_reset_to_required_by_a_later_file_is_caught(capsys, tmp_path):
    resetting = tmp_path / "resets.gin"
    resetting.write_text("MODEL_DIR = %gin.REQUIRED\n")
    argv = _argv(None, "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'")
    argv.insert(0, f"--gin_file={resetting}")
    argv.append(f"--gin_file={resetting}")
    assert "required gin macro MODEL_DIR" in _error_line(capsys, argv)


def test_unknown_binding_names_the_closest_parameter(capsys, tmp_path):
    line = _error_line(
        capsys,
        _argv(tmp_path, "--gin.MIXTURE_OR_TASK_NAME='x'", "--gin.TrainConfig.batch_sise=4"),
    )
    assert "batch_sise" in line and "batch_size" in line
    line = _error_line(capsys, _argv(tmp_path, "--gin.TrainConfg.seed=4"))
    assert "TrainConfg" in line and "TrainConfig" in line


def test_unregistered_task_names_close_matches(capsys, tmp_path):
    line = _error_line(capsys, _argv(tmp_path, "--gin.MIXTURE_OR_TASK_NAME='training_tiny_cpy'"))
    assert "training_tiny_cpy" in line and "training_tiny_copy" in line
    assert not (tmp_path / "config.gin").exists()  # stopped before anything was written


def test_missing_task_module_is_named(capsys, tmp_path):
    line = _error_line(
        capsys,
        _argv(
            tmp_path,
            "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'",
            "--gin.MIXTURE_OR_TASK_MODULE='no_such_tasks_module'",
        ),
    )
    assert "no_such_tasks_module" in line


def test_task_module_configurables_are_bindable_without_a_gin_import(tmp_path):
    from instructrec_jax.training import gin_setup

    argv = _argv(
        tmp_path,
        "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'",
        "--gin.tiny_task_option.value=3",
    )
    flags, bindings = train_cli.parse_args(argv)
    gin_setup.parse(flags.gin_file, bindings, [str(HERE)])
    config = gin_setup.build_train_config()
    assert config.mixture_or_task_module == "training_tiny_task"
    assert type(config.model) is T5Config and config.model.d_model == 32

    import training_tiny_task

    import gin

    assert gin.query_parameter("tiny_task_option.value") == 3
    assert training_tiny_task.tiny_task_option() == 3


def test_unwritable_model_dir_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    line = _error_line(
        capsys, _argv(blocker / "run", "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'")
    )
    assert line.startswith("python -m instructrec_jax.train: error: MODEL_DIR ")
    assert "is not writable" in line


def test_bad_schedule_and_mesh_are_named_before_anything_is_written(capsys, tmp_path):
    task = "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'"
    line = _error_line(capsys, _argv(tmp_path / "run", task, "--gin.LEARNING_RATE_SCHEDULE='cos'"))
    assert "TrainConfig.learning_rate_schedule 'cos' is unknown" in line
    line = _error_line(capsys, _argv(tmp_path / "run", task, "--gin.MESH_SHAPE=(3, 3)"))
    assert "MESH_SHAPE" in line and "8 devices" in line
    assert not (tmp_path / "run").exists()


def test_unknown_flag_is_rejected():
    with pytest.raises(SystemExit):
        train_cli.parse_args(["--gin_fil=x.gin"])
    with pytest.raises(SystemExit):
        train_cli.parse_args(["--gin.MODEL_DIR"])


def test_short_run_writes_config_gin_and_metrics(capsys, tmp_path):
    argv = _argv(
        tmp_path / "run",
        "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'",
        "--gin.TRAIN_STEPS=2",
        "--gin.LOG_PERIOD=1",
        "--gin.EVAL_PERIOD=0",
        "--gin.CHECKPOINT_PERIOD=2",
        # The train loop test's settings: the same program, compiled once per session.
        "--gin.DROPOUT_RATE=0.1",
        "--gin.LEARNING_RATE=1e-2",
        "--gin.NUM_PARTITIONS=2",
        "--gin.NUM_MICROBATCHES=2",
        "--gin.PROFILE_FIRST_STEP=2",
        "--gin.PROFILE_STEPS=1",
    )
    assert train_cli.main(argv) == 0
    config_gin = (tmp_path / "run" / "config.gin").read_text()
    assert "MODEL_DIR = " in config_gin and "TRAIN_STEPS = 2" in config_gin
    assert "T5Config.d_model = 32" in config_gin
    # The model dir brings its model: score/evaluate read it back from config.gin.
    brought = checkpoint_model_config(tmp_path / "run")
    assert brought == training_tiny_task.tiny_model_config(dropout_rate=0.1)
    assert (tmp_path / "run" / "metrics.jsonl").read_text().count("\n") == 2
    assert (tmp_path / "run" / "checkpoint_2").is_dir()
    out = capsys.readouterr().out
    assert "trained to step 2" in out
    assert "XLA compilation cache: off" in out  # tests/conftest.py turns it off
    # The profiler window (step 2 only) left one trace where TensorBoard looks for it.
    assert len(list((tmp_path / "run" / "train").glob("plugins/profile/*/*.xplane.pb"))) == 1
    assert "profile of steps 2-2 in " in out


def test_a_misspelled_macro_is_a_usage_error_naming_the_close_match(capsys, tmp_path):
    task = "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'"
    line = _error_line(capsys, _argv(tmp_path / "run", task, "--gin.TRAIN_STEPZ=5"))
    assert "--gin.TRAIN_STEPZ" in line and "did you mean TRAIN_STEPS" in line
    assert not (tmp_path / "run").exists()


def test_resuming_with_other_settings_changes_nothing_and_names_the_setting(capsys, tmp_path):
    argv = _argv(
        tmp_path / "run",
        "--gin.MIXTURE_OR_TASK_NAME='training_tiny_copy'",
        "--gin.TRAIN_STEPS=2",
        "--gin.LOG_PERIOD=1",
        "--gin.CHECKPOINT_PERIOD=2",
    )
    assert train_cli.main(argv) == 0
    run = tmp_path / "run"
    record = {name: (run / name).read_bytes() for name in ("config.gin", "train_config.json")}
    capsys.readouterr()
    line = _error_line(capsys, [*argv, "--gin.T5Config.vocab_size=256", "--gin.TRAIN_STEPS=4"])
    assert "T5Config.vocab_size=64, not 256" in line and "new MODEL_DIR" in line
    assert {name: (run / name).read_bytes() for name in record} == record
    assert sorted(p.name for p in run.glob("checkpoint_*")) == ["checkpoint_2"]
