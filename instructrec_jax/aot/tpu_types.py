"""Cloud TPU accelerator types (``v4-8``, ``v5litepod-16``, ...) as compile-only topologies.

An accelerator type names a TPU generation and a slice size. The number after the dash
counts TensorCores for v2, v3, v4 and v5p (two per chip) and chips for v5e
(``v5litepod``) and v6e. :func:`parse_tpu_type` turns it into what
``jax.experimental.topologies.get_topology_desc`` needs: libtpu's version string, the chip
grid (``2x2x1``) and the chip configuration (``megacore``: one JAX device per v4/v5p chip,
its two cores fused, as on a real TPU VM). An explicit grid is also accepted
(``v4:4x4x12``, ``v6e:2x4``), for slice shapes the power-of-two rule below does not give.

Memory per JAX device is the published HBM per chip (per core for v2/v3, whose devices are
single cores): v2 8 GiB, v3 16 GiB, v4 32 GiB, v5e 16 GiB, v5p 95 GiB, v6e 32 GiB.
"""

from __future__ import annotations

import dataclasses
import math
import re

GIB = 1 << 30


@dataclasses.dataclass(frozen=True)
class TpuGeneration:
    """One TPU generation: libtpu's version string and how its slices are counted."""

    libtpu_version: str
    dims: int  # 3 for 3-D torus slices (v4, v5p), 2 otherwise
    cores_per_chip_in_name: int  # 2 when the type name counts TensorCores
    megacore: bool  # one JAX device per chip (v4, v5p) instead of per core
    devices_per_chip: int
    hbm_bytes_per_device: int


GENERATIONS: dict[str, TpuGeneration] = {
    "v2": TpuGeneration("v2", 2, 2, False, 2, 8 * GIB),
    "v3": TpuGeneration("v3", 2, 2, False, 2, 16 * GIB),
    "v4": TpuGeneration("v4", 3, 2, True, 1, 32 * GIB),
    "v5p": TpuGeneration("v5", 3, 2, True, 1, 95 * GIB),
    "v5litepod": TpuGeneration("v5e", 2, 1, False, 1, 16 * GIB),
    "v5e": TpuGeneration("v5e", 2, 1, False, 1, 16 * GIB),
    "v6e": TpuGeneration("v6e", 2, 1, False, 1, 32 * GIB),
}

_TYPE = re.compile(r"^(v\d+[a-z]*)-(\d+)$")
_GRID = re.compile(r"^(v\d+[a-z]*):(\d+(?:x\d+)+)$")


@dataclasses.dataclass(frozen=True)
class TpuSlice:
    """A TPU slice to compile for.

    ``topology_name`` is libtpu's ``"<version>:<grid>"`` (e.g. ``"v4:2x2x1"``); ``num_devices``
    is the JAX device count of one slice; ``hbm_bytes_per_device`` is in bytes.
    """

    name: str
    topology_name: str
    chip_config_name: str
    chips_per_host_bounds: tuple[int, int, int]
    num_devices: int
    hbm_bytes_per_device: int


def power_of_two_grid(chips: int, dims: int) -> tuple[int, ...]:
    """The standard slice grid of ``chips`` chips: 4 chips are ``2x2(x1)``, and each doubling
    doubles the last of the smallest sides (``2x2x2``, ``2x2x4``, ``2x4x4``, ``4x4x4``, ...).

    Raises ValueError unless ``chips`` is 1 or 4 times a power of two.
    """
    if chips == 1:
        return (1,) * dims
    if chips < 4 or chips % 4 or (chips // 4) & (chips // 4 - 1):
        raise ValueError(f"{chips} chips is not a standard slice size (1 or 4 x 2^k)")
    grid = [2, 2] + [1] * (dims - 2)
    while math.prod(grid) < chips:
        smallest = min(grid)
        last = max(i for i, size in enumerate(grid) if size == smallest)
        grid[last] *= 2
    return tuple(grid)


def _generation(name: str, label: str) -> TpuGeneration:
    if name not in GENERATIONS:
        known = ", ".join(sorted(GENERATIONS))
        raise ValueError(f"unknown TPU generation {name!r} in {label!r} (known: {known})")
    return GENERATIONS[name]


def parse_tpu_type(name: str) -> TpuSlice:
    """A :class:`TpuSlice` from ``v4-8``-style names or ``v4:2x2x1``-style grids.

    Raises ValueError (naming the accepted forms) for anything else.
    """
    typed, gridded = _TYPE.match(name), _GRID.match(name)
    if typed:
        generation = _generation(typed.group(1), name)
        count = int(typed.group(2))
        if count % generation.cores_per_chip_in_name:
            raise ValueError(f"{name!r}: {typed.group(1)} slices count two cores per chip")
        try:
            grid = power_of_two_grid(count // generation.cores_per_chip_in_name, generation.dims)
        except ValueError as error:
            raise ValueError(f"{name!r}: {error}; give the grid, e.g. v4:4x4x12") from None
    elif gridded:
        generation = _generation(gridded.group(1), name)
        grid = tuple(int(size) for size in gridded.group(2).split("x"))
        if len(grid) != generation.dims or min(grid) < 1:
            raise ValueError(f"{name!r}: {gridded.group(1)} grids have {generation.dims} sides")
    else:
        raise ValueError(
            f"not a TPU accelerator type: {name!r} (e.g. v4-8, v5p-16, v5litepod-16, v6e-8, "
            "or a grid such as v4:2x2x4)"
        )
    padded = (*grid, 1, 1)[:3]
    bounds = (min(2, padded[0]), min(2, padded[1]), 1)
    chips = math.prod(grid)
    return TpuSlice(
        name=name,
        topology_name=f"{generation.libtpu_version}:{'x'.join(map(str, grid))}",
        chip_config_name="megacore" if generation.megacore else "default",
        chips_per_host_bounds=bounds,
        num_devices=chips * generation.devices_per_chip,
        hbm_bytes_per_device=generation.hbm_bytes_per_device,
    )
