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
from instructrec_jax.json_text import parse_json_object
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

    def drop_after(self, step: int) -> int:
        """Remove every record past ``step`` from ``metrics.jsonl`` and the TensorBoard
        event files; returns how many JSON records went.

        A run killed after its last checkpoint logged steps it will log again once resumed
        from that checkpoint; call this with the restored step before the first write so
        no step appears twice. Call it before any write of this writer.
        """
        if not self._enabled:
            return 0
        dropped = 0
        if files.exists(self.path):
            records, torn = _records_and_torn_tail(self.path)
            kept = [record for record in records if int(record["step"]) <= step]
            dropped = len(records) - len(kept) + torn
            if dropped:
                text = "".join(json.dumps(record, sort_keys=True) + "\n" for record in kept)
                _rewrite(self.path, text.encode("utf-8"))
        for split in _event_splits(self._model_dir):
            _drop_events_after(files.join(self._model_dir, split), step)
        return dropped

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
    return _parse_lines(path, files.read_text(path))


def _records_and_torn_tail(path: str) -> tuple[list[dict[str, Any]], int]:
    """The records of a metrics file and 1 when its last line is an unterminated, unparsable
    fragment (a ``kill -9`` during an append), else 0. Other bad lines raise ValueError."""
    text = files.read_text(path)
    head, _, tail = text.rpartition("\n")
    try:
        return _parse_lines(path, text), 0
    except ValueError:
        if not tail.strip():
            raise
        return _parse_lines(path, head), 1


def _parse_lines(path: str, text: str) -> list[dict[str, Any]]:
    """The JSON records of the lines of ``text`` read from ``path`` (blank lines skipped;
    raises ValueError naming ``path`` and the line of a record that is not JSON)."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        records.append(parse_json_object(line, f"{path}:{number}"))
    return records


def _rewrite(path: str, payload: bytes) -> None:
    """Replace ``path`` by ``payload`` (a temporary beside it, then a rename)."""
    tf = import_tensorflow()
    temporary = f"{path}.rewrite.tmp"
    with tf.io.gfile.GFile(temporary, "wb") as stream:
        stream.write(payload)
    tf.io.gfile.rename(temporary, path, overwrite=True)


def _event_splits(model_dir: str) -> list[str]:
    """The split folders of ``model_dir`` holding TensorBoard event files."""
    if not files.isdir(model_dir):
        return []
    return [
        name.rstrip("/")
        for name in files.listdir(model_dir)
        if files.isdir(files.join(model_dir, name))
        and any(f.startswith("events.") for f in files.listdir(files.join(model_dir, name)))
    ]


def _complete_records(path: str) -> tuple[list[bytes], bool]:
    """The whole TFRecords of ``path`` and whether a torn record (a ``kill -9`` during a
    write) ends it."""
    tf = import_tensorflow()
    records: list[bytes] = []
    try:
        for record in tf.compat.v1.io.tf_record_iterator(path):
            records.append(record)
    except tf.errors.DataLossError:
        return records, True
    return records, False


def _drop_events_after(directory: str, step: int) -> None:
    """Rewrite each event file of ``directory`` without the events past ``step``.

    Event files are TFRecord files of ``Event`` protos; the file-version header (step 0)
    is kept, a torn last record is dropped.
    """
    tf = import_tensorflow()
    for name in files.listdir(directory):
        if not name.startswith("events."):
            continue
        path = files.join(directory, name)
        records, torn = _complete_records(path)
        kept = [r for r in records if tf.compat.v1.Event.FromString(r).step <= step]
        if len(kept) == len(records) and not torn:
            continue
        temporary = f"{path}.rewrite.tmp"
        with tf.io.TFRecordWriter(temporary) as writer:
            for record in kept:
                writer.write(record)
        tf.io.gfile.rename(temporary, path, overwrite=True)
