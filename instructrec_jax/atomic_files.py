"""Atomic JSON files: written under a temporary name in the same folder, then renamed.

A reader sees the old file or the new one, never a partial write; a failed write leaves no
temporary behind. Used for every manifest, completion record and result the pipeline
resumes from (processed data, instruction units, evaluation shards and reports).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json_atomic(path: str | os.PathLike[str], payload: object) -> None:
    """Write ``payload`` as JSON (sorted keys, indented, newline-terminated) to ``path``;
    missing parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
