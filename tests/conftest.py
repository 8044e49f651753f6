"""Test-wide settings: a CPU-only JAX with 8 virtual devices, quiet TensorFlow.

These must be set before JAX or TensorFlow is imported, so they live here at the root of
the suite. Tests that need another device count run a subprocess with their own XLA_FLAGS.
"""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# The entry points' on-disk compilation cache stays off (nothing written to ~/.cache);
# tests that exercise it name their own folder.
os.environ.setdefault("INSTRUCTREC_COMPILATION_CACHE_DIR", "")
