"""Compile a :class:`~instructrec_jax.aot.programs.Program` and measure it per device.

Sizes come from XLA (``compiled.memory_analysis()``): arguments (parameters, optimizer
state, the batch), outputs, the part of the outputs that reuses donated arguments
(aliased), temporaries and generated code. A device needs
``arguments + outputs - aliased + temporaries + generated code`` bytes; the program fits
when that is at most the device's memory. The TPU compiler refuses a program that exceeds
HBM (``RESOURCE_EXHAUSTED: Ran out of memory on HBM, the total memory required for HLO
temporaries (X) exceeds available HBM (Y)``; Y is 30.75 GiB on a 32 GiB v4): that is
reported as not fitting, with X as the temporaries and the arguments plus X as the total.
FLOPs are XLA's count for one device's program (``compiled.cost_analysis()``; None where
the backend gives none, as the CUDA plugin's compile-only devices do).
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

import jax

from instructrec_jax.aot.programs import Program

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_TEMPORARIES = re.compile(r"HLO temporaries \(([\d.]+)([KMGT]?)\)")


@dataclasses.dataclass(frozen=True)
class MemoryBytes:
    """Bytes per device; ``parameters`` and ``optimizer_state`` are parts of ``arguments``.

    When the compiler refused the program (out of memory), the fields it does not report are
    None and ``total`` is ``arguments + temporaries`` (None without a temporaries figure).
    """

    parameters: int
    optimizer_state: int
    arguments: int | None
    outputs: int | None
    aliased: int | None
    temporaries: int | None
    generated_code: int | None
    total: int | None


@dataclasses.dataclass(frozen=True)
class CompileResult:
    """One compile: memory per device, fit, seconds (lowering and compiling), FLOPs."""

    batch_size: int
    memory: MemoryBytes
    fits: bool
    lower_seconds: float
    compile_seconds: float
    flops: float | None
    compiler_error: str | None = None


def _bytes(number: str, unit: str) -> int:
    return int(float(number) * _UNITS[unit])


def _flops(compiled: Any) -> float | None:
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else None
    if not analysis or "flops" not in analysis:
        return None
    return float(analysis["flops"])


def _out_of_memory(error: Exception) -> str | None:
    """The compiler's out-of-memory line, or None for any other error."""
    text = str(error)
    if "RESOURCE_EXHAUSTED" not in text and "Ran out of memory" not in text:
        return None
    lines = [line for line in text.splitlines() if "memory" in line.lower()]
    return (lines or text.splitlines())[0].strip()


def compile_program(program: Program, batch_size: int, device_memory_bytes: int) -> CompileResult:
    """Lower and compile ``program``; measure it against ``device_memory_bytes``.

    Raises the compiler's error unless it says the program does not fit in memory.
    """
    start = time.perf_counter()
    lowered = program.lower()
    lowered_at = time.perf_counter()
    try:
        compiled = lowered.compile()
    except jax.errors.JaxRuntimeError as error:
        message = _out_of_memory(error)
        if message is None:
            raise
        found = _TEMPORARIES.search(message)
        temporaries = _bytes(*found.group(1, 2)) if found else None
        memory = MemoryBytes(
            program.parameter_bytes,
            program.optimizer_state_bytes,
            program.argument_bytes,
            None,
            None,
            temporaries,
            None,
            None if temporaries is None else program.argument_bytes + temporaries,
        )
        seconds = time.perf_counter() - lowered_at
        return CompileResult(batch_size, memory, False, lowered_at - start, seconds, None, message)
    compiled_at = time.perf_counter()
    stats = compiled.memory_analysis()
    arguments = int(stats.argument_size_in_bytes)
    outputs = int(stats.output_size_in_bytes)
    aliased = int(stats.alias_size_in_bytes)
    temporaries = int(stats.temp_size_in_bytes)
    code = int(stats.generated_code_size_in_bytes)
    total = arguments + outputs - aliased + temporaries + code
    memory = MemoryBytes(
        program.parameter_bytes,
        program.optimizer_state_bytes,
        arguments,
        outputs,
        aliased,
        temporaries,
        code,
        total,
    )
    return CompileResult(
        batch_size,
        memory,
        total <= device_memory_bytes,
        lowered_at - start,
        compiled_at - lowered_at,
        _flops(compiled),
    )
