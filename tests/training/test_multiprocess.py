"""2 processes x 2 CPU devices (jax.distributed over gloo) train like 1 process x 4 devices,
and stop together at one agreed step on SIGTERM.

Unshuffled input and no dropout: each host reads every other example (SeqIO sharding), so
the global batch holds the same examples as the single-process batch but in another row
order; without dropout (whose masks follow rows) the losses agree up to summation order.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.local_cluster import free_port, subprocess_env

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "training_driver.py"


def _env() -> dict[str, str]:
    return subprocess_env(HERE)


def _command(model_dir: Path, out: Path, devices: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(DRIVER),
        f"--model_dir={model_dir}",
        "--steps=3",
        f"--out={out}",
        f"--devices={devices}",
        "--no_shuffle",
        "--checkpoint_period=3",
        "--dropout_rate=0",
        *extra,
    ]


def _workers(model_dir: Path, out: Path, *extra: str) -> list[subprocess.Popen[str]]:
    """Two driver processes of one jax.distributed job (2 CPU devices each)."""
    port = free_port()
    return [
        subprocess.Popen(
            _command(
                model_dir,
                out,
                2,
                f"--process_id={index}",
                "--num_processes=2",
                f"--port={port}",
                *extra,
            ),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]


@pytest.mark.multiprocess
def test_two_processes_match_one_process(tmp_path):
    single = subprocess.Popen(
        _command(tmp_path / "single", tmp_path / "single.npz", 4),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers = _workers(tmp_path / "multi", tmp_path / "multi.npz")
    for process in [single, *workers]:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-4000:]

    single_losses = json.loads((tmp_path / "single.npz.json").read_text())["losses"]
    multi_losses = json.loads((tmp_path / "multi.npz.json").read_text())["losses"]
    assert len(single_losses) == len(multi_losses) == 3
    np.testing.assert_allclose(multi_losses, single_losses, rtol=1e-5)
    # Both runs wrote their final checkpoint (multi-process Orbax save included).
    assert (tmp_path / "multi" / "checkpoint_3").is_dir()
    with np.load(tmp_path / "single.npz") as single, np.load(tmp_path / "multi.npz") as multi:
        for name in single.files:
            np.testing.assert_allclose(
                multi[name], single[name], rtol=1e-4, atol=1e-6, err_msg=name
            )


@pytest.mark.multiprocess
def test_sigterm_stops_both_processes_at_one_agreed_step_with_its_checkpoint(tmp_path):
    # Each process gets SIGTERM during step 3, as from a scheduler; JAX's preemption sync
    # manager picks a later step that both reach, and both save it and exit with 143.
    model_dir = tmp_path / "multi"
    workers = _workers(
        model_dir,
        tmp_path / "unused.npz",
        "--steps=400",
        "--checkpoint_period=1000",
        "--preempt_at=3",
    )
    stopped_at = []
    for process in workers:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 143, stderr[-4000:]
        stopped_at += re.findall(r"preempted at step (\d+)", stderr)
    assert len(stopped_at) == 2 and stopped_at[0] == stopped_at[1], stopped_at
    step = int(stopped_at[0])
    assert 3 <= step < 400
    saved = sorted(path.name for path in model_dir.glob("checkpoint_*"))
    assert saved == [f"checkpoint_{step}"]
