"""reuse_freed_memory applies glibc's mallopt settings, and the switch turns it off."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CALL = "from instructrec_jax.host_memory import reuse_freed_memory; print(reuse_freed_memory())"


def _run(switch: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "INSTRUCTREC_HEAP_REUSE"}
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
