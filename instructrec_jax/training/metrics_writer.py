"""Training metrics to ``MODEL_DIR/metrics.jsonl`` and TensorBoard event files.

``metrics.jsonl`` holds one JSON object per logged step: ``{"step": int, "split": "train" |
"validation" | "eval", <name>: float, ...}``. TensorBoard scalars go to
``MODEL_DIR/<split>/events.*`` (written with ``tf.summary``; tensorboard itself is not
needed to write them). Only process 0 writes. ``MODEL_DIR`` may be local or a URL
(``gs://``...): files go through :mod:`instructrec_jax.checkpoints.files`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from instructrec_jax.checkpoints import files
from instructrec_jax.tf_setup import import_tensorflow

METRICS_FILE = "metrics.jsonl"


class MetricsWriter:
    """Append metrics of a split at a step to the JSON-lines log and TensorBoard."""

    def __init__(self, model_dir: str, enabled: bool = True) -> None:
        self._model_dir = model_dir
        self._enabled = enabled
        self._summary_writers: dict[str, Any] = {}
        self.path = files.join(model_dir, METRICS_FILE)

    def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
        """Record ``metrics`` (plain floats) of ``split`` at ``step``."""
        if not self._enabled:
            return
        record = {"step": int(step), "split": split}
        record.update({name: _jsonable(value) for name, value in metrics.items()})
        files.append_text(self.path, json.dumps(record, sort_keys=True) + "\n")
        tf = import_tensorflow()
        writer = self._summary_writer(split)
        metadata = tf.compat.v1.SummaryMetadata(
            plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars")
        )
        with writer.as_default():
            for name, value in metrics.items():
                # tf.summary.scalar needs the tensorboard package; write() with the scalars
                # plugin's metadata produces the same event.
                tf.summary.write(
                    name, tf.constant(float(value), tf.float32), step=int(step), metadata=metadata
                )
        writer.flush()

    def _summary_writer(self, split: str) -> Any:
        if split not in self._summary_writers:
            tf = import_tensorflow()
            directory = files.join(self._model_dir, split)
            self._summary_writers[split] = tf.summary.create_file_writer(directory)
        return self._summary_writers[split]

    def close(self) -> None:
        """Flush and close the TensorBoard writers."""
        for writer in self._summary_writers.values():
            writer.close()
        self._summary_writers.clear()


def _jsonable(value: float) -> float | str:
    """Floats as JSON numbers; NaN/Inf as strings (JSON has no literal for them)."""
    value = float(value)
    return value if math.isfinite(value) else str(value)


def read_metrics(model_dir: str) -> list[dict[str, Any]]:
    """Every record of ``MODEL_DIR/metrics.jsonl`` (raises ValueError naming a bad line)."""
    path = files.join(model_dir, METRICS_FILE)
    records = []
    for number, line in enumerate(files.read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON: {error}") from error
    return records
