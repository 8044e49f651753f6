"""Minimal file access: local paths directly, URLs (``gs://``...) through ``tf.io.gfile``.

Checkpoint *metadata* (directory listings, the legacy msgpack file) and the training
metrics log go through here; array data is read by tensorstore or Orbax, which handle
``gs://`` themselves.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any


def is_url(path: str) -> bool:
    """True for ``scheme://...`` paths (gs://, s3://, ...)."""
    return "://" in path


def _gfile() -> Any:
    from instructrec_jax.tf_setup import import_tensorflow

    return import_tensorflow().io.gfile


def join(path: str, *parts: str) -> str:
    """Join path components (URLs keep their scheme)."""
    if is_url(path):
        return "/".join([path.rstrip("/"), *parts])
    return os.path.join(path, *parts)


def exists(path: str) -> bool:
    """Whether a file or directory exists."""
    return _gfile().exists(path) if is_url(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    """Whether ``path`` is a directory."""
    return _gfile().isdir(path) if is_url(path) else os.path.isdir(path)


def listdir(path: str) -> list[str]:
    """Entry names of a directory (no trailing slashes), sorted."""
    if is_url(path):
        return sorted(name.rstrip("/") for name in _gfile().listdir(path))
    return sorted(os.listdir(path))


def read_bytes(path: str) -> bytes:
    """The whole content of a file."""
    if is_url(path):
        with _gfile().GFile(path, "rb") as handle:
            return handle.read()
    with open(path, "rb") as handle:
        return handle.read()


def read_text(path: str) -> str:
    """The whole content of a UTF-8 text file."""
    return read_bytes(path).decode("utf-8")


def append_text(path: str, text: str) -> None:
    """Append ``text`` (UTF-8) to a file, creating it when missing."""
    if is_url(path):
        with _gfile().GFile(path, "a") as handle:
            handle.write(text)
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def _file_stats(path: str) -> list[tuple[str, int, int]]:
    """(path relative to ``path``, size in bytes, modification time in ns) of every file
    under ``path`` (or of ``path`` itself when it is a file), sorted."""
    if not isdir(path):
        stat = _gfile().stat(path) if is_url(path) else os.stat(path)
        mtime = stat.mtime_nsec if is_url(path) else stat.st_mtime_ns
        size = stat.length if is_url(path) else stat.st_size
        return [(os.path.basename(path.rstrip("/")), int(size), int(mtime))]
    rows = []
    walk = _gfile().walk(path) if is_url(path) else os.walk(path)
    for folder, _, names in walk:
        for name in names:
            full = join(folder, name)
            relative = full[len(path.rstrip("/")) + 1 :]
            if is_url(path):
                stat = _gfile().stat(full)
                rows.append((relative, int(stat.length), int(stat.mtime_nsec)))
            else:
                stat = os.stat(full)
                rows.append((relative, stat.st_size, stat.st_mtime_ns))
    return sorted(rows)


def metadata_fingerprint(path: str) -> str:
    """A digest (16 hex digits) of the names, sizes and modification times of the files
    under ``path``: it changes when a checkpoint is rewritten or replaced at the same path,
    without reading its (possibly many GB of) array data."""
    digest = hashlib.sha256()
    for relative, size, mtime in _file_stats(path):
        digest.update(f"{relative}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()[:16]


def content_digest(path: str) -> str:
    """sha256 (16 hex digits) of a file's bytes, for small files such as vocabularies."""
    return hashlib.sha256(read_bytes(path)).hexdigest()[:16]
