"""reuse_freed_memory applies glibc's mallopt settings where JAX runs on the CPU; the switch
overrides."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CALL = "from instructrec_jax.host_memory import reuse_freed_memory; print(reuse_freed_memory())"


def _run(switch: str | None, platforms: str = "cpu") -> str:
    env = {k: v for k, v in os.environ.items() if k != "INSTRUCTREC_HEAP_REUSE"}
    env["JAX_PLATFORMS"] = platforms
    if switch is not None:
        env["INSTRUCTREC_HEAP_REUSE"] = switch
    done = subprocess.run(
        [sys.executable, "-c", CALL], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_applied_on_glibc_by_default():
    assert _run(None) == "True"


def test_switched_off_by_the_environment():
    assert _run("0") == "False"


def test_left_alone_when_jax_runs_on_an_accelerator():
    assert _run(None, platforms="cuda") == "False"
    assert _run(None, platforms="tpu,cpu") == "False"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_forced_on_an_accelerator_host():
    assert _run("1", platforms="cuda") == "True"


def test_cpu_without_an_accelerator_runtime(monkeypatch):
    from instructrec_jax import host_memory

    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    names = ["numpy", "jax", "jaxlib"]
    monkeypatch.setattr(host_memory.importlib.metadata, "distributions", lambda: _dists(names))
    assert host_memory.computes_on_host_cpu()
    names.append("jax-cuda12-plugin")
    assert not host_memory.computes_on_host_cpu()


def _dists(names: list[str]) -> list[object]:
    return [type("Dist", (), {"metadata": {"Name": name}})() for name in names]
