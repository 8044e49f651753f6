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
    with pytest.raises(ValueError, match=r"metrics.jsonl:3: not JSON"):
        read_metrics(model_dir)
