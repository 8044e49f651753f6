"""Checks before anything is compiled or written: the mesh against the devices (8 virtual CPU
devices here) and the batch, and TRAIN_STEPS against an initial checkpoint that a resumed
run no longer needs."""

from __future__ import annotations

import pytest

from instructrec_jax.training.preflight import (
    SetupError,
    check_before_compile,
    check_mesh,
    check_train_steps,
)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mesh_shape": (3, 3)}, "MESH_SHAPE: mesh_shape (3, 3) does not cover 8 devices"),
        ({"num_partitions": 3}, "NUM_PARTITIONS: num_partitions=3 does not divide 8 devices"),
        ({"batch_size": 4}, "BATCH_SIZE=4 is not divisible by the mesh's data axis size 8"),
        (
            {"batch_size": 6, "mesh_shape": (4, 2)},
            "BATCH_SIZE=6 is not divisible by the mesh's data axis size 4",
        ),
    ],
)
def test_mesh_that_does_not_fit_is_refused_before_anything_is_written(
    make_config, tmp_path, overrides, message
):
    config = make_config(**overrides)
    with pytest.raises(SetupError) as error:
        check_before_compile(config)
    assert str(error.value).startswith(message)
    assert not (tmp_path / "run").exists()


def test_fitting_meshes_pass(make_config):
    check_mesh(make_config(batch_size=8, num_partitions=2))
    check_mesh(make_config(batch_size=2, mesh_shape=(2, 4)))


def test_initial_checkpoint_is_checked_only_when_not_resuming(make_config, tmp_path):
    config = make_config(initial_checkpoint_path=str(tmp_path / "gone"), train_steps=30)
    with pytest.raises(SetupError, match=r"INITIAL_CHECKPOINT_PATH: checkpoint path .* not exist"):
        check_train_steps(config)
    # MODEL_DIR holds a checkpoint: the run resumes from it and never reads the initial one,
    # which a resumed run on another machine may not have.
    (tmp_path / "run" / "checkpoint_12").mkdir(parents=True)
    check_train_steps(config)
