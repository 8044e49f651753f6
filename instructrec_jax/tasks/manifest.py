"""Read and validate a generated-instructions directory's ``manifest.json``.

The contract (written by ``instructrec_jax.instructions``): ``DIR/manifest.json`` lists,
per split (``train``, ``valid``, ``test``) and ``"<family>/<instruction_type>"`` key, the
TFRecord files (paths relative to ``DIR``), the record count and the template ids. This
module turns it into typed ``ManifestEntry`` objects with absolute file paths, and fails
with the file and field named when something is off.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any

from instructrec_jax.instructions.records import FAMILIES
from instructrec_jax.json_text import parse_json_object

MANIFEST_NAME = "manifest.json"
SUPPORTED_FORMAT_VERSIONS = (1,)
MANIFEST_SPLITS: tuple[str, ...] = ("train", "valid", "test")
# SeqIO / T5X split names for the manifest's split names.
SEQIO_SPLIT_NAMES: dict[str, str] = {"train": "train", "valid": "validation", "test": "test"}
INSTRUCTION_TYPE_PATTERN = re.compile(
    r"^(p0|p1|p2|p1p2)_(i0|i1|i2)_(t0|t1|t2|t3)(_(turnaround|relatedness|cot))?$"
)


class ManifestError(ValueError):
    """A generated-instructions directory that is missing or does not follow the contract."""


def default_instructions_dir(dataset: str) -> str:
    """``$INSTRUCTREC_DATA_DIR/instructions/<dataset>`` (data dir: ``~/.cache/instructrec``)."""
    data_dir = os.environ.get("INSTRUCTREC_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "instructrec"
    )
    return os.path.join(data_dir, "instructions", dataset)


def generate_hint(dataset: str, directory: str | None = None) -> str:
    """How a user makes the missing directory (default location unless ``directory``)."""
    out = directory or default_instructions_dir(dataset)
    return (
        f"Generate it with `python -m instructrec_jax.instructions.generate --dataset={dataset} "
        f"--out={out}` (or set INSTRUCTREC_INSTRUCTIONS_DIR / "
        "pass --instructions_dir to point at an existing one)."
    )


@dataclasses.dataclass(frozen=True)
class ManifestEntry:
    """The files of one (split, family, instruction type).

    Attributes:
      split: manifest split name, ``train``/``valid``/``test``.
      family: one of ``records.FAMILIES``.
      instruction_type: e.g. ``p1_i0_t3``.
      files: absolute paths (or URIs) of the TFRecord files, in manifest order.
      num_records: number of records in all ``files``.
      template_ids: templates rendered into these records.
    """

    split: str
    family: str
    instruction_type: str
    files: tuple[str, ...]
    num_records: int
    template_ids: tuple[str, ...]

    @property
    def key(self) -> str:
        """``"<family>/<instruction_type>"``, the manifest's key."""
        return f"{self.family}/{self.instruction_type}"


@dataclasses.dataclass(frozen=True)
class InstructionsManifest:
    """A parsed manifest. ``entries[split][key]`` with ``key = "<family>/<type>"``."""

    directory: str
    dataset: str
    dataset_fingerprint: str
    seed: int
    entries: Mapping[str, Mapping[str, ManifestEntry]]

    def task_keys(self) -> list[str]:
        """Every ``family/type`` key of any split, sorted."""
        return sorted({key for split in self.entries.values() for key in split})

    def entry(self, split: str, key: str) -> ManifestEntry | None:
        """The entry of ``key`` in manifest split ``split``, or None."""
        return self.entries.get(split, {}).get(key)


def _require(mapping: Mapping[str, Any], field: str, kind: type, where: str) -> Any:
    if field not in mapping:
        raise ManifestError(f"{where}: missing field {field!r}")
    value = mapping[field]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(
            f"{where}: field {field!r} must be {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _parse_entry(
    directory: str, split: str, key: str, raw: Mapping[str, Any], where: str
) -> ManifestEntry:
    family = _require(raw, "family", str, where)
    instruction_type = _require(raw, "instruction_type", str, where)
    if family not in FAMILIES:
        raise ManifestError(f"{where}: family {family!r} is not one of {FAMILIES}")
    if not INSTRUCTION_TYPE_PATTERN.match(instruction_type):
        raise ManifestError(
            f"{where}: instruction_type {instruction_type!r} does not match "
            "<p>_<i>_<t>[_<strategy>] (e.g. p1_i0_t3)"
        )
    if key != f"{family}/{instruction_type}":
        raise ManifestError(f"{where}: key {key!r} != '{family}/{instruction_type}'")
    files = _require(raw, "files", list, where)
    if not files or not all(isinstance(f, str) and f for f in files):
        raise ManifestError(f"{where}: 'files' must be a non-empty list of relative paths")
    num_records = _require(raw, "num_records", int, where)
    if num_records < 0:
        raise ManifestError(f"{where}: num_records must be >= 0, got {num_records}")
    template_ids = raw.get("template_ids", [])
    if not isinstance(template_ids, list):
        raise ManifestError(f"{where}: 'template_ids' must be a list")
    return ManifestEntry(
        split=split,
        family=family,
        instruction_type=instruction_type,
        files=tuple(os.path.join(directory, f) for f in files),
        num_records=num_records,
        template_ids=tuple(str(t) for t in template_ids),
    )


def load_manifest(
    directory: str | os.PathLike[str], dataset: str | None = None
) -> InstructionsManifest:
    """Parse ``directory/manifest.json``; check ``dataset`` matches when given.

    Raises:
      ManifestError: no directory or manifest (the message says how to generate one), bad
        JSON, an unsupported format version or a field that breaks the contract.
    """
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()
    directory = os.fspath(directory)
    path = os.path.join(directory, MANIFEST_NAME)
    if not tf.io.gfile.exists(path):
        hint = (
            generate_hint(dataset)
            if dataset
            else "Generate it with instructrec_jax.instructions.generate."
        )
        raise ManifestError(
            f"no generated instructions at {directory!r} ({path} not found). {hint}"
        )
    with tf.io.gfile.GFile(path, "r") as handle:
        text = handle.read()
    raw = parse_json_object(text, path, ManifestError)
    version = _require(raw, "format_version", int, path)
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise ManifestError(f"{path}: format_version {version} not in {SUPPORTED_FORMAT_VERSIONS}")
    manifest_dataset = _require(raw, "dataset", str, path)
    if dataset is not None and manifest_dataset != dataset:
        raise ManifestError(f"{path}: dataset is {manifest_dataset!r}, expected {dataset!r}")
    splits = _require(raw, "splits", dict, path)
    unknown = set(splits) - set(MANIFEST_SPLITS)
    if unknown:
        raise ManifestError(f"{path}: unknown splits {sorted(unknown)}; expected {MANIFEST_SPLITS}")
    entries: dict[str, dict[str, ManifestEntry]] = {}
    for split, split_entries in splits.items():
        if not isinstance(split_entries, dict):
            raise ManifestError(f"{path}: splits.{split} must be an object")
        entries[split] = {}
        for key, value in split_entries.items():
            where = f"{path}: splits.{split}.{key}"
            if not isinstance(value, dict):
                raise ManifestError(f"{where} must be an object")
            entries[split][key] = _parse_entry(directory, split, key, value, where)
    return InstructionsManifest(
        directory=directory,
        dataset=manifest_dataset,
        dataset_fingerprint=str(raw.get("dataset_fingerprint", "")),
        seed=int(raw.get("seed", 0)),
        entries=entries,
    )
