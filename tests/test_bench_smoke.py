"""The benchmarks under bench/ run end to end on tiny shapes.

Smoke tests: they keep the benchmarks runnable; the timings themselves are the benchmarks'.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run_bench(script: str, *flags: str) -> str:
    """stdout of ``python bench/<script> <flags>``, which must exit 0."""
    command = [sys.executable, str(REPO / "bench" / script), *flags]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_train_step_bench_runs_both_implementations_and_prints_the_ratio():
    out = _run_bench(
        "train_step.py",
        "--layers=1",
        "--vocab=64",
        "--batch=2",
        "--inputs=8",
        "--targets=4",
        "--steps=1",
        "--repeats=1",
    )
    assert "batch 2 x (inputs 8 + targets 4), float32" in out
    assert "hf torch:" in out
    hf_params, our_params = re.search(r"([\d,]+) parameters \(ours ([\d,]+)\)", out).groups()
    assert hf_params == our_params  # untied head on both sides
    assert "speed-up (ours / HF, tokens/s):" in out
    target = r"^target 1\.50x HF: [\d.]+ ms/step, MFU [\d.]+% of the measured peak \((above|within)"
    assert re.search(target, out, re.M)


def test_compile_cache_bench_runs_three_processes_and_prints_the_ratio():
    out = _run_bench("compile_cache.py", "--batch=1", "--inputs=8", "--targets=4")
    rows = re.findall(r"^ *(off|cold|warm): build \+ first step +[\d.]+ s", out, re.M)
    assert rows == ["off", "cold", "warm"]
    assert re.search(r"warm cache vs off: build \+ first step [\d.]+x faster", out)


def test_compile_scan_bench_compiles_both_layouts_and_prints_the_ratio():
    out = _run_bench(
        "compile_scan.py",
        "--preset=tiny",
        "--layers=1",
        "--vocab=64",
        "--batch=8",  # the suite runs 8 CPU devices (tests/conftest.py)
        "--inputs=8",
        "--targets=4",
        "--dtype=float32",
    )
    rows = re.findall(
        r"^ +1 layers (unrolled|scanned ): lower +[\d.]+ s +compile +[\d.]+ s", out, re.M
    )
    assert rows == ["unrolled", "scanned "]
    assert re.search(r"^ +1 layers unrolled / scanned: [\d.]+x$", out, re.M)
