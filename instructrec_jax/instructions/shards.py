"""Resumable shard writing: temp file + rename, and a per-unit completion record.

A *unit* is one piece of work (a chunk of one split) that writes one part file per
(family, instruction type) of its split. When every file of a unit is in place, a small
JSON completion record ``_units/<split>-<k>-of-<n>.json`` is written (also temp + rename)
with the unit's spec hash, each file's SHA-256 and record count, and the unit's stats.
A rerun skips a unit whose completion record has the same spec hash and whose files still
hash to the recorded values; anything else (crash half-way, changed config, edited file)
is redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from instructrec_jax.atomic_files import write_json_atomic
from instructrec_jax.tf_setup import import_tensorflow

UNITS_DIR = "_units"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_tfrecord(path: Path, payloads: Sequence[bytes]) -> str:
    """Write ``payloads`` as a TFRecord file via a temp name + rename; return its SHA-256."""
    tf = import_tensorflow()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tf.io.TFRecordWriter(str(temporary)) as writer:
        for payload in payloads:
            writer.write(payload)
    digest = file_sha256(temporary)
    os.replace(temporary, path)
    return digest


def unit_record_path(out_dir: Path, split: str, index: int, count: int) -> Path:
    """Where a unit's completion record lives."""
    return out_dir / UNITS_DIR / f"{split}-{index:05d}-of-{count:05d}.json"


def load_complete_unit(out_dir: Path, record_path: Path, spec_hash: str) -> dict[str, Any] | None:
    """The completion record if the unit is complete and unchanged, else None."""
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("spec_hash") != spec_hash:
        return None
    for relative, entry in record.get("files", {}).items():
        path = out_dir / relative
        if not path.is_file() or file_sha256(path) != entry.get("sha256"):
            return None
    return record


def write_unit(
    out_dir: Path,
    record_path: Path,
    spec_hash: str,
    files: Mapping[str, Sequence[bytes]],
    template_ids: Mapping[str, Sequence[str]],
    stats: Mapping[str, Any],
) -> dict[str, Any]:
    """Write a unit's files (relative path -> payloads), then its completion record."""
    entries = {}
    for relative in sorted(files):
        digest = write_tfrecord(out_dir / relative, files[relative])
        entries[relative] = {"sha256": digest, "num_records": len(files[relative])}
    record = {
        "spec_hash": spec_hash,
        "files": entries,
        "template_ids": {key: sorted(ids) for key, ids in sorted(template_ids.items())},
        "stats": dict(stats),
    }
    write_json_atomic(record_path, record)
    return record


def read_tfrecord_payloads(path: Path) -> list[bytes]:
    """The payloads of an uncompressed TFRecord file, read without TensorFlow.

    For tools and tests; CRCs are not verified (TensorFlow's readers do that).
    Raises ValueError naming the file when a record is cut short.
    """
    data = Path(path).read_bytes()
    payloads = []
    offset = 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise ValueError(f"{path}: truncated record header at byte {offset}")
        length = int.from_bytes(data[offset : offset + 8], "little")
        start = offset + 12
        if start + length + 4 > len(data):
            raise ValueError(f"{path}: truncated record at byte {offset}")
        payloads.append(data[start : start + length])
        offset = start + length + 4
    return payloads
