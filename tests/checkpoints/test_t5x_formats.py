"""T5X legacy (msgpack + tensorstore zarr) and Orbax checkpoints, and our trainer's layout."""

from __future__ import annotations

from pathlib import Path

import flax
import jax
import ml_dtypes
import numpy as np
import orbax.checkpoint as ocp
import pytest
import tensorstore as ts

from instructrec_jax.checkpoints import (
    CheckpointFormat,
    CheckpointMismatchError,
    load_params,
    resolve_checkpoint,
)
from instructrec_jax.models.t5 import init_params
from tests.t5_configs import tiny_t5_config

CONFIG = tiny_t5_config(vocab_size=40, d_model=16, head_dim=4, d_ff=24, num_decoder_layers=2)
INLINE_MAX_ELEMENTS = 64  # like T5X, small arrays go inline into the msgpack


@pytest.fixture(scope="module")
def params() -> dict:
    return jax.tree_util.tree_map(np.asarray, init_params(CONFIG, jax.random.PRNGKey(3)))


def assert_same_tree(got: dict, want: dict) -> None:
    got_flat = flax.traverse_util.flatten_dict(got, sep="/")
    want_flat = flax.traverse_util.flatten_dict(want, sep="/")
    assert sorted(got_flat) == sorted(want_flat)
    for path, value in want_flat.items():
        assert got_flat[path].dtype == np.float32, path
        np.testing.assert_array_equal(got_flat[path], np.asarray(value, np.float32), err_msg=path)


def write_zarr(step_dir: Path, relative: str, array: np.ndarray) -> dict:
    """Write a gzip zarr v2 array; return the step-relative spec T5X stores in the msgpack."""
    spec = {
        "driver": "zarr",
        "kvstore": {"driver": "file", "path": str(step_dir / relative)},
        "metadata": {
            "shape": list(array.shape),
            "chunks": [max(1, size // 2) for size in array.shape],
            "dtype": "bfloat16" if array.dtype == ml_dtypes.bfloat16 else array.dtype.str,
            "compressor": {"id": "gzip", "level": 1},
        },
        "create": True,
        "delete_existing": True,
    }
    ts.open(spec).result().write(array).result()
    # T5X writes placeholder-bucket GCS specs with paths relative to the step directory.
    return {
        "driver": "zarr",
        "kvstore": {"driver": "gcs", "bucket": "t5x-dummy-bucket", "path": relative},
    }


def write_t5x_legacy(step_dir: Path, params: dict, bfloat16: bool = False) -> None:
    step_dir.mkdir(parents=True)
    target: dict = {}
    for path, value in flax.traverse_util.flatten_dict(params, sep="/").items():
        array = np.asarray(value, ml_dtypes.bfloat16 if bfloat16 else np.float32)
        if array.size <= INLINE_MAX_ELEMENTS:
            target[path] = array
        else:
            target[path] = write_zarr(step_dir, "target." + path.replace("/", "."), array)
    param_states = {
        path: {"v": np.zeros(np.shape(value)[:1], np.float32)}
        for path, value in flax.traverse_util.flatten_dict(params, sep="/").items()
    }
    state = {
        "version": 3,
        "optimizer": {
            "target": flax.traverse_util.unflatten_dict(target, sep="/"),
            "state": {"step": np.int32(7), "param_states": param_states},
        },
    }
    (step_dir / "checkpoint").write_bytes(flax.serialization.msgpack_serialize(state))


def test_t5x_legacy_checkpoint_round_trip(tmp_path, params):
    model_dir = tmp_path / "t5x_model"
    write_t5x_legacy(model_dir / "checkpoint_7", params)
    fmt, directory = resolve_checkpoint(str(model_dir))
    assert fmt is CheckpointFormat.T5X_LEGACY and directory.endswith("checkpoint_7")
    assert_same_tree(load_params(model_dir, CONFIG), params)


def test_t5x_legacy_bfloat16_arrays_are_cast_to_param_dtype(tmp_path, params):
    write_t5x_legacy(tmp_path / "checkpoint_1", params, bfloat16=True)
    loaded = load_params(tmp_path / "checkpoint_1", CONFIG)
    rounded = jax.tree_util.tree_map(lambda a: np.asarray(a, ml_dtypes.bfloat16), params)
    assert_same_tree(loaded, rounded)


def test_t5x_orbax_checkpoint_round_trip(tmp_path, params):
    state = {"target": params, "state": {"step": np.int32(4), "param_states": params}}
    ocp.PyTreeCheckpointer().save(tmp_path / "checkpoint_4" / "state", state)
    assert resolve_checkpoint(str(tmp_path))[0] is CheckpointFormat.T5X_ORBAX
    assert_same_tree(load_params(tmp_path, CONFIG), params)


def test_trainer_model_dir_loads_latest_step_params_only(tmp_path, params):
    older = jax.tree_util.tree_map(lambda a: a + 1.0, params)
    for step, tree in ((3, older), (12, params)):
        state = {"params": tree, "opt_state": {"count": np.int32(step)}, "step": np.int32(step)}
        ocp.PyTreeCheckpointer().save(tmp_path / f"checkpoint_{step}" / "state", state)
    # An unfinished Orbax save must not be picked up.
    (tmp_path / "checkpoint_20.orbax-checkpoint-tmp-1").mkdir()
    assert resolve_checkpoint(str(tmp_path))[0] is CheckpointFormat.TRAINER
    assert_same_tree(load_params(tmp_path, CONFIG), params)
    assert_same_tree(load_params(tmp_path / "checkpoint_3", CONFIG), older)


def test_mismatched_config_names_every_offending_key(tmp_path, params):
    write_t5x_legacy(tmp_path / "checkpoint_1", params)
    wrong = CONFIG.replace(d_ff=32, num_decoder_layers=3)
    with pytest.raises(CheckpointMismatchError) as error:
        load_params(tmp_path, wrong)
    message = str(error.value)
    for layer in ("encoder/layers_0", "decoder/layers_0", "decoder/layers_1"):
        assert (
            f"wrong shape for {layer}/mlp/wi_0/kernel: got (16, 24), expected (16, 32)" in message
        )
    assert "missing tensor decoder/layers_2/mlp/wo/kernel, expected shape (32, 16)" in message
    # 3 MLP kernels x 3 layers, and the 14 tensors of the absent decoder layer.
    assert len(error.value.problems) == 3 * 3 + 14


def test_t5x_checkpoint_requires_a_config_and_a_known_layout(tmp_path, params):
    write_t5x_legacy(tmp_path / "checkpoint_1", params)
    with pytest.raises(ValueError, match="without a model config"):
        load_params(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a checkpoint"):
        load_params(tmp_path / "empty", CONFIG)
    with pytest.raises(FileNotFoundError):
        load_params(tmp_path / "missing", CONFIG)


def test_checkpoints_written_by_the_trainer_load(tmp_path, params):
    from instructrec_jax.training.checkpointing import Checkpointer

    checkpointer = Checkpointer(str(tmp_path / "model_dir"), keep=2, asynchronous=False)
    state = {"params": params, "opt_state": {"count": np.int32(9)}, "step": np.int32(9)}
    checkpointer.save(9, state)
    checkpointer.close()
    assert resolve_checkpoint(str(tmp_path / "model_dir"))[0] is CheckpointFormat.TRAINER
    assert_same_tree(load_params(tmp_path / "model_dir", CONFIG), params)
