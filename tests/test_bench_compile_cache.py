"""bench/compile_cache.py runs end to end: three processes (cache off, cold, warm).

A smoke test: it keeps the benchmark runnable; the timings themselves are the benchmark's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_compile_cache_bench_runs_three_processes_and_prints_the_ratio():
    command = [
        sys.executable,
        str(REPO / "bench" / "compile_cache.py"),
        "--batch=1",
        "--inputs=8",
        "--targets=4",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = re.findall(r"^ *(off|cold|warm): build \+ first step +[\d.]+ s", done.stdout, re.M)
    assert rows == ["off", "cold", "warm"]
    assert re.search(r"warm cache vs off: build \+ first step [\d.]+x faster", done.stdout)
