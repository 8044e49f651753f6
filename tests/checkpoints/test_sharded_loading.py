"""Sharded loading (``load_params(..., shardings=...)``) on 8 CPU devices: every format and
layer layout gives the host loader's values, laid out as asked; slices read from a
safetensors file equal slices of the whole tensor."""

from __future__ import annotations

import io

import flax
import jax
import ml_dtypes
import numpy as np
import orbax.checkpoint as ocp
import pytest
from safetensors.numpy import save

from instructrec_jax.checkpoints import CheckpointMismatchError, config_from_hf, load_params
from instructrec_jax.checkpoints import safetensors_stream as stream
from instructrec_jax.checkpoints.layer_stacking import stack_layers
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.t5 import abstract_params, init_params
from instructrec_jax.partitioning import Partitioner, make_mesh, standard_logical_axis_rules
from tests.checkpoints.test_t5x_formats import CONFIG, write_t5x_legacy


def shardings(config: T5Config, mesh_shape: tuple[int, int]) -> dict:
    """FSDP shardings of ``config``'s parameters (embed over data, mlp/heads/vocab over model)."""
    mesh = make_mesh(mesh_shape=mesh_shape, devices=jax.devices()[: mesh_shape[0] * mesh_shape[1]])
    partitioner = Partitioner(mesh, standard_logical_axis_rules(fsdp=True))
    return partitioner.param_shardings(abstract_params(config))


def assert_sharded_like(got: dict, want: dict, layout: dict) -> None:
    """``got`` holds jax arrays with ``layout``'s shardings and ``want``'s values."""
    got_flat = flax.traverse_util.flatten_dict(got, sep="/")
    want_flat = flax.traverse_util.flatten_dict(want, sep="/")
    layout_flat = flax.traverse_util.flatten_dict(layout, sep="/")
    assert sorted(got_flat) == sorted(want_flat)
    sharded = 0
    for path, value in want_flat.items():
        array = got_flat[path]
        assert isinstance(array, jax.Array) and array.sharding == layout_flat[path], path
        assert array.dtype == np.float32, path
        np.testing.assert_array_equal(np.asarray(array), np.asarray(value), err_msg=path)
        sharded += not array.sharding.is_fully_replicated
    assert sharded > len(want_flat) // 2  # the test exercises real slicing


@pytest.fixture(scope="module")
def params() -> dict:
    return jax.tree_util.tree_map(np.asarray, init_params(CONFIG, jax.random.PRNGKey(3)))


@pytest.mark.parametrize("scan_layers", [False, True])
def test_t5x_legacy_loads_sharded(tmp_path, params, scan_layers):
    write_t5x_legacy(tmp_path / "checkpoint_7", params, bfloat16=True)
    config = CONFIG.replace(scan_layers=scan_layers)
    layout = shardings(config, (4, 2))
    assert_sharded_like(
        load_params(tmp_path, config, layout), load_params(tmp_path, config), layout
    )


@pytest.mark.parametrize(
    ("stored_stacked", "scan_layers"), [(False, False), (True, False), (False, True)]
)
def test_orbax_loads_sharded_in_either_layout(tmp_path, params, stored_stacked, scan_layers):
    tree = stack_layers(params) if stored_stacked else params
    state = {"params": tree, "step": np.int32(3), "opt_state": {"count": np.int32(3)}}
    ocp.PyTreeCheckpointer().save(tmp_path / "checkpoint_3" / "state", state)
    config = CONFIG.replace(scan_layers=scan_layers)
    layout = shardings(config, (4, 2))
    assert_sharded_like(
        load_params(tmp_path, config, layout), load_params(tmp_path, config), layout
    )


@pytest.mark.parametrize("scan_layers", [False, True])
def test_hf_loads_sharded(tiny_hf_checkpoint, scan_layers):
    folder, _ = tiny_hf_checkpoint("dkv", seed=1)
    config = config_from_hf(folder, dtype="float32").replace(scan_layers=scan_layers)
    layout = shardings(config, (4, 1))  # 3 heads: the model axis stays 1
    assert_sharded_like(load_params(folder, config, layout), load_params(folder, config), layout)


def test_sharded_loading_names_every_mismatch(tmp_path, params):
    write_t5x_legacy(tmp_path / "checkpoint_1", params)
    wrong = CONFIG.replace(d_ff=32, num_decoder_layers=3)
    with pytest.raises(CheckpointMismatchError) as error:
        load_params(tmp_path, wrong, shardings(wrong, (4, 2)))
    assert "wrong shape for encoder/layers_0/mlp/wi_0/kernel: got (16, 24), expected (16, 32)" in (
        str(error.value)
    )
    assert len(error.value.problems) == 3 * 3 + 14


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("dtype", ["F32", "BF16"])
def test_tensor_slices_equal_slices_of_the_whole_tensor(monkeypatch, transpose, dtype):
    monkeypatch.setattr(stream, "CHUNK_BYTES", 40)  # several chunks per slice
    rng = np.random.default_rng(0)
    array = rng.standard_normal((13, 7), dtype=np.float32)
    if dtype == "BF16":
        array = array.astype(ml_dtypes.bfloat16)
    data = save({"w": array})
    (header_size,) = np.frombuffer(data[:8], "<u8")
    info = stream.TensorInfo("w", array.dtype, array.shape, 8 + int(header_size), array.nbytes)
    handle = io.BytesIO(data)
    whole = stream.read_tensor(handle, info, np.dtype(np.float32), transpose, "mem")
    rows, cols = whole.shape
    for index in [
        (slice(0, rows), slice(0, cols)),
        (slice(2, 5), slice(1, cols)),
        (slice(rows - 1, rows), slice(3, 4)),
    ]:
        got = stream.read_tensor_slice(handle, info, index, np.dtype(np.float32), transpose, "m")
        np.testing.assert_array_equal(got, whole[index])
