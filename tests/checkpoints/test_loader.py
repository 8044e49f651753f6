"""latest_step_dir: the highest complete ``checkpoint_<step>``; on remote filesystems (here
TF's in-memory ``ram://``, which like ``gs://`` only tf.io.gfile reads) a step directory
counts only with Orbax's commit marker or a T5X legacy ``checkpoint`` file."""

from __future__ import annotations

import uuid

from instructrec_jax.checkpoints.loader import latest_step_dir
from instructrec_jax.tf_setup import import_tensorflow


def _write(gfile, path: str, text: str = "") -> None:
    with gfile.GFile(path, "w") as stream:
        stream.write(text)


def test_remote_step_without_commit_marker_is_skipped():
    gfile = import_tensorflow().io.gfile
    model_dir = f"ram://loader_{uuid.uuid4().hex}"
    for step in (1, 2, 3):
        gfile.makedirs(f"{model_dir}/checkpoint_{step}/state")
    _write(gfile, f"{model_dir}/checkpoint_1/commit_success.txt", "ok")
    # checkpoint_2 and checkpoint_3: Orbax is still writing them in place.
    assert latest_step_dir(model_dir) == f"{model_dir}/checkpoint_1"

    _write(gfile, f"{model_dir}/checkpoint_3/commit_success.txt", "ok")
    assert latest_step_dir(model_dir) == f"{model_dir}/checkpoint_3"


def test_remote_t5x_legacy_checkpoint_needs_no_marker():
    gfile = import_tensorflow().io.gfile
    model_dir = f"ram://loader_{uuid.uuid4().hex}"
    gfile.makedirs(f"{model_dir}/checkpoint_1000")
    _write(gfile, f"{model_dir}/checkpoint_1000/checkpoint", "msgpack")
    gfile.makedirs(f"{model_dir}/checkpoint_2000")  # unfinished
    assert latest_step_dir(model_dir) == f"{model_dir}/checkpoint_1000"


def test_local_steps_need_no_marker(tmp_path):
    # Locally a step directory appears by an atomic rename: its name means it is complete.
    for name in ("checkpoint_5", "checkpoint_12", "checkpoint_20.orbax-checkpoint-tmp-1"):
        (tmp_path / name).mkdir()
    assert latest_step_dir(str(tmp_path)) == str(tmp_path / "checkpoint_12")
    assert latest_step_dir(str(tmp_path / "missing")) is None
