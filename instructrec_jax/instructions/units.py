"""Units of generation work and the worker processes that render them.

A unit is a chunk of one split (training examples, or eval examples plus item-split
items). Its records depend only on the build context and the unit, never on the process
that renders it, so any number of workers produces the same files.
"""

from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import sys
from collections.abc import Iterator, Mapping, Sequence

from instructrec_jax.data.types import EvalExample, TrainExample
from instructrec_jax.instructions.builders import (
    BuildContext,
    product_search_eval_records,
    train_records,
    user_eval_records,
)
from instructrec_jax.instructions.encoding import example_bytes
from instructrec_jax.instructions.records import InstructionRecord
from instructrec_jax.instructions.stats import RenderStats


@dataclasses.dataclass(frozen=True)
class Unit:
    """A chunk ``[start, stop)`` of a split's examples (and, for eval, of its items)."""

    split: str
    index: int
    count: int
    start: int
    stop: int
    item_start: int = 0
    item_stop: int = 0


def _chunks(length: int, count: int) -> list[tuple[int, int]]:
    count = max(1, count)
    return [(length * k // count, length * (k + 1) // count) for k in range(count)]


def plan_units(
    num_train: int,
    num_eval: Mapping[str, int],
    num_items: Mapping[str, int],
    train_shards: int,
    eval_shards: int,
) -> list[Unit]:
    """Units of every split: ``train_shards`` train chunks, ``eval_shards`` per eval split."""
    units = [
        Unit("train", k, train_shards, start, stop)
        for k, (start, stop) in enumerate(_chunks(num_train, train_shards))
    ]
    for split in ("valid", "test"):
        user_chunks = _chunks(num_eval[split], eval_shards)
        item_chunks = _chunks(num_items[split], eval_shards)
        for k, ((start, stop), (item_start, item_stop)) in enumerate(zip(user_chunks, item_chunks)):
            units.append(Unit(split, k, eval_shards, start, stop, item_start, item_stop))
    return units


@dataclasses.dataclass(frozen=True)
class WorkerState:
    """What every worker holds: the context and the examples and items of all splits."""

    context: BuildContext
    train_examples: Sequence[TrainExample]
    eval_examples: Mapping[str, Sequence[EvalExample]]
    eval_items: Mapping[str, Sequence[str]]


_STATE: WorkerState | None = None


def init_worker(state: WorkerState) -> None:
    global _STATE
    _STATE = state


def _unit_records(
    state: WorkerState, unit: Unit, stats: RenderStats
) -> Iterator[InstructionRecord]:
    if unit.split == "train":
        chunk = state.train_examples[unit.start : unit.stop]
        yield from train_records(state.context, chunk, unit.start, stats)
        return
    users = state.eval_examples[unit.split][unit.start : unit.stop]
    yield from user_eval_records(state.context, users, stats)
    items = state.eval_items[unit.split][unit.item_start : unit.item_stop]
    yield from product_search_eval_records(state.context, unit.split, items, stats)


def build_unit(unit: Unit) -> tuple[Unit, dict[str, list[bytes]], dict[str, set[str]], dict]:
    """Render one unit: (unit, key -> serialized records, key -> template ids, stats)."""
    assert _STATE is not None, "worker state not initialised"
    stats = RenderStats()
    payloads: dict[str, list[bytes]] = collections.defaultdict(list)
    template_ids: dict[str, set[str]] = collections.defaultdict(set)
    for record in _unit_records(_STATE, unit, stats):
        key = f"{record.family}/{record.instruction_type}"
        payloads[key].append(example_bytes(record))
        template_ids[key].add(record.template_id)
    return unit, dict(payloads), dict(template_ids), stats.to_json()


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork when TensorFlow is not loaded (fast, shares memory), else spawn (fork-safe)."""
    if "tensorflow" in sys.modules or sys.platform != "linux":
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("fork")


def rendered_units(
    state: WorkerState, units: Sequence[Unit], workers: int
) -> Iterator[tuple[Unit, dict[str, list[bytes]], dict[str, set[str]], dict]]:
    if workers <= 1 or len(units) <= 1:
        init_worker(state)
        for unit in units:
            yield build_unit(unit)
        return
    with _pool_context().Pool(
        min(workers, len(units)), initializer=init_worker, initargs=(state,)
    ) as pool:
        yield from pool.imap_unordered(build_unit, units)
