"""NVIDIA GPUs to compile for without one: XLA ``GpuTargetConfigProto`` text from spec sheets.

XLA:GPU compiles for the device a target config describes (SM count, memory, clocks,
compute capability, shared memory and register limits); the CUDA PJRT plugin takes it as
``target_config`` of ``make_pjrt_topology("cuda", ...)`` and needs no GPU or driver. The
figures below are NVIDIA's published ones (data sheets and the CUDA programming guide's
per-compute-capability limits); memory is what ``nvidia-smi`` reports as the total
(MiB), since the data sheets round it.
"""

from __future__ import annotations

import dataclasses

MIB = 1 << 20
KIB = 1 << 10


@dataclasses.dataclass(frozen=True)
class GpuSpec:
    """One GPU model. Units: bytes, Hz (as GHz), bytes per second."""

    description: str
    sm_count: int
    memory_bytes: int
    clock_ghz: float  # boost clock
    memory_bandwidth: int  # bytes per second
    l2_cache_bytes: int
    compute_capability: tuple[int, int]
    fp32_cores_per_sm: int
    shared_memory_per_sm: int
    shared_memory_per_block_optin: int
    threads_per_sm: int = 2048
    registers_per_sm: int = 65536


# One row per GPU, in GpuSpec's field order: description, SMs, memory, boost clock (GHz),
# memory bandwidth (bytes/s), L2 cache, compute capability, FP32 cores per SM, shared memory
# per SM, shared memory per block (opt-in).
_A100 = GpuSpec(
    "NVIDIA A100-SXM4-80GB", 108, 81920 * MIB, 1.41, 2_039_000_000_000,
    40 * MIB, (8, 0), 64, 164 * KIB, 163 * KIB,
)  # fmt: skip
_H100 = GpuSpec(
    "NVIDIA H100 80GB HBM3", 132, 81559 * MIB, 1.98, 3_350_000_000_000,
    50 * MIB, (9, 0), 128, 228 * KIB, 227 * KIB,
)  # fmt: skip
# The H200 is an H100 (same SMs, clocks, caches) with HBM3e: more memory, more bandwidth.
_H200 = dataclasses.replace(
    _H100,
    description="NVIDIA H200",
    memory_bytes=143771 * MIB,
    memory_bandwidth=4_800_000_000_000,
)

GPUS: dict[str, GpuSpec] = {"a100": _A100, "h100": _H100, "h200": _H200}


def target_config_text(spec: GpuSpec) -> str:
    """The ``GpuTargetConfigProto`` text format XLA reads for ``spec``."""
    major, minor = spec.compute_capability
    fields = {
        "threads_per_block_limit": 1024,
        "threads_per_warp": 32,
        "shared_memory_per_block": 48 * KIB,
        "shared_memory_per_core": spec.shared_memory_per_sm,
        "threads_per_core_limit": spec.threads_per_sm,
        "core_count": spec.sm_count,
        "fpus_per_core": spec.fp32_cores_per_sm,
        "block_dim_limit_x": 2**31 - 1,
        "block_dim_limit_y": 65535,
        "block_dim_limit_z": 65535,
        "memory_bandwidth": spec.memory_bandwidth,
        "l2_cache_size": spec.l2_cache_bytes,
        "clock_rate_ghz": spec.clock_ghz,
        "device_memory_size": spec.memory_bytes,
        "shared_memory_per_block_optin": spec.shared_memory_per_block_optin,
        "registers_per_core_limit": spec.registers_per_sm,
        "registers_per_block_limit": 65536,
    }
    lines = ["gpu_device_info {"]
    lines += [f"  {name}: {value}" for name, value in fields.items()]
    lines += [f"  cuda_compute_capability {{ major: {major} minor: {minor} }}", "}"]
    lines += ['platform_name: "CUDA"', f'device_description_str: "{spec.description}"']
    # cuDNN of the CUDA 12 plugin (jax-cuda12-plugin requires >= 9.8).
    lines += ["dnn_version_info { major: 9 minor: 8 }"]
    return "\n".join(lines) + "\n"
