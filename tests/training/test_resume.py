"""A run killed with SIGKILL after a checkpoint and restarted ends bitwise equal to an
uninterrupted run (dropout on, shuffled seeded input, async Orbax checkpoints)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DRIVER = HERE / "training_driver.py"


def _env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE), env.get("PYTHONPATH", "")])
    # Share compiled executables between the three runs (same program, same binary).
    env["JAX_COMPILATION_CACHE_DIR"] = str(cache_dir)
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    return env


def _command(model_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(DRIVER),
        f"--model_dir={model_dir}",
        "--steps=6",
        f"--out={out}",
        *extra,
    ]


def _run(command: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def test_sigkill_then_restart_matches_uninterrupted_run_bitwise(tmp_path):
    env = _env(tmp_path / "jax_cache")
    _run(_command(tmp_path / "straight", tmp_path / "straight.npz"), env)

    interrupted_dir = tmp_path / "interrupted"
    process = subprocess.Popen(
        _command(interrupted_dir, tmp_path / "unused.npz", "--block_at=4"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while not (interrupted_dir / "blocked").exists():
        assert process.poll() is None, process.stderr.read()[-4000:]
        assert time.monotonic() < deadline, "the run never reached step 4"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (interrupted_dir / "checkpoint_6").exists()

    _run(_command(interrupted_dir, tmp_path / "resumed.npz"), env)
    resumed_info = json.loads((tmp_path / "resumed.npz.json").read_text())
    assert resumed_info["resumed_from"] == 4
    straight_info = json.loads((tmp_path / "straight.npz.json").read_text())
    # The resumed run logged steps 5 and 6 only; their losses equal the straight run's.
    assert resumed_info["losses"] == straight_info["losses"][4:]

    straight = _load(tmp_path / "straight.npz")
    resumed = _load(tmp_path / "resumed.npz")
    assert straight.keys() == resumed.keys() and straight
    for name, value in straight.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)
