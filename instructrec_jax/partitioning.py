"""Device mesh, logical-axis rules and a small partitioner (T5X-compatible conventions).

The mesh has axes ``('data', 'model')``. Parameters and activations carry logical axis
names (``batch``, ``embed``, ``mlp``, ``heads``, ``joined_kv``, ``kv``, ``vocab``,
``length``, ``relpos_buckets``, ``layers``); the rules map them onto mesh axes.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("data", "model")
LogicalRules = tuple[tuple[str, str | None], ...]


def standard_logical_axis_rules(fsdp: bool = False) -> LogicalRules:
    """T5X's standard rules: batch -> data; vocab, mlp, heads, joined_kv -> model; the rest
    replicated. ``fsdp=True`` also shards parameters' ``embed`` axis over ``data`` (2-D
    parameter partitioning); an activation whose batch already uses ``data`` keeps
    ``embed`` replicated (flax takes the first rule whose mesh axis is still free).
    """
    rules: list[tuple[str, str | None]] = [
        ("batch", "data"),
        ("vocab", "model"),
        ("mlp", "model"),
        ("heads", "model"),
        ("joined_kv", "model"),
        ("kv", None),
        ("length", None),
        ("relpos_buckets", None),
        ("layers", None),
    ]
    if fsdp:
        rules.append(("embed", "data"))
    rules.append(("embed", None))
    return tuple(rules)


def make_mesh(
    num_partitions: int | None = None,
    mesh_shape: tuple[int, int] | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> Mesh:
    """A ('data', 'model') mesh over ``devices`` (default: all).

    ``mesh_shape`` gives both sizes; otherwise ``num_partitions`` (default 1) is the model
    axis and the data axis takes the remaining devices.
    """
    devices = list(jax.devices() if devices is None else devices)
    count = len(devices)
    if mesh_shape is not None:
        shape = tuple(int(size) for size in mesh_shape)
        if len(shape) != 2 or shape[0] * shape[1] != count:
            raise ValueError(f"mesh_shape {mesh_shape} does not cover {count} devices")
    else:
        partitions = 1 if num_partitions is None else int(num_partitions)
        if partitions <= 0 or count % partitions:
            raise ValueError(f"num_partitions={num_partitions} does not divide {count} devices")
        shape = (count // partitions, partitions)
    try:
        grid = mesh_utils.create_device_mesh(shape, devices)
    except (ValueError, NotImplementedError, AssertionError):
        grid = np.asarray(devices, dtype=object).reshape(shape)
    return Mesh(grid, MESH_AXES)


@dataclasses.dataclass(frozen=True)
class Partitioner:
    """A mesh plus logical-axis rules, and the sharding helpers training and inference use."""

    mesh: Mesh
    rules: LogicalRules = dataclasses.field(default_factory=standard_logical_axis_rules)

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Context in which ``nn.with_logical_constraint`` uses this mesh and these rules."""
        with jax.set_mesh(self.mesh), nn.logical_axis_rules(self.rules):
            yield

    def sharding(self, logical_axes: Sequence[str | None]) -> NamedSharding:
        """NamedSharding of an array with these logical axis names."""
        spec = nn.logical_to_mesh_axes(tuple(logical_axes), self.rules)
        return NamedSharding(self.mesh, spec)

    def param_shardings(self, abstract_params: Any) -> Any:
        """Tree of NamedSharding for a tree boxed with logical names (``nn.LogicallyPartitioned``);
        the result matches the unboxed tree. Unboxed leaves are replicated."""
        specs = nn.get_partition_spec(abstract_params)
        return nn.logical_to_mesh_sharding(specs, self.mesh, self.rules)

    def data_sharding(self) -> NamedSharding:
        """Batch-major arrays: leading axis over ``data``, the rest replicated."""
        return NamedSharding(self.mesh, PartitionSpec("data"))

    def replicated(self) -> NamedSharding:
        """Fully replicated arrays (scalars, the step counter)."""
        return NamedSharding(self.mesh, PartitionSpec())

    def shard_init(self, init_fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``init_fn(*args)`` (returning a tree boxed with logical names) under ``jax.jit``
        with output shardings, so every array is created already sharded. Returns the
        unboxed tree."""
        with self.activate():
            abstract = jax.eval_shape(init_fn, *args)
            shardings = self.param_shardings(abstract)
            return jax.jit(lambda *inputs: nn.unbox(init_fn(*inputs)), out_shardings=shardings)(
                *args
            )
