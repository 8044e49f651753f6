"""Resumable per-shard results: one small JSON file per finished unit of work.

An evaluation run is many (scenario, instruction type, protocol, model, template, split,
shard) units. Each finished unit's positive ranks are written atomically (temporary file +
``os.replace``) under ``<output_dir>/shards/``; a rerun with the same settings reads them
back instead of scoring again, so an interrupted job resumes where it stopped. A file whose
user ids differ from the requested shard is stale and is an error (change the output
directory or delete it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclasses.dataclass(frozen=True)
class ShardKey:
    """Identifies one unit of work."""

    scenario: str
    instruction_type: str
    protocol: str
    model: str
    template_id: str
    split: str
    shard_index: int

    def filename(self) -> str:
        """A filesystem-safe, unique name for this key."""
        parts = [
            self.scenario,
            self.instruction_type,
            self.protocol,
            self.model,
            self.template_id or "none",
            self.split,
        ]
        readable = "__".join(_SAFE.sub("-", p) for p in parts)
        digest = hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:8]
        return f"{readable}__{digest}__shard-{self.shard_index:05d}.json"


class ShardStore:
    """Reads and atomically writes shard results under ``directory``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: ShardKey) -> Path:
        """Where ``key``'s result lives."""
        return self.directory / key.filename()

    def load(self, key: ShardKey, user_ids: Sequence[str]) -> np.ndarray | None:
        """The stored ranks for ``key`` (None if not yet computed).

        Raises:
          ValueError: the file is unreadable or was computed for other users.
        """
        path = self.path(key)
        if not path.exists():
            return None
        try:
            payload = json.loads(path.read_text())
            stored_users = list(payload["user_ids"])
            ranks = np.asarray(payload["ranks"], dtype=np.int64)
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: unreadable shard result ({error})") from error
        if stored_users != list(user_ids) or ranks.shape != (len(user_ids),):
            raise ValueError(
                f"{path}: stale shard (computed for other users); delete it or use a new "
                "output directory"
            )
        return ranks

    def save(self, key: ShardKey, user_ids: Sequence[str], ranks: np.ndarray) -> Path:
        """Write ``ranks`` [len(user_ids)] for ``key`` atomically."""
        path = self.path(key)
        payload = {
            "key": dataclasses.asdict(key),
            "user_ids": list(user_ids),
            "ranks": [int(r) for r in ranks],
        }
        write_json_atomic(path, payload)
        return path


def write_json_atomic(path: str | Path, payload: object) -> None:
    """Write JSON to ``path`` via a temporary file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(payload, stream, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
