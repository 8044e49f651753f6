"""Resumable per-shard results: one small JSON file per finished unit of work.

An evaluation run is many (scenario, instruction type, protocol, model, template, split,
shard) units. Each finished unit's positive ranks are written atomically (temporary file +
``os.replace``) under ``<output_dir>/shards/``; a rerun with the same settings reads them
back instead of scoring again, so an interrupted job resumes where it stopped. A file's name
carries a digest of its user ids: a rerun whose shard holds other users (another
``max_test_examples`` or ``shard_size``) finds no file and computes that shard, while shards
of the same users are reused; results of different users are never mixed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from instructrec_jax.atomic_files import write_json_atomic

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

    def filename(self, user_ids: Sequence[str]) -> str:
        """A filesystem-safe name, unique per key and list of users of the shard."""
        parts = [
            self.scenario,
            self.instruction_type,
            self.protocol,
            self.model,
            self.template_id or "none",
            self.split,
        ]
        readable = "__".join(_SAFE.sub("-", p) for p in parts)
        digest = _digest(parts)
        users = _digest(user_ids)
        return f"{readable}__{digest}__shard-{self.shard_index:05d}__users-{users}.json"


def _digest(texts: Sequence[str]) -> str:
    """8 hex digits identifying the sequence of strings ``texts``."""
    return hashlib.sha1("\x1f".join(texts).encode()).hexdigest()[:8]


class ShardStore:
    """Reads and atomically writes shard results under ``directory``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: ShardKey, user_ids: Sequence[str]) -> Path:
        """Where the result of ``key`` for ``user_ids`` lives."""
        return self.directory / key.filename(user_ids)

    def load(self, key: ShardKey, user_ids: Sequence[str]) -> np.ndarray | None:
        """The stored ranks [len(user_ids)] for ``key`` and these users (None: not computed).

        Raises:
          ValueError: the file is unreadable or holds other users than its name says.
        """
        path = self.path(key, user_ids)
        if not path.exists():
            return None
        try:
            payload = json.loads(path.read_text())
            stored_users = list(payload["user_ids"])
            ranks = np.asarray(payload["ranks"], dtype=np.int64)
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: unreadable shard result ({error})") from error
        if stored_users != list(user_ids) or ranks.shape != (len(user_ids),):
            raise ValueError(f"{path}: corrupt shard (holds other users than its name says)")
        return ranks

    def save(self, key: ShardKey, user_ids: Sequence[str], ranks: np.ndarray) -> Path:
        """Write ``ranks`` [len(user_ids)] for ``key`` atomically."""
        path = self.path(key, user_ids)
        payload = {
            "key": dataclasses.asdict(key),
            "user_ids": list(user_ids),
            "ranks": [int(r) for r in ranks],
        }
        write_json_atomic(path, payload)
        return path
