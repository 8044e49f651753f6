"""Start ``jax.distributed`` when a run spans several processes.

Three cases:

* explicit flags (``coordinator_address``, ``num_processes``, ``process_id``): any cluster,
  including several local CPU processes (collectives over gloo);
* a multi-host TPU VM slice or a SLURM job with several tasks: ``jax.distributed`` finds
  the coordinator from the environment;
* otherwise a single process: nothing to do.

Must run before any JAX computation (the backend is created by the first one).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import jax


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
    """Explicit cluster coordinates; leave all None for auto-detection or single process."""

    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    def __post_init__(self) -> None:
        given = [
            self.coordinator_address is not None,
            self.num_processes is not None,
            self.process_id is not None,
        ]
        if any(given) and not all(given):
            raise ValueError(
                f"--coordinator_address, --num_processes and --process_id go together (got {self})"
            )
        if self.num_processes is not None and not 0 <= (self.process_id or 0) < self.num_processes:
            raise ValueError(f"process_id {self.process_id} not in [0, {self.num_processes})")


def detect_cluster(environ: Mapping[str, str] | None = None) -> str | None:
    """'tpu' or 'slurm' when the environment describes a multi-process job, else None."""
    env = os.environ if environ is None else environ
    tpu_hosts = env.get("TPU_WORKER_HOSTNAMES", "")
    if len([host for host in tpu_hosts.split(",") if host]) > 1:
        return "tpu"
    if env.get("SLURM_JOB_ID") and int(env.get("SLURM_NTASKS", "1")) > 1:
        return "slurm"
    return None


def initialize(config: DistributedConfig, platform: str | None = None) -> bool:
    """Join the cluster; returns whether ``jax.distributed`` was initialized.

    On CPU (``platform`` 'cpu' or ``JAX_PLATFORMS=cpu``) collectives go through gloo.
    """
    platform = platform or os.environ.get("JAX_PLATFORMS", "")
    if config.coordinator_address is not None:
        if "cpu" in platform.split(","):
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=config.coordinator_address,
            num_processes=config.num_processes,
            process_id=config.process_id,
        )
        return True
    if detect_cluster() is not None:
        jax.distributed.initialize()
        return True
    return False
