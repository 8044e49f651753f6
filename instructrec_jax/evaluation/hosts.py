"""Evaluation across processes (hosts): who scores which shard, and gathering the ranks.

An evaluation run is cut into shards of users (:mod:`.shards`). With several processes in
one ``jax.distributed`` job, process ``p`` of ``P`` scores the shards whose index ``i``
has ``i % P == p``, on its own devices (each process's scoring engine has a mesh over its
local devices only, so no collective runs while scoring). After each list of shards, the
positive ranks are gathered to every process (``multihost_utils.process_allgather``), so
every process chooses the same template on validation and ends with the same rows; only
process 0 writes ``metrics.json``, ``results.md`` and the chart. The gather goes over the
job's network, not the filesystem: processes need not share ``EVAL_OUTPUT_DIR`` (each keeps
its own shards there for resuming).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Hosts:
    """This process's place in the job: ``index`` of ``count`` processes."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"process index {self.index} is not in [0, {self.count})")

    @classmethod
    def current(cls) -> Hosts:
        """The JAX job's processes (one when ``jax.distributed`` was not initialized)."""
        import jax

        return cls(jax.process_index(), jax.process_count())

    @property
    def is_writer(self) -> bool:
        """Whether this process writes the reports (process 0)."""
        return self.index == 0

    def owner(self, shard_index: int) -> int:
        """The process that scores shard ``shard_index`` (round robin)."""
        return shard_index % self.count

    def owns(self, shard_index: int) -> bool:
        """Whether this process scores shard ``shard_index``."""
        return self.owner(shard_index) == self.index

    def gather_ranks(self, parts: Sequence[np.ndarray | None], sizes: Sequence[int]) -> np.ndarray:
        """All shards' ranks, concatenated: ``parts[i]`` [sizes[i]] is given for the shards
        this process owns (None for the others) and is taken from its owner for the rest.

        Every process must call this with the same ``sizes``, in the same order.
        """
        total = int(sum(sizes))
        local = np.zeros((total,), np.int32)
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        for index, part in enumerate(parts):
            if part is not None:
                local[starts[index] : starts[index + 1]] = part
        if self.count == 1:
            return local.astype(np.int64)
        from jax.experimental import multihost_utils

        gathered = np.asarray(multihost_utils.process_allgather(local))  # [count, total]
        out = np.empty((total,), np.int64)
        for index in range(len(sizes)):
            span = slice(starts[index], starts[index + 1])
            out[span] = gathered[self.owner(index), span]
        return out

    def barrier(self, name: str) -> None:
        """Wait until every process got here (nothing to do with one process)."""
        if self.count > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(name)

    @contextlib.contextmanager
    def writer_first(self, name: str) -> Iterator[None]:
        """Run the block on process 0, then on the others: work that writes shared files
        (training a baseline into a shared directory) is done once and then reloaded."""
        if not self.is_writer:
            self.barrier(name)
        yield
        if self.is_writer:
            self.barrier(name)
