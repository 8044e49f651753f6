"""Device mesh, logical-axis rules and a small partitioner (T5X-compatible conventions).

The mesh has axes ``('data', 'model')``, laid out on the physical network: on a TPU
slice along its torus, across several slices (or GPU hosts) as an ICI x DCN hybrid mesh.
Parameters and activations carry logical axis names (``batch``, ``embed``, ``mlp``,
``heads``, ``joined_kv``, ``kv``, ``vocab``, ``length``, ``relpos_buckets``, ``layers``);
the rules map them onto mesh axes.

:class:`Partitioner` is the one way model code is compiled: the train and evaluation
steps, scoring, generation, initialization and restoring all call
:meth:`Partitioner.partition` (a ``jax.jit`` with shardings that runs, traces and lowers
under :meth:`Partitioner.activate`), so a later mesh (e.g. multi-slice) changes one class.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("data", "model")
LogicalRules = tuple[tuple[str, str | tuple[str, ...] | None], ...]
"""(logical axis name, mesh axis or axes or None) pairs; the first rule whose mesh axes are
still free wins (flax's ``logical_axis_rules`` semantics)."""

logger = logging.getLogger(__name__)


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


class MeshError(ValueError):
    """A mesh that cannot be laid out on the devices; the message says why and what to change."""


def _mesh_shape(
    count: int, num_partitions: int | None, mesh_shape: Sequence[int] | None
) -> tuple[int, int]:
    """The (data, model) sizes over ``count`` devices."""
    if mesh_shape is not None:
        shape = tuple(int(size) for size in mesh_shape)
        if len(shape) != 2 or shape[0] * shape[1] != count:
            raise ValueError(f"mesh_shape {tuple(mesh_shape)} does not cover {count} devices")
        return shape[0], shape[1]
    partitions = 1 if num_partitions is None else int(num_partitions)
    if partitions <= 0 or count % partitions:
        raise ValueError(f"num_partitions={num_partitions} does not divide {count} devices")
    return count // partitions, partitions


def num_slices(devices: Sequence[Any]) -> int:
    """How many slices (TPU pods joined by the data-center network) the devices span."""
    return len({getattr(device, "slice_index", 0) for device in devices})


def _granules(devices: Sequence[Any], count: int) -> bool:
    """Whether the DCN units are processes (GPU hosts) rather than slices; checks ``count``."""
    slices = num_slices(devices)
    if slices == count:
        return False
    processes = len({device.process_index for device in devices})
    if slices == 1 and processes == count:
        return True
    raise MeshError(
        f"dcn_mesh_shape covers {count} slices, but the devices form {slices} slice(s) "
        f"on {processes} process(es)"
    )


def device_grid(
    shape: tuple[int, int],
    devices: Sequence[Any],
    dcn_mesh_shape: Sequence[int] | None = None,
    *,
    allow_split_physical_axes: bool = False,
    reshape_fallback: bool = False,
) -> np.ndarray:
    """``devices`` arranged as a ``shape`` (data, model) array for the network (see
    :func:`make_mesh`); raises :class:`MeshError` as it does."""
    slices = num_slices(devices)
    if dcn_mesh_shape is None and slices > 1:
        dcn_mesh_shape = (slices, 1)
    dcn = None if dcn_mesh_shape is None else tuple(int(size) for size in dcn_mesh_shape)
    if dcn is not None and (
        len(dcn) != 2 or min(dcn) < 1 or shape[0] % dcn[0] or shape[1] % dcn[1]
    ):
        raise MeshError(f"dcn_mesh_shape {dcn_mesh_shape} does not divide the mesh {shape}")
    hybrid = dcn is not None and dcn != (1, 1)
    by_process = _granules(devices, dcn[0] * dcn[1]) if hybrid else False
    try:
        if not hybrid:
            return mesh_utils.create_device_mesh(
                shape, devices, allow_split_physical_axes=allow_split_physical_axes
            )
        return mesh_utils.create_hybrid_device_mesh(
            (shape[0] // dcn[0], shape[1] // dcn[1]),
            dcn,
            devices,
            process_is_granule=by_process,
            allow_split_physical_axes=allow_split_physical_axes,
        )
    except (ValueError, NotImplementedError, AssertionError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        layout = f"mesh {shape}" + (f" with dcn_mesh_shape {dcn}" if hybrid else "")
        if not reshape_fallback:
            raise MeshError(
                f"cannot lay out the {layout} on {len(devices)} {devices[0].device_kind} "
                f"devices: {reason} (choose another mesh shape, or allow a plain reshape with "
                "MESH_RESHAPE_FALLBACK=True)"
            ) from error
        logger.warning("%s: %s; reshaping the devices in order instead", layout, reason)
        return np.asarray(devices, dtype=object).reshape(shape)


def make_mesh(
    num_partitions: int | None = None,
    mesh_shape: Sequence[int] | None = None,
    devices: Sequence[Any] | None = None,
    *,
    dcn_mesh_shape: Sequence[int] | None = None,
    allow_split_physical_axes: bool = False,
    reshape_fallback: bool = False,
) -> Mesh:
    """A ('data', 'model') mesh over ``devices`` (default: all), laid out for the network.

    ``mesh_shape`` gives both sizes over all devices; otherwise ``num_partitions`` (default
    1) is the model axis and the data axis takes the remaining devices. On several slices
    (multi-slice TPU: devices with distinct ``slice_index``) the mesh is hybrid, as in
    T5X and MaxText: ``dcn_mesh_shape`` (default ``(slices, 1)``: data parallelism across
    slices) says how many slices each axis spans, and each slice holds a
    ``mesh_shape / dcn_mesh_shape`` block laid out on its ICI torus
    (``mesh_utils.create_hybrid_device_mesh``). A ``dcn_mesh_shape`` on one slice makes
    processes (GPU hosts) the DCN units.

    Raises:
      ValueError: sizes that do not cover the devices.
      MeshError: a ``dcn_mesh_shape`` that does not match the slices, or ``mesh_utils``
        cannot lay the shape out on the physical devices (e.g. an axis that would split a
        torus dimension); the message gives its reason. With ``reshape_fallback=True`` the
        devices are reshaped in their listed order instead (collectives may then cross slow
        links), with a warning.
    """
    devices = list(jax.devices() if devices is None else devices)
    shape = _mesh_shape(len(devices), num_partitions, mesh_shape)
    grid = device_grid(
        shape,
        devices,
        dcn_mesh_shape,
        allow_split_physical_axes=allow_split_physical_axes,
        reshape_fallback=reshape_fallback,
    )
    return Mesh(grid, MESH_AXES)


@dataclasses.dataclass(frozen=True)
class PartitionedFunction:
    """A ``jax.jit``-compiled function that runs, traces and lowers under its partitioner's
    mesh and logical axis rules (so ``nn.with_logical_constraint`` inside it takes effect)."""

    jitted: Any
    partitioner: Partitioner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.partitioner.activate():
            return self.jitted(*args, **kwargs)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        """``jax.stages.Lowered`` for these (possibly abstract) arguments."""
        with self.partitioner.activate():
            return self.jitted.lower(*args, **kwargs)

    def trace(self, *args: Any, **kwargs: Any) -> Any:
        """``jax.stages.Traced`` for these (possibly abstract) arguments."""
        with self.partitioner.activate():
            return self.jitted.trace(*args, **kwargs)

    def compiled_programs(self) -> int:
        """How many programs (one per distinct input shape) have been compiled so far."""
        return int(self.jitted._cache_size())


@dataclasses.dataclass(frozen=True)
class Partitioner:
    """A mesh plus logical-axis rules, and the sharding helpers training and inference use."""

    mesh: Mesh
    rules: LogicalRules = dataclasses.field(default_factory=standard_logical_axis_rules)

    @classmethod
    def single_device(cls, device: Any = None) -> Partitioner:
        """A 1 x 1 mesh on ``device`` (default: the first device): no sharding at all."""
        device = jax.devices()[0] if device is None else device
        return cls(Mesh(np.asarray([[device]], dtype=object), MESH_AXES))

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Context in which ``nn.with_logical_constraint`` uses this mesh and these rules."""
        with jax.set_mesh(self.mesh), nn.logical_axis_rules(list(self.rules)):
            yield

    def partition(
        self,
        fn: Callable[..., Any],
        in_shardings: Any = None,
        out_shardings: Any = None,
        donate_argnums: Sequence[int] = (),
        static_argnames: Sequence[str] = (),
    ) -> PartitionedFunction:
        """``fn`` compiled with ``jax.jit`` for this mesh.

        Args:
          fn: a pure function of arrays (and of ``static_argnames``).
          in_shardings: per positional argument a sharding (tree) or None; None for all
            lets each argument keep the sharding it arrives with.
          out_shardings: the outputs' shardings (tree), or None to let XLA choose.
          donate_argnums: arguments whose buffers the outputs may reuse.
          static_argnames: keyword arguments that are compile-time constants.
        """
        options: dict[str, Any] = {
            "donate_argnums": tuple(donate_argnums),
            "static_argnames": tuple(static_argnames),
        }
        if in_shardings is not None:
            options["in_shardings"] = in_shardings
        if out_shardings is not None:
            options["out_shardings"] = out_shardings
        return PartitionedFunction(jax.jit(fn, **options), self)

    def sharding(self, logical_axes: Sequence[str | None]) -> NamedSharding:
        """NamedSharding of an array with these logical axis names."""
        spec = nn.logical_to_mesh_axes(tuple(logical_axes), list(self.rules))
        return NamedSharding(self.mesh, spec)

    def param_shardings(self, abstract_params: Any) -> Any:
        """Tree of NamedSharding for a tree boxed with logical names (``nn.LogicallyPartitioned``);
        the result matches the unboxed tree. Unboxed leaves are replicated."""
        return self.logical_shardings(nn.get_partition_spec(abstract_params))

    def logical_shardings(self, logical_specs: Any) -> Any:
        """Tree of NamedSharding for a tree of ``PartitionSpec``s of logical axis names."""
        return nn.logical_to_mesh_sharding(logical_specs, self.mesh, list(self.rules))

    def data_sharding(self) -> NamedSharding:
        """Batch-major arrays: leading axis over ``data``, the rest replicated."""
        return NamedSharding(self.mesh, PartitionSpec("data"))

    def replicated(self) -> NamedSharding:
        """Fully replicated arrays (scalars, the step counter)."""
        return NamedSharding(self.mesh, PartitionSpec())

    def shard_init(self, init_fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``init_fn(*args)`` (returning a tree boxed with logical names) compiled with
        output shardings, so every array is created already sharded. Returns the unboxed
        tree."""
        with self.activate():
            abstract = jax.eval_shape(init_fn, *args)
        shardings = self.param_shardings(abstract)
        unboxed = self.partition(lambda *inputs: nn.unbox(init_fn(*inputs)), None, shardings)
        return unboxed(*args)
