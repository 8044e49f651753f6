"""A run killed with SIGKILL after a checkpoint, or stopped by SIGTERM (preemption), and
restarted ends bitwise equal to an uninterrupted run (dropout on, shuffled seeded input,
async Orbax checkpoints)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

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


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The uninterrupted 6-step run: (folder with straight.npz[.json], env with its cache)."""
    folder = tmp_path_factory.mktemp("straight")
    env = _env(folder / "jax_cache")
    _run(_command(folder / "run", folder / "straight.npz"), env)
    return folder, env


def _assert_resumed_matches_straight(resumed_out: Path, straight_out: Path, step: int) -> None:
    resumed_info = json.loads(Path(f"{resumed_out}.json").read_text())
    assert resumed_info["resumed_from"] == step
    straight_info = json.loads(Path(f"{straight_out}.json").read_text())
    # The resumed run logged the steps after ``step`` only; their losses equal the straight run's.
    assert resumed_info["losses"] == straight_info["losses"][step:]
    straight_params = _load(straight_out)
    resumed_params = _load(resumed_out)
    assert straight_params.keys() == resumed_params.keys() and straight_params
    for name, value in straight_params.items():
        np.testing.assert_array_equal(resumed_params[name], value, err_msg=name)


def test_sigkill_then_restart_matches_uninterrupted_run_bitwise(tmp_path, straight):
    straight_dir, env = straight

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
    _assert_resumed_matches_straight(tmp_path / "resumed.npz", straight_dir / "straight.npz", 4)


def test_sigterm_saves_the_current_step_and_the_restart_matches_bitwise(tmp_path, straight):
    straight_dir, env = straight
    model_dir = tmp_path / "preempted"
    # No periodic checkpoint before the end: whatever is saved at step 3 is the preemption's.
    command = _command(model_dir, tmp_path / "unused.npz", "--checkpoint_period=100")
    preempted = subprocess.run(
        [*command, "--preempt_at=3"], env=env, capture_output=True, text=True, timeout=600
    )
    assert preempted.returncode == 143, preempted.stderr[-4000:]
    assert "preempted at step 3" in preempted.stderr
    assert sorted(path.name for path in model_dir.glob("checkpoint_*")) == ["checkpoint_3"]
    _run(_command(model_dir, tmp_path / "resumed.npz", "--checkpoint_period=100"), env)
    _assert_resumed_matches_straight(tmp_path / "resumed.npz", straight_dir / "straight.npz", 3)
