"""2 processes x 2 CPU devices (jax.distributed over gloo) train like 1 process x 4 devices.

Unshuffled input and no dropout: each host reads every other example (SeqIO sharding), so
the global batch holds the same examples as the single-process batch but in another row
order; without dropout (whose masks follow rows) the losses agree up to summation order.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DRIVER = HERE / "training_driver.py"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE), env.get("PYTHONPATH", "")])
    return env


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


@pytest.mark.multiprocess
def test_two_processes_match_one_process(tmp_path):
    single = subprocess.Popen(
        _command(tmp_path / "single", tmp_path / "single.npz", 4),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    port = _free_port()
    workers = [
        subprocess.Popen(
            _command(
                tmp_path / "multi",
                tmp_path / "multi.npz",
                2,
                f"--process_id={index}",
                "--num_processes=2",
                f"--port={port}",
            ),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
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
