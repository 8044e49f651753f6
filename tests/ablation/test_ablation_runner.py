"""run_ablation: 3 arms end to end on synthetic data, a resume after a kill that redoes no
finished arm, the report with intervals and both charts, collecting."""

from __future__ import annotations

import json

import pytest

from instructrec_jax.ablation import arms as arms_lib
from instructrec_jax.ablation.runner import run_ablation
from tests.ablation.helpers import ARMS, small_config


class _Killed(RuntimeError):
    pass


@pytest.mark.slow
def test_three_arms_end_to_end_resume_after_a_kill(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTREC_DATA_DIR", str(tmp_path / "data"))
    from instructrec_jax import compilation_cache

    compilation_cache.enable(str(tmp_path / "xla"))  # arms share shapes: compile once
    config = small_config(tmp_path / "ablation")
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
    assert set(payload["paired_tests"]) == {"ladder_1", "all_but_p1_i1_t3", "baseline: popularity"}

    # Collecting (nothing trained, no workspace) reads the same evaluations.
    collected = run_ablation(config, collect_only=True, log=lambda _: None)
    assert json.loads(collected.json_path.read_text())["arms"] == payload["arms"]


def test_collect_only_lists_missing_arms_and_needs_the_reference(tmp_path):
    with pytest.raises(ValueError, match="reference arm 'all'"):
        run_ablation(small_config(tmp_path), collect_only=True, log=lambda _: None)
