"""The largest fitting batch: doubling then bisection over multiples of the granularity."""

from __future__ import annotations

import pytest

from instructrec_jax.aot.max_batch import find_max_batch
from instructrec_jax.aot.report import CompileResult, MemoryBytes


def _compiler(largest_fitting: int, seen: list[int]):
    def compile_at(batch_size: int) -> CompileResult:
        seen.append(batch_size)
        memory = MemoryBytes(0, 0, 0, 0, 0, batch_size, 0, batch_size)
        return CompileResult(batch_size, memory, batch_size <= largest_fitting, 0.0, 0.0, None)

    return compile_at


@pytest.mark.parametrize(
    ("largest", "start", "expected"),
    [(44, 8, 40), (44, 64, 40), (8, 8, 8), (4, 16, None), (10_000, 8, 256)],
)
def test_finds_the_largest_multiple_that_fits(largest, start, expected):
    seen: list[int] = []
    best, probes = find_max_batch(_compiler(largest, seen), 8, start, limit=256)
    assert best == expected
    assert [probe.batch_size for probe in probes] == seen
    assert len(seen) == len(set(seen))  # no batch compiled twice
    assert all(size % 8 == 0 and size <= 256 for size in seen)


def test_needs_a_batch_within_the_limit():
    with pytest.raises(ValueError, match="no batch size"):
        find_max_batch(_compiler(8, []), 16, 8, limit=8)
