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


_H100 = GpuSpec(
    description="NVIDIA H100 80GB HBM3",
    sm_count=132,
    memory_bytes=81559 * MIB,
    clock_ghz=1.98,
    memory_bandwidth=3_350_000_000_000,
    l2_cache_bytes=50 * MIB,
    compute_capability=(9, 0),
    fp32_cores_per_sm=128,
    shared_memory_per_sm=228 * KIB,
    shared_memory_per_block_optin=227 * KIB,
)

GPUS: dict[str, GpuSpec] = {
    "a100": GpuSpec(
        description="NVIDIA A100-SXM4-80GB",
        sm_count=108,
        memory_bytes=81920 * MIB,
        clock_ghz=1.41,
        memory_bandwidth=2_039_000_000_000,
        l2_cache_bytes=40 * MIB,
        compute_capability=(8, 0),
        fp32_cores_per_sm=64,
        shared_memory_per_sm=164 * KIB,
        shared_memory_per_block_optin=163 * KIB,
    ),
    "h100": _H100,
    # The H200 is an H100 (same SMs, clocks, caches) with HBM3e: more memory, more bandwidth.
    "h200": dataclasses.replace(
        _H100,
        description="NVIDIA H200",
        memory_bytes=143771 * MIB,
        memory_bandwidth=4_800_000_000_000,
    ),
}


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
