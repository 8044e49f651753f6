"""The largest global batch that fits: a binary search over multiples of a granularity."""

from __future__ import annotations

from collections.abc import Callable

from instructrec_jax.aot.report import CompileResult


def find_max_batch(
    compile_at: Callable[[int], CompileResult],
    granularity: int,
    start: int,
    limit: int,
) -> tuple[int | None, list[CompileResult]]:
    """(largest fitting batch or None, every compile made, in order).

    Batch sizes are multiples of ``granularity`` up to ``limit``; the search starts at
    ``start`` (rounded down to a multiple), doubles while it fits and then bisects, so it
    takes about ``2 log2(answer / start)`` compiles. Fitting is assumed to be monotone in the
    batch size.
    """
    if granularity < 1 or limit < granularity:
        raise ValueError(f"no batch size: granularity {granularity}, limit {limit}")
    results: dict[int, CompileResult] = {}

    def fits(units: int) -> bool:
        if units not in results:
            results[units] = compile_at(units * granularity)
        return results[units].fits

    max_units = limit // granularity
    low, high = 0, None  # low fits (0: nothing known to fit); high does not
    probe = min(max(1, start // granularity), max_units)
    while high is None:
        if fits(probe):
            low = probe
            if probe == max_units:
                break
            probe = min(2 * probe, max_units)
        else:
            high = probe
    if high is not None:
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
    ordered = list(results.values())
    return (low * granularity if low else None), ordered
