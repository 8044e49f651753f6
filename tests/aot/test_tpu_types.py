"""Cloud TPU accelerator types -> libtpu topologies (checked against Cloud TPU's slice shapes)."""

from __future__ import annotations

import pytest

from instructrec_jax.aot.tpu_types import GIB, parse_tpu_type, power_of_two_grid


@pytest.mark.parametrize(
    ("name", "topology", "config", "devices", "hbm_gib"),
    [
        ("v4-8", "v4:2x2x1", "megacore", 4, 32),
        ("v4-16", "v4:2x2x2", "megacore", 8, 32),
        ("v4-32", "v4:2x2x4", "megacore", 16, 32),
        ("v4-128", "v4:4x4x4", "megacore", 64, 32),
        ("v4-1024", "v4:8x8x8", "megacore", 512, 32),
        ("v5p-8", "v5:2x2x1", "megacore", 4, 95),
        ("v5p-64", "v5:2x4x4", "megacore", 32, 95),
        ("v5litepod-1", "v5e:1x1", "default", 1, 16),
        ("v5litepod-16", "v5e:4x4", "default", 16, 16),
        ("v5litepod-256", "v5e:16x16", "default", 256, 16),
        ("v6e-8", "v6e:2x4", "default", 8, 32),
        ("v3-8", "v3:2x2", "default", 8, 16),
        ("v4:4x4x12", "v4:4x4x12", "megacore", 192, 32),
    ],
)
def test_accelerator_types_map_to_slice_shapes(name, topology, config, devices, hbm_gib):
    tpu = parse_tpu_type(name)
    assert tpu.topology_name == topology
    assert tpu.chip_config_name == config
    assert tpu.num_devices == devices
    assert tpu.hbm_bytes_per_device == hbm_gib * GIB


def test_grids_grow_by_doubling_the_last_smallest_side():
    grids = [power_of_two_grid(4 * 2**k, 3) for k in range(6)]
    assert grids == [(2, 2, 1), (2, 2, 2), (2, 2, 4), (2, 4, 4), (4, 4, 4), (4, 4, 8)]
    assert power_of_two_grid(32, 2) == (4, 8)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("v4-24", "not a standard slice size.*give the grid"),
        ("v4-7", "two cores per chip"),
        ("v9-8", "unknown TPU generation 'v9'"),
        ("v4:2x2", "v4 grids have 3 sides"),
        ("tpu", "not a TPU accelerator type"),
    ],
)
def test_bad_names_say_what_is_accepted(name, message):
    with pytest.raises(ValueError, match=message):
        parse_tpu_type(name)
