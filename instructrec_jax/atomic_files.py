"""Atomic files: written under a temporary name in the same folder, then renamed.

A reader sees the old file or the new one, never a partial write; a failed write leaves no
temporary behind. Used for every manifest, completion record and result the pipeline
resumes from (processed data, instruction units, evaluation shards and reports) and for the
score CLI's output.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text stream (UTF-8) whose content replaces ``path`` when the block ends cleanly;
    missing parent folders are created. On an exception ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike[str], payload: object) -> None:
    """Write ``payload`` as JSON (sorted keys, indented, newline-terminated) to ``path``;
    missing parent folders are created."""
    with open_atomic(path) as stream:
        stream.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise ``OSError`` naming ``path`` unless :func:`open_atomic` could write it.

    ``path`` must not be a folder, and its nearest existing ancestor must be a writable
    folder (missing folders below it are created on write). Nothing is written.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file to write")
    ancestor = path.parent.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: {ancestor} is not writable")
