"""Orbax checkpoints of the train state under ``MODEL_DIR/checkpoint_<step>/``.

Layout (what :func:`instructrec_jax.checkpoints.load_params` reads back)::

    MODEL_DIR/checkpoint_<step>/                 one Orbax CheckpointManager step
        _CHECKPOINT_METADATA, commit_success.txt
        state/                                   Orbax PyTree (OCDBT) of
            {"params": {...T5X parameter tree...},
             "opt_state": {"count": int32[], "v_row": {...}, "v_col": {...}, "v": {...}},
             "step": int32[]}

The item is named ``state`` like T5X's own Orbax checkpoints (whose tree has ``target``
instead of ``params``). Saving is asynchronous (training continues while arrays are
written) and a run killed mid-save leaves the previous checkpoint as the latest: on local
filesystems Orbax writes to a temporary directory and renames it when complete; on
``gs://`` it writes ``checkpoint_<step>`` in place and marks completion with
``commit_success.txt`` (readers, :func:`instructrec_jax.checkpoints.loader.latest_step_dir`
included, skip step directories without it). ``keep`` newest checkpoints are kept.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

STATE_ITEM = "state"
STEP_PREFIX = "checkpoint"


def checkpoint_dir(model_dir: str, step: int) -> str:
    """Path of the checkpoint of ``step``."""
    return os.path.join(model_dir, f"{STEP_PREFIX}_{step}")


class Checkpointer:
    """Save and restore ``{"params", "opt_state", "step"}`` trees in ``model_dir``."""

    def __init__(self, model_dir: str, keep: int = 3, asynchronous: bool = True) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            step_prefix=STEP_PREFIX,
            enable_async_checkpointing=asynchronous,
            create=True,
            cleanup_tmp_directories=True,
        )
        self._manager = ocp.CheckpointManager(model_dir, item_names=(STATE_ITEM,), options=options)

    def latest_step(self) -> int | None:
        """Step of the newest complete checkpoint, or None."""
        return self._manager.latest_step()

    def save(self, step: int, state: dict[str, Any]) -> None:
        """Start saving ``state`` as ``checkpoint_<step>`` (returns before it is written)."""
        args = ocp.args.Composite(**{STATE_ITEM: ocp.args.StandardSave(state)})
        self._manager.save(step, args=args, force=True)

    def restore(self, step: int, target: dict[str, Any]) -> dict[str, Any]:
        """Read ``checkpoint_<step>`` into the shapes, dtypes and shardings of ``target``.

        ``target`` leaves are ``jax.ShapeDtypeStruct`` with ``sharding`` (or arrays).
        """
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        args = ocp.args.Composite(**{STATE_ITEM: ocp.args.StandardRestore(abstract)})
        return self._manager.restore(step, args=args)[STATE_ITEM]

    def wait(self) -> None:
        """Block until pending asynchronous saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Finish pending saves and release the manager's resources."""
        self._manager.wait_until_finished()
        self._manager.close()
