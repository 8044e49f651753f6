"""Save and load a ``ProcessedDataset`` as JSON lines (never pickle).

Directory layout (``FORMAT_VERSION`` 1):

```
manifest.json      {"format_version", "name", "fingerprint", "config", "stats", "files"}
items.jsonl        {"item_id", "title", "categories", "attributes"}           sorted by id
sequences.jsonl    {"user_id", "item_ids", "timestamps", "reviews"}           sorted by user
valid.jsonl        {"user_id", "history", "target", "negatives", "review"}    user order
test.jsonl         same as valid.jsonl
item_split.jsonl   {"item_id", "split"}                                       sorted by id
```
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from instructrec_jax.atomic_files import write_json_atomic
from instructrec_jax.data.config import PrepareConfig
from instructrec_jax.data.errors import DataFormatError
from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample, Item, SplitName, UserSequence

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = ("items.jsonl", "sequences.jsonl", "valid.jsonl", "test.jsonl", "item_split.jsonl")

T = TypeVar("T")


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
            count += 1
    return count


def _eval_row(example: EvalExample) -> dict[str, Any]:
    return {
        "user_id": example.user_id,
        "history": list(example.history),
        "target": example.target,
        "negatives": list(example.negatives),
        "review": example.review,
    }


def save_processed(dataset: ProcessedDataset, directory: str | Path) -> Path:
    """Write ``dataset`` into ``directory`` (created if needed); returns the directory.

    An existing manifest is removed before any file is rewritten, and the new one is
    renamed into place last, so a directory with a manifest is complete: a save stopped
    midway leaves a directory that ``load_processed`` refuses, never a mix of two datasets.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    counts = {
        "items.jsonl": _write_jsonl(
            out / "items.jsonl",
            (
                {
                    "item_id": item.item_id,
                    "title": item.title,
                    "categories": list(item.categories),
                    "attributes": dict(item.attributes),
                }
                for item in dataset.catalog.values()
            ),
        ),
        "sequences.jsonl": _write_jsonl(
            out / "sequences.jsonl",
            (
                {
                    "user_id": s.user_id,
                    "item_ids": list(s.item_ids),
                    "timestamps": list(s.timestamps),
                    "reviews": dict(s.reviews),
                }
                for s in dataset.sequences.values()
            ),
        ),
        "valid.jsonl": _write_jsonl(out / "valid.jsonl", map(_eval_row, dataset.valid)),
        "test.jsonl": _write_jsonl(out / "test.jsonl", map(_eval_row, dataset.test)),
        "item_split.jsonl": _write_jsonl(
            out / "item_split.jsonl",
            ({"item_id": k, "split": v} for k, v in dataset.item_split.items()),
        ),
    }
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": dataset.name,
        "fingerprint": dataset.fingerprint,
        "config": dataset.config.to_json_dict(),
        "stats": dataset.stats,
        "files": counts,
    }
    write_json_atomic(out / MANIFEST, manifest)
    return out


def _read_jsonl(path: Path, parse: Callable[[dict[str, Any]], T]) -> Iterator[T]:
    """Parse each line of ``path``; any problem is a ``DataFormatError`` naming the line."""
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            try:
                parsed = parse(json.loads(line))
            except (ValueError, KeyError, TypeError) as error:
                reason = f"{type(error).__name__}: {error}"
                raise DataFormatError(str(path), line_number, reason) from error
            yield parsed


def _parse_item(row: dict[str, Any]) -> Item:
    return Item(row["item_id"], row["title"], tuple(row["categories"]), dict(row["attributes"]))


def _parse_sequence(row: dict[str, Any]) -> UserSequence:
    return UserSequence(
        row["user_id"], tuple(row["item_ids"]), tuple(row["timestamps"]), dict(row["reviews"])
    )


def _eval_parser(split: SplitName) -> Callable[[dict[str, Any]], EvalExample]:
    def parse(row: dict[str, Any]) -> EvalExample:
        return EvalExample(
            user_id=row["user_id"],
            split=split,
            history=tuple(row["history"]),
            target=row["target"],
            negatives=tuple(row["negatives"]),
            review=row["review"],
        )

    return parse


def _parse_split(row: dict[str, Any]) -> tuple[str, SplitName]:
    if row["split"] not in ("train", "valid", "test"):
        raise ValueError(f"unknown split {row['split']!r}")
    return row["item_id"], row["split"]


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of a processed directory; refuses unknown format versions."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest; not a processed dataset directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise DataFormatError(str(path), 0, f"invalid JSON: {error}") from error
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise DataFormatError(
            str(path), 0, f"unknown format_version {version!r} (this code reads {FORMAT_VERSION})"
        )
    return manifest


def load_processed(directory: str | Path) -> ProcessedDataset:
    """Load a directory written by ``ProcessedDataset.save``."""
    root = Path(directory)
    manifest = read_manifest(root)
    catalog = {item.item_id: item for item in _read_jsonl(root / "items.jsonl", _parse_item)}
    sequences = {s.user_id: s for s in _read_jsonl(root / "sequences.jsonl", _parse_sequence)}
    dataset = ProcessedDataset(
        name=manifest["name"],
        catalog=catalog,
        sequences=sequences,
        valid=list(_read_jsonl(root / "valid.jsonl", _eval_parser("valid"))),
        test=list(_read_jsonl(root / "test.jsonl", _eval_parser("test"))),
        item_split=dict(_read_jsonl(root / "item_split.jsonl", _parse_split)),
        config=PrepareConfig.from_json_dict(manifest["config"]),
        stats=manifest["stats"],
        fingerprint=manifest["fingerprint"],
    )
    for file_name, expected in manifest["files"].items():
        actual = _row_count(dataset, file_name)
        if actual != expected:
            raise DataFormatError(
                str(root / file_name), 0, f"holds {actual} rows, manifest says {expected}"
            )
    return dataset


def _row_count(dataset: ProcessedDataset, file_name: str) -> int:
    sizes = {
        "items.jsonl": len(dataset.catalog),
        "sequences.jsonl": len(dataset.sequences),
        "valid.jsonl": len(dataset.valid),
        "test.jsonl": len(dataset.test),
        "item_split.jsonl": len(dataset.item_split),
    }
    if file_name not in sizes:
        raise DataFormatError(file_name, 0, "unknown file in manifest")
    return sizes[file_name]
