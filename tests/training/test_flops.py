"""peak_flops_per_device: vendor peaks by JAX device kind, and when a measured matmul is
divided among virtual CPU devices (faked devices; nothing is measured)."""

from __future__ import annotations

import types

import jax
import pytest

from instructrec_jax.training import flops


@pytest.fixture
def fake_device(monkeypatch):
    """Make ``jax.devices()`` report one device of a given kind/platform; 8 local devices."""

    def install(device_kind: str, platform: str) -> None:
        device = types.SimpleNamespace(device_kind=device_kind, platform=platform)
        monkeypatch.setattr(jax, "devices", lambda *args, **kwargs: [device])
        monkeypatch.setattr(jax, "local_device_count", lambda *args, **kwargs: 8)
        monkeypatch.setattr(flops, "measure_matmul_peak", lambda **kwargs: 8e12)

    return install


@pytest.mark.parametrize(
    ("device_kind", "peak"),
    [
        ("TPU v4", 275e12),
        ("TPU v5 lite", 197e12),  # v5e
        ("TPU v5", 459e12),  # v5p
        ("TPU v6 lite", 918e12),
        ("NVIDIA H100 80GB HBM3", 989e12),
    ],
)
def test_vendor_peak_by_device_kind(fake_device, device_kind, peak):
    fake_device(device_kind, "tpu" if device_kind.startswith("TPU") else "gpu")
    assert flops.peak_flops_per_device() == (peak, f"vendor peak for {device_kind}")


def test_measured_peak_is_shared_only_by_virtual_cpu_devices(fake_device):
    fake_device("cpu", "cpu")
    assert flops.peak_flops_per_device()[0] == 1e12
    fake_device("NVIDIA L4", "gpu")
    assert flops.peak_flops_per_device() == (8e12, "measured f32 matmul on NVIDIA L4")


def test_configured_peak_wins_and_must_be_positive():
    assert flops.peak_flops_per_device(1e9) == (1e9, "configured")
    with pytest.raises(ValueError, match="must be positive"):
        flops.peak_flops_per_device(0.0)
