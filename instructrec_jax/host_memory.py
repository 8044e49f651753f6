"""Keep freed host memory in the process heap (glibc), so big CPU buffers are not re-faulted.

XLA:CPU allocates every step's temporaries with ``malloc`` and frees them at the end of the
step. glibc serves blocks above its mmap threshold (at most 32 MiB by default) with fresh
``mmap`` pages and unmaps them on ``free``, so each step page-faults its whole working set
again: writing a new 64 MiB array (the tiny preset's [512, 32128] logits) took 29 ms where
writing into reused memory took 6 ms. Raising the mmap and trim thresholds and using one
arena keeps freed blocks for reuse; the process's resident memory then stays at its peak,
as with the BFC allocators of TPU and GPU runtimes.

:func:`reuse_freed_memory` is called by the command-line entry points (train, evaluate,
score, demo) and by the benchmarks, for both implementations alike, before any computation.
It applies where JAX computes on the host CPU: ``JAX_PLATFORMS=cpu``, or no accelerator
runtime (a ``jax-cuda*``/``jax-rocm*`` plugin or ``libtpu``) installed. On GPU and TPU hosts
the step's buffers live in device memory, so there is nothing to gain there, and the input
pipeline's threads keep their own arenas. ``INSTRUCTREC_HEAP_REUSE=0`` leaves the allocator
alone, ``=1`` applies it everywhere. It does nothing off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.metadata
import os

# mallopt parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_LARGEST_INT = 2**31 - 1
ENV_SWITCH = "INSTRUCTREC_HEAP_REUSE"
# Distributions that give JAX a device of its own (then XLA:CPU does not run the steps).
ACCELERATOR_RUNTIMES = ("jax-cuda", "jax_cuda", "jax-rocm", "jax_rocm", "libtpu")


def computes_on_host_cpu() -> bool:
    """Whether JAX will run on the CPU backend, without starting any backend.

    ``JAX_PLATFORMS`` decides when set (its first platform); otherwise the CPU is it unless
    an accelerator runtime is installed.
    """
    platforms = os.environ.get("JAX_PLATFORMS", "").strip()
    if platforms:
        return platforms.split(",")[0].strip().lower() == "cpu"
    installed = (dist.metadata["Name"] or "" for dist in importlib.metadata.distributions())
    return not any(name.lower().startswith(ACCELERATOR_RUNTIMES) for name in installed)


def reuse_freed_memory() -> bool:
    """Tune glibc malloc to keep freed memory; True when applied.

    Not applied (False) when ``INSTRUCTREC_HEAP_REUSE=0``, when JAX will run on an
    accelerator (:func:`computes_on_host_cpu`) unless ``INSTRUCTREC_HEAP_REUSE=1``, or when
    the C library has no ``mallopt`` (not glibc). Arenas created before the call keep their
    settings, so call it before JAX starts its thread pools (before the first computation).
    """
    switch = os.environ.get(ENV_SWITCH, "auto")
    if switch == "0" or (switch != "1" and not computes_on_host_cpu()):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    settings = (
        (_M_ARENA_MAX, 1),
        (_M_MMAP_THRESHOLD, _LARGEST_INT),
        (_M_TRIM_THRESHOLD, _LARGEST_INT),
    )
    return all(mallopt(option, value) == 1 for option, value in settings)
