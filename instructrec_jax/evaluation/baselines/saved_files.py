"""Reading the JSON and msgpack files of a saved baseline, with errors naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

Params = Any  # a flax parameter pytree


def read_json(path: Path, when_missing: str) -> Any:
    """The JSON value in ``path``; FileNotFoundError ``"{path}: {when_missing}"`` if absent."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {when_missing}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def read_params(path: Path, expected: Params) -> Params:
    """Restore a msgpack parameter tree and check it against ``expected`` shapes.

    Args:
      path: the msgpack file.
      expected: a tree of ``jax.ShapeDtypeStruct`` (``jax.eval_shape`` of the init).

    Raises:
      ValueError: naming ``path`` and the first parameter whose tree or shape differs.
    """
    restored = serialization.msgpack_restore(path.read_bytes())
    try:
        params = serialization.from_state_dict(expected, restored)
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: parameter tree does not match the config ({error})") from None
    for (key_path, want), got in zip(
        jax.tree_util.tree_leaves_with_path(expected), jax.tree_util.tree_leaves(params)
    ):
        if tuple(np.shape(got)) != tuple(want.shape):
            name = jax.tree_util.keystr(key_path)
            raise ValueError(f"{path}: {name} has shape {np.shape(got)}, expected {want.shape}")
    return params


def read_interacted(path: Path, num_items: int) -> dict[str, np.ndarray]:
    """User id -> int32 item indices (1..num_items) from ``interacted.json``."""
    raw = read_json(path, "missing (written by save)")
    interacted = {}
    for user, indices in raw.items():
        array = np.asarray(indices, dtype=np.int32)
        if array.ndim != 1 or (array.size and (array.min() < 1 or array.max() > num_items)):
            raise ValueError(f"{path}: user {user!r} has item indices outside 1..{num_items}")
        interacted[user] = array
    return interacted
