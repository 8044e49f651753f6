"""Several local processes of one ``jax.distributed`` job on CPU (collectives over gloo).

The multi-process tests (training, sharded loading, evaluation) start driver scripts
through :func:`start_workers`; each driver calls :func:`join_cluster` before importing
anything else from JAX.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for the coordinator)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def subprocess_env(*paths: Path) -> dict[str, str]:
    """This environment with the repository and ``paths`` on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *map(str, paths), env.get("PYTHONPATH", "")])
    return env


def start_workers(
    script: Path, args: Sequence[str], num_processes: int, *extra_paths: Path
) -> list[subprocess.Popen[str]]:
    """``num_processes`` copies of ``script`` joined as one job: each gets ``args`` plus
    ``--process_id=i --num_processes=n --port=p``; stdout is dropped, stderr kept."""
    port = free_port()
    return [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                *args,
                f"--process_id={index}",
                f"--num_processes={num_processes}",
                f"--port={port}",
            ],
            env=subprocess_env(script.parent, *extra_paths),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(num_processes)
    ]


def wait_all(processes: Sequence[subprocess.Popen[str]], timeout: float = 600) -> list[str]:
    """Wait for every process; returns their stderr texts (asserting exit status 0)."""
    errors = []
    for process in processes:
        _, stderr = process.communicate(timeout=timeout)
        assert process.returncode == 0, stderr[-4000:]
        errors.append(stderr)
    return errors


def join_cluster(
    devices: int, process_id: int | None, num_processes: int | None, port: int | None
) -> None:
    """In a driver, before JAX starts: ``devices`` CPU devices in this process, and (when
    ``num_processes`` is given) join the job whose coordinator listens on ``port``."""
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    if num_processes:
        from instructrec_jax.training.distributed import DistributedConfig, initialize

        initialize(
            DistributedConfig(f"127.0.0.1:{port}", num_processes, process_id), platform="cpu"
        )
