"""Evaluation across hosts: 2 processes x 2 CPU devices (jax.distributed over gloo, through
``evaluate.py``'s own flags, output directories not shared) give the metrics of 1 process;
each process scores only its half of the shards and only process 0 writes the reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.evaluation.test_evaluate import _argv, artifacts  # noqa: F401  (fixture)
from tests.local_cluster import start_workers, subprocess_env, wait_all

DRIVER = Path(__file__).resolve().parent / "eval_driver.py"


@pytest.mark.multiprocess
@pytest.mark.slow
def test_two_processes_give_the_metrics_of_one(artifacts, tmp_path):  # noqa: F811
    _, data_dir, vocab_path, checkpoint = artifacts
    argv = [
        *_argv(data_dir, vocab_path, checkpoint, tmp_path / "unused"),
        "--gin.PROTOCOLS=('random',)",
        "--gin.EvaluationConfig.shard_size=3",
    ]
    argv = [a for a in argv if not a.startswith("--gin.EVAL_OUTPUT_DIR")]
    workers = start_workers(DRIVER, [f"--out={tmp_path / 'multi'}", *argv], 2)
    # The single run has the same 2 devices per process, so the same per-device shapes.
    alone = subprocess.Popen(
        [sys.executable, str(DRIVER), f"--out={tmp_path / 'single'}", *argv],
        env=subprocess_env(DRIVER.parent),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_all([*workers, alone])
    single = tmp_path / "single" / "process_0"

    want = json.loads((single / "metrics.json").read_text())
    first, second = tmp_path / "multi" / "process_0", tmp_path / "multi" / "process_1"
    got = json.loads((first / "metrics.json").read_text())
    assert got["results"] == want["results"]
    assert {row["model"] for row in got["results"]} == {"InstructRec", "random", "popularity"}
    assert not (second / "metrics.json").exists() and not (second / "results.md").exists()
    # 8 users in shards of 3: shards 0 and 2 on process 0, shard 1 on process 1.
    names = {
        process: {p.name for p in d.glob("shards/*/*.json")}
        for process, d in ((0, first), (1, second))
    }
    all_names = {p.name for p in single.glob("shards/*/*.json")}
    assert names[0] | names[1] == all_names and not names[0] & names[1]
    assert all("shard-00001" in name for name in names[1])
    assert all("shard-00001" not in name for name in names[0])
