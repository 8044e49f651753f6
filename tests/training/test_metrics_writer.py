"""metrics.jsonl and TensorBoard events through tf.io.gfile: a MODEL_DIR that only gfile
understands (TF's in-memory ``ram://`` filesystem, standing in for ``gs://``) works."""

from __future__ import annotations

import math
import uuid

import pytest

from instructrec_jax.tf_setup import import_tensorflow
from instructrec_jax.training.metrics_writer import MetricsWriter, read_metrics


def test_metrics_round_trip_through_a_gfile_only_filesystem():
    gfile = import_tensorflow().io.gfile
    model_dir = f"ram://metrics_{uuid.uuid4().hex}/run"
    gfile.makedirs(model_dir)
    writer = MetricsWriter(model_dir)
    writer.write(5, "train", {"loss": 1.5, "grad_norm": float("nan")})
    writer.write(5, "validation", {"loss": 2.0})
    writer.close()

    records = read_metrics(model_dir)
    assert records[0] == {"step": 5, "split": "train", "loss": 1.5, "grad_norm": "nan"}
    assert records[1] == {"step": 5, "split": "validation", "loss": 2.0}
    assert math.isnan(float(records[0]["grad_norm"]))
    assert gfile.glob(f"{model_dir}/train/events.*")
    assert gfile.glob(f"{model_dir}/validation/events.*")


def test_a_bad_line_is_named():
    gfile = import_tensorflow().io.gfile
    model_dir = f"ram://metrics_{uuid.uuid4().hex}"
    gfile.makedirs(model_dir)
    with gfile.GFile(f"{model_dir}/metrics.jsonl", "w") as stream:
        stream.write('{"step": 1}\n\nnot json\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:3: not valid JSON"):
        read_metrics(model_dir)


def tensorboard_steps(directory) -> list[int]:
    """The steps of the scalar events in a TensorBoard folder's event files."""
    tf = import_tensorflow()
    steps = []
    for path in tf.io.gfile.glob(f"{directory}/events.*"):
        for record in tf.compat.v1.io.tf_record_iterator(path):
            event = tf.compat.v1.Event.FromString(record)
            if event.summary.value:
                steps.append(event.step)
    return steps


def test_drop_after_removes_later_records_from_jsonl_and_tensorboard(tmp_path):
    writer = MetricsWriter(str(tmp_path))
    for step in (1, 2, 3, 4):
        writer.write(step, "train", {"loss": float(step)})
    writer.write(3, "validation", {"loss": 0.5})
    writer.close()
    assert MetricsWriter(str(tmp_path)).drop_after(2) == 3
    assert [(r["step"], r["split"]) for r in read_metrics(str(tmp_path))] == [
        (1, "train"),
        (2, "train"),
    ]
    assert sorted(tensorboard_steps(tmp_path / "train")) == [1, 2]
    assert tensorboard_steps(tmp_path / "validation") == []
    assert not list(tmp_path.rglob("*.tmp"))
    # Nothing past the step: nothing changes.
    assert MetricsWriter(str(tmp_path)).drop_after(2) == 0


def test_drop_after_survives_a_record_torn_by_kill_9(tmp_path):
    """A run killed mid-append leaves half a JSON line and half a TFRecord: resuming drops
    them (they are past the restored step) instead of failing on them."""
    writer = MetricsWriter(str(tmp_path))
    for step in (1, 2, 3):
        writer.write(step, "train", {"loss": float(step)})
    writer.close()
    with open(tmp_path / "metrics.jsonl", "a", encoding="utf-8") as stream:
        stream.write('{"loss": 4.0, "spl')
    (event_file,) = (tmp_path / "train").glob("events.*")
    payload = event_file.read_bytes()
    event_file.write_bytes(payload + payload[-40:-7])
    assert MetricsWriter(str(tmp_path)).drop_after(2) == 2
    assert [r["step"] for r in read_metrics(str(tmp_path))] == [1, 2]
    assert sorted(tensorboard_steps(tmp_path / "train")) == [1, 2]
