"""Compile targets: the devices of a TPU slice, GPU machine or the host CPU, without owning one.

``--topology`` names, and what they become:

* TPU accelerator types (``v4-8``, ``v5p-16``, ``v5litepod-16``, ``v6e-8``, or a grid such as
  ``v4:4x4x12``; :mod:`instructrec_jax.aot.tpu_types`): compile-only TPU devices from
  libtpu (``jax.experimental.topologies.get_topology_desc``), ``num_slices`` slices joined
  by the data-center network (each device carries its ``slice_index``).
* GPU machines ``<gpu>x<count>`` (``h100x8``, ``h200x8``, ``a100x8``;
  :mod:`instructrec_jax.aot.gpu_targets`): compile-only CUDA devices from the CUDA PJRT
  plugin, ``num_slices`` hosts of ``count`` GPUs each.
* ``cpu:N``: N host CPU devices (set before JAX starts its backends), the target the tests
  use; their memory is the host's RAM divided by N.

Device memory is per JAX device, in bytes. On GPUs JAX allocates
``XLA_PYTHON_CLIENT_MEM_FRACTION`` (default 0.75) of the memory up front and no more, so that
fraction of the GPU's memory is what a program must fit in.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

from instructrec_jax.aot import gpu_targets, tpu_types

GPU_MEMORY_FRACTION_ENV = "XLA_PYTHON_CLIENT_MEM_FRACTION"
DEFAULT_GPU_MEMORY_FRACTION = 0.75

_GPU = re.compile(r"^([a-z]+\d+)x(\d+)$")
_CPU = re.compile(r"^cpu:(\d+)$")


class TargetError(ValueError):
    """A ``--topology``/``--num_slices`` that names no target, or a missing backend."""


@dataclasses.dataclass(frozen=True)
class Target:
    """What to compile for.

    ``platform``: ``tpu``, ``gpu`` or ``cpu``; ``num_devices``: JAX devices over all slices;
    ``device_memory_bytes``: memory one device's program may use; ``physical_memory_bytes``:
    the device's memory as built; ``description``: one human-readable line.
    """

    name: str
    platform: str
    num_slices: int
    num_devices: int
    device_memory_bytes: int
    physical_memory_bytes: int
    description: str
    tpu: tpu_types.TpuSlice | None = None
    gpu: gpu_targets.GpuSpec | None = None
    devices_per_slice: int = 0


def gpu_memory_fraction() -> float:
    """JAX's GPU preallocation fraction (``XLA_PYTHON_CLIENT_MEM_FRACTION``, default 0.75)."""
    raw = os.environ.get(GPU_MEMORY_FRACTION_ENV, "")
    if not raw:
        return DEFAULT_GPU_MEMORY_FRACTION
    try:
        fraction = float(raw)
    except ValueError:
        raise TargetError(f"{GPU_MEMORY_FRACTION_ENV}={raw!r} is not a number") from None
    if not 0.0 < fraction <= 1.0:
        raise TargetError(f"{GPU_MEMORY_FRACTION_ENV}={raw!r} is not in (0, 1]")
    return fraction


def _host_memory_bytes() -> int:
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def parse_target(name: str, num_slices: int = 1) -> Target:
    """The :class:`Target` a ``--topology`` value names (see the module docstring)."""
    if num_slices < 1:
        raise TargetError(f"--num_slices must be >= 1, got {num_slices}")
    cpu, gpu = _CPU.match(name), _GPU.match(name)
    if cpu:
        count = int(cpu.group(1))
        if count < 1 or num_slices != 1:
            raise TargetError(f"{name!r}: cpu targets take N >= 1 devices and one slice")
        memory = _host_memory_bytes() // count
        return Target(name, "cpu", 1, count, memory, memory, f"{count} host CPU devices", None)
    if gpu and gpu.group(1) in gpu_targets.GPUS:
        spec = gpu_targets.GPUS[gpu.group(1)]
        per_host = int(gpu.group(2))
        if per_host < 1:
            raise TargetError(f"{name!r}: a GPU machine has at least one GPU")
        usable = int(spec.memory_bytes * gpu_memory_fraction())
        hosts = f" x {num_slices} hosts" if num_slices > 1 else ""
        return Target(
            name,
            "gpu",
            num_slices,
            per_host * num_slices,
            usable,
            spec.memory_bytes,
            f"{per_host} x {spec.description}{hosts}",
            gpu=spec,
            devices_per_slice=per_host,
        )
    try:
        tpu = tpu_types.parse_tpu_type(name)
    except ValueError as error:
        gpus = ", ".join(f"{key}x8" for key in gpu_targets.GPUS)
        raise TargetError(f"--topology: {error}; GPU targets: {gpus}; host: cpu:8") from None
    slices = f" x {num_slices} slices" if num_slices > 1 else ""
    return Target(
        name,
        "tpu",
        num_slices,
        tpu.num_devices * num_slices,
        tpu.hbm_bytes_per_device,
        tpu.hbm_bytes_per_device,
        f"TPU {tpu.topology_name} ({tpu.chip_config_name}){slices}",
        tpu=tpu,
        devices_per_slice=tpu.num_devices,
    )


def prepare_backends(target: Target) -> None:
    """Settings that must precede JAX's backend start: host CPUs only (no accelerator is
    claimed, even on a TPU VM or GPU machine), libtpu without its one-process lock and,
    for ``cpu:N``, N devices."""
    import jax

    jax.config.update("jax_platforms", "cpu")
    if target.platform == "tpu":
        # libtpu admits one process per host (a lock file) unless told otherwise; a compile
        # check opens no TPU chip, so it may run beside training or another check.
        os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
    if target.platform == "cpu":
        jax.config.update("jax_num_cpu_devices", target.num_devices)


def target_devices(target: Target) -> list[Any]:
    """The target's JAX devices (compile-only for TPU and GPU).

    Raises TargetError when the backend's package is missing (``pip install -e '.[aot]'``).
    """
    import jax

    if target.platform == "cpu":
        devices = jax.devices("cpu")
        if len(devices) != target.num_devices:
            raise TargetError(
                f"{target.name}: JAX started with {len(devices)} CPU devices; run "
                "compile_check in a fresh process"
            )
        return list(devices)
    if target.platform == "tpu":
        return _tpu_devices(target)
    return _gpu_devices(target)


def _tpu_devices(target: Target) -> list[Any]:
    from jax.experimental import topologies

    assert target.tpu is not None
    try:
        description = topologies.get_topology_desc(
            platform="tpu",
            topology_name=target.tpu.topology_name,
            chip_config_name=target.tpu.chip_config_name,
            chips_per_host_bounds=target.tpu.chips_per_host_bounds,
            num_slices=target.num_slices,
        )
    except RuntimeError as error:
        raise TargetError(
            f"{target.name}: no TPU compiler ({str(error).splitlines()[0]}); install it with "
            "pip install -e '.[aot]'"
        ) from error
    return list(description.devices)


def _gpu_devices(target: Target) -> list[Any]:
    from jax._src import xla_bridge

    assert target.gpu is not None
    try:
        topology = xla_bridge.make_pjrt_topology(
            "cuda",
            "",
            topology=f"1x{target.num_slices}x{target.devices_per_slice}",
            target_config=gpu_targets.target_config_text(target.gpu),
        )
    except NotImplementedError as error:
        raise TargetError(
            f"{target.name}: no CUDA compiler plugin ({error}); install it with "
            "pip install -e '.[aot]'"
        ) from error
    return list(topology._make_compile_only_devices())
