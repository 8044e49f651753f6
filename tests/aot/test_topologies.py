"""--topology values -> targets: TPU slices, GPU machines (target config text), host CPUs."""

from __future__ import annotations

import os

import pytest

from instructrec_jax.aot import gpu_targets
from instructrec_jax.aot.topologies import (
    GPU_MEMORY_FRACTION_ENV,
    TargetError,
    parse_target,
)


def test_tpu_target_counts_devices_over_slices():
    target = parse_target("v4-16", num_slices=2)
    assert (target.platform, target.num_devices, target.devices_per_slice) == ("tpu", 16, 8)
    assert target.device_memory_bytes == 32 << 30
    assert "2 slices" in target.description


def test_gpu_target_fits_against_jax_preallocated_fraction(monkeypatch):
    monkeypatch.delenv(GPU_MEMORY_FRACTION_ENV, raising=False)
    target = parse_target("h200x8")
    assert (target.platform, target.num_devices) == ("gpu", 8)
    assert target.physical_memory_bytes == 143771 << 20
    assert target.device_memory_bytes == int(0.75 * (143771 << 20))
    monkeypatch.setenv(GPU_MEMORY_FRACTION_ENV, "0.9")
    assert parse_target("h100x2", num_slices=2).device_memory_bytes == int(0.9 * (81559 << 20))
    monkeypatch.setenv(GPU_MEMORY_FRACTION_ENV, "2")
    with pytest.raises(TargetError, match="not in"):
        parse_target("h100x8")


def test_gpu_target_config_text_carries_the_published_figures():
    text = gpu_targets.target_config_text(gpu_targets.GPUS["h100"])
    for line in (
        "core_count: 132",
        "device_memory_size: 85520809984",
        "clock_rate_ghz: 1.98",
        "cuda_compute_capability { major: 9 minor: 0 }",
        'platform_name: "CUDA"',
    ):
        assert line in text


def test_cpu_target_divides_host_memory():
    target = parse_target("cpu:4")
    assert (target.platform, target.num_devices) == ("cpu", 4)
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert target.device_memory_bytes == host // 4


@pytest.mark.parametrize(
    ("name", "slices", "message"),
    [
        ("b200x8", 1, "not a TPU accelerator type.*GPU targets: a100x8, h100x8, h200x8"),
        ("cpu:4", 2, "one slice"),
        ("v4-8", 0, "--num_slices must be >= 1"),
    ],
)
def test_unknown_targets_are_usage_errors(name, slices, message):
    with pytest.raises(TargetError, match=message):
        parse_target(name, slices)
