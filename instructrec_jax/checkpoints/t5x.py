"""T5X checkpoints: the legacy msgpack + tensorstore format, and Orbax PyTrees.

Legacy ``checkpoint_<step>/``::

    checkpoint                      msgpack (flax serialization) of
                                    {'version': 3, 'optimizer': {'target': {...params...},
                                                                 'state': {...}}}
    target.encoder.layers_0...      zarr v2 arrays (tensorstore), one directory per array

Small arrays are inline in the msgpack; large ones are tensorstore specs whose
``kvstore.path`` is relative to the step directory. Orbax ``checkpoint_<step>/state/``
holds a PyTree whose parameters sit under one top-level key (``target`` for T5X,
``params`` for this project's trainer). Only parameters are read; optimizer state is
skipped (partial restore). Arrays are read one at a time into host numpy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import flax
import jax
import numpy as np

from instructrec_jax.checkpoints import files
from instructrec_jax.checkpoints.tree import ParamAssembler, Params
from instructrec_jax.models.config import T5Config

LEGACY_FILE = "checkpoint"
ORBAX_ITEM = "state"
T5X_PARAMS_KEY = "target"


def _is_tensorstore_spec(value: Any) -> bool:
    return isinstance(value, dict) and "driver" in value


def _iter_legacy_leaves(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """('/'-joined path, inline array or tensorstore spec) of a legacy target tree."""
    if isinstance(tree, dict) and not _is_tensorstore_spec(tree):
        for key, value in tree.items():
            yield from _iter_legacy_leaves(value, (*prefix, str(key)))
    else:
        yield "/".join(prefix), tree


def absolute_spec(spec: dict[str, Any], step_dir: str) -> dict[str, Any]:
    """The tensorstore spec with its (step-dir relative) path resolved against ``step_dir``.

    GCS-written specs name a placeholder bucket; the real location is always the step
    directory (local path, or ``gs://bucket/prefix``).
    """
    spec = copy.deepcopy(spec)
    kvstore = spec.get("kvstore")
    relative = kvstore.get("path") if isinstance(kvstore, dict) else None
    if relative is None:
        relative = spec.pop("path", None)
    if not isinstance(relative, str):
        raise ValueError(f"tensorstore spec without a path in {step_dir}: {spec}")
    if step_dir.startswith("gs://"):
        bucket, _, prefix = step_dir[len("gs://") :].partition("/")
        path = "/".join(part for part in (prefix.rstrip("/"), relative) if part)
        spec["kvstore"] = {"driver": "gcs", "bucket": bucket, "path": path}
    elif files.is_url(step_dir):
        raise ValueError(f"tensorstore arrays under {step_dir}: only local and gs:// are supported")
    else:
        spec["kvstore"] = {"driver": "file", "path": files.join(step_dir, relative)}
    return spec


def _read_tensorstore(spec: dict[str, Any]) -> np.ndarray:
    import tensorstore as ts

    return np.asarray(ts.open(spec, open=True).result().read().result())


def legacy_leaves(step_dir: str) -> list[tuple[str, Any]]:
    """('/'-joined path, inline numpy array or tensorstore spec) of every parameter of a
    legacy ``checkpoint_<step>``; specs are returned as stored (relative paths)."""
    checkpoint_file = files.join(step_dir, LEGACY_FILE)
    state = flax.serialization.msgpack_restore(files.read_bytes(checkpoint_file))
    target = state.get("optimizer", {}).get("target") if isinstance(state, dict) else None
    if not isinstance(target, dict):
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{checkpoint_file}: no 'optimizer/target' parameter tree (found {keys})")
    return list(_iter_legacy_leaves(target))


def is_tensorstore_spec(value: Any) -> bool:
    """Whether a legacy leaf is a tensorstore spec (rather than an inline array)."""
    return _is_tensorstore_spec(value)


def load_t5x_legacy_params(step_dir: str, config: T5Config) -> Params:
    """Parameters from a legacy T5X ``checkpoint_<step>`` directory (msgpack + zarr)."""
    assembler = ParamAssembler(config, step_dir)
    for path, value in legacy_leaves(step_dir):
        if _is_tensorstore_spec(value):
            array = _read_tensorstore(absolute_spec(value, step_dir))
        else:
            array = np.asarray(value)
        assembler.add(path, array)
    return assembler.finish()


def orbax_tree_metadata(state_dir: str) -> dict[str, Any]:
    """The nested metadata tree (leaves with .shape/.dtype) of an Orbax PyTree checkpoint."""
    import orbax.checkpoint as ocp
    from etils import epath

    # The handler's metadata, not the Checkpointer's: that one also looks for step metadata
    # inside the item directory and warns on every trainer and T5X checkpoint.
    metadata = ocp.PyTreeCheckpointHandler().metadata(epath.Path(state_dir))
    tree = getattr(metadata, "tree", metadata)
    if not isinstance(tree, dict):
        raise ValueError(f"{state_dir}: not an Orbax PyTree checkpoint of a dict")
    return tree


def load_orbax_params(state_dir: str, config: T5Config, params_key: str) -> Params:
    """Parameters stored under ``params_key`` of an Orbax PyTree checkpoint (partial restore:
    optimizer state is never read)."""
    import orbax.checkpoint as ocp

    tree = orbax_tree_metadata(state_dir)
    if params_key not in tree:
        raise ValueError(f"{state_dir}: no {params_key!r} subtree (top-level keys {sorted(tree)})")
    wanted = {params_key: tree[params_key]}
    item = jax.tree_util.tree_map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype), wanted)
    restore_args = jax.tree_util.tree_map(
        lambda _: ocp.RestoreArgs(restore_type=np.ndarray), wanted
    )
    restored = ocp.PyTreeCheckpointer().restore(
        state_dir,
        args=ocp.args.PyTreeRestore(item=item, restore_args=restore_args, partial_restore=True),
    )
    assembler = ParamAssembler(config, state_dir)
    flat = flax.traverse_util.flatten_dict(restored[params_key], sep="/")
    del restored
    for path in list(flat):
        assembler.add(path, np.asarray(flat.pop(path)))
    return assembler.finish()
