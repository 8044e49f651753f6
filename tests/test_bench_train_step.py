"""bench/train_step.py runs end to end (a one-layer model, one step, both implementations).

A smoke test: it keeps the benchmark runnable; the timings themselves are the benchmark's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_train_step_bench_runs_and_prints_the_ratio():
    command = [
        sys.executable,
        str(REPO / "bench" / "train_step.py"),
        "--layers=1",
        "--vocab=64",
        "--batch=2",
        "--inputs=8",
        "--targets=4",
        "--steps=1",
        "--repeats=1",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "batch 2 x (inputs 8 + targets 4), float32" in done.stdout
    assert "hf torch:" in done.stdout
    assert "speed-up (ours / HF, tokens/s):" in done.stdout
