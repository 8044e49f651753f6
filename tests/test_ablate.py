"""``python -m instructrec_jax.ablate``: a 3-arm ablation end to end on synthetic data, a
resume after a kill that redoes no finished arm, the report with intervals and both charts,
collecting, and the per-arm TPU launch commands."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from instructrec_jax import ablate
from instructrec_jax.ablation import arms as arms_lib
from instructrec_jax.ablation.config import AblationConfig
from instructrec_jax.ablation.launch import REPO, launch_commands
from instructrec_jax.ablation.runner import run_ablation

ARMS = {
    "all": {"mixture": "instructrec_{dataset}_all"},
    "ladder_1": {"mixture": "instructrec_{dataset}_ladder_1", "learning_rate": 5e-3},
    "all_but_p1_i1_t3": {"mixture": "instructrec_{dataset}_all_but_p1_i1_t3"},
}


def _config(work_dir) -> AblationConfig:
    return AblationConfig(
        work_dir=str(work_dir),
        dataset="synthetic",
        dataset_kwargs={"num_users": 60, "num_items": 60, "num_categories": 3, "seed": 0},
        vocab_size=300,
        workers=1,
        shuffle_buffer_size=32,
        arms=ARMS,
        reference="all",
        train_steps=1,
        batch_size=8,
        warmup_steps=1,
        input_length=128,
        target_length=32,
        scenarios=("sequential", "personalized_search"),
        max_test_examples=8,
        max_valid_examples=2,
        baselines=("popularity",),
        bootstrap_resamples=200,
    )


class _Killed(RuntimeError):
    pass


@pytest.mark.slow
def test_three_arms_end_to_end_resume_after_a_kill(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTREC_DATA_DIR", str(tmp_path / "data"))
    from instructrec_jax import compilation_cache

    compilation_cache.enable(str(tmp_path / "xla"))  # arms share shapes: compile once
    config = _config(tmp_path / "ablation")
    trained: list[str] = []
    real_train, real_evaluate = arms_lib.train_arm, arms_lib.evaluate_arm

    def spy_train(run, workspace):
        trained.append(run.arm.name)
        real_train(run, workspace)

    def killed_evaluate(run, config, workspace):
        if run.arm.name == "ladder_1":
            raise _Killed("simulated kill while evaluating the second arm")
        real_evaluate(run, config, workspace)

    monkeypatch.setattr(arms_lib, "train_arm", spy_train)
    monkeypatch.setattr(arms_lib, "evaluate_arm", killed_evaluate)
    with pytest.raises(_Killed):
        run_ablation(config, log=lambda _: None)
    assert trained == ["all", "ladder_1"]
    marker = arms_lib.read_marker(tmp_path / "ablation/arms/ladder_1/seed_0")
    assert marker["status"] == "started"

    trained.clear()
    monkeypatch.setattr(arms_lib, "evaluate_arm", real_evaluate)
    result = run_ablation(config, log=lambda _: None)
    assert trained == ["ladder_1", "all_but_p1_i1_t3"]  # 'all' was done: not redone
    assert result.trained == ["ladder_1/seed_0", "all_but_p1_i1_t3/seed_0"]
    assert result.missing == []

    text = result.markdown_path.read_text()
    for arm in (*ARMS, "baseline: popularity"):
        assert f"| {arm} | sequential | p1_i0_t3 | random |" in text
    assert "| all_but_p1_i1_t3 | personalized_search | p1_i1_t3 | random | HR@1 |" in text
    assert "![Instruction diversity](diversity.png)" in text
    assert "![Held-out instruction type](held_out.png)" in text
    for chart in (result.diversity_chart, result.held_out_chart):
        assert chart.read_bytes()[:4] == b"\x89PNG"
    payload = json.loads(result.json_path.read_text())
    cell = payload["arms"]["ladder_1"]["sequential/p1_i0_t3/random"]
    low, high = cell["intervals"]["HR@1"]
    assert low <= cell["metrics"]["HR@1"] <= high and cell["num_users"] == 8
    assert set(payload["paired_tests"]) == {"ladder_1", "all_but_p1_i1_t3"}

    # Collecting (nothing trained, no workspace) reads the same evaluations.
    collected = run_ablation(config, collect_only=True, log=lambda _: None)
    assert json.loads(collected.json_path.read_text())["arms"] == payload["arms"]


def test_a_finished_arm_is_done_only_under_the_same_fingerprint(tmp_path):
    (run, *_) = arms_lib.arm_runs(_config(tmp_path))
    assert not arms_lib.is_done(run, "abc")  # nothing there yet
    run.metrics_path.parent.mkdir(parents=True)
    run.metrics_path.write_text("{}")
    marker = {"fingerprint": "abc", "settings": {}, "status": "started"}
    (run.model_dir / arms_lib.MARKER_FILE).write_text(json.dumps(marker))
    assert not arms_lib.is_done(run, "abc")  # started, not finished: resumes
    (run.model_dir / arms_lib.MARKER_FILE).write_text(json.dumps({**marker, "status": "done"}))
    assert arms_lib.is_done(run, "abc")
    # Changed settings under an arm's name are refused, not mixed into its MODEL_DIR.
    with pytest.raises(ValueError, match="other settings"):
        arms_lib.is_done(run, "def")
    assert arms_lib.fingerprint({"a": 1, "b": 2}) == arms_lib.fingerprint({"b": 2, "a": 1})


def test_collect_only_lists_missing_arms_and_needs_the_reference(tmp_path):
    with pytest.raises(ValueError, match="reference arm 'all'"):
        run_ablation(_config(tmp_path), collect_only=True, log=lambda _: None)


def test_config_rejects_bad_arms():
    with pytest.raises(ValueError, match="unknown fields \\['lr'\\]"):
        AblationConfig(arms={"all": {"mixture": "m", "lr": 1.0}}, reference="all")
    with pytest.raises(ValueError, match="reference 'x' is not an arm"):
        AblationConfig(arms={"all": {"mixture": "m"}}, reference="x")
    with pytest.raises(ValueError, match="names no 'mixture'"):
        AblationConfig(arms={"all": {}}, reference="all")


def test_arm_reads_what_it_ablates_from_its_mixture():
    config = AblationConfig(
        dataset="ml-100k",
        arms={
            "all": {"mixture": "instructrec_{dataset}_all"},
            "held": {"mixture": "instructrec_{dataset}_all_but_p1_i1_t3"},
            "family_out": {"mixture": "instructrec_{dataset}_all_but_search"},
            "ladder": {"mixture": "instructrec_{dataset}_ladder_4", "train_steps": 9},
            "search": {"mixture": "instructrec_{dataset}_search"},
        },
    )
    assert config.arm("held").held_out_type == "p1_i1_t3"
    assert config.arm("held").mixture == "instructrec_ml100k_all_but_p1_i1_t3"
    assert config.arm("family_out").held_out_type is None
    assert config.arm("ladder").ladder_size == 4
    assert config.arm("ladder").settings["train_steps"] == 9
    assert config.arm("all").settings["train_steps"] == config.train_steps
    assert config.arm("search").trained_family == "product_search"


def test_launch_commands_dry_run_one_gcloud_launch_per_arm(tmp_path):
    config = _config(tmp_path)
    commands = launch_commands(config, "gs://b/abl", "irec", "us-central2-b", dry_run=True)
    assert len(commands) == 3
    assert "--gin.MODEL_DIR='gs://b/abl/ladder_1/seed_0'" in commands[1]
    assert "--gin.LEARNING_RATE=0.005" in commands[1]
    assert "--gin.MIXTURE_OR_TASK_NAME='instructrec_synthetic_all'" in commands[0]
    completed = subprocess.run(
        ["bash", *commands[2]],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    (ssh,) = [shlex.split(line) for line in completed.stdout.splitlines()]
    assert ssh[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh"]
    assert "all_but_p1_i1_t3/seed_0" in ssh[-2] + ssh[-1] + " ".join(ssh)


def test_cli_bad_gin_is_one_error_line(capsys):
    assert ablate.main(["--gin_file=runs/ablation.gin", "--gin.ablation.reference='x'"]) == 2
    assert "reference 'x' is not an arm" in capsys.readouterr().err
