"""Resuming from a checkpoint saved with the other layer layout (``scan_layers`` toggled).

A MODEL_DIR written by an unrolled model holds per-layer parameters and Adafactor slots
(``layers_i``); a scanned model expects them stacked (``layers`` [N, ...]), and the other
way round. The trainer resumes either way: the checkpoint is read to host memory (numpy),
parameters and the optimizer's ``v_row``/``v_col``/``v`` trees are converted with
:func:`~instructrec_jax.checkpoints.layer_stacking.to_layout` (Adafactor factors a stacked
parameter per layer, so the slots convert exactly), and the result is placed sharded.
Peak host memory of such a resume is one copy of the whole train state; a resume in the
same layout restores straight to the devices (:meth:`Checkpointer.restore`).
"""

from __future__ import annotations

import jax
import numpy as np

from instructrec_jax.checkpoints import files
from instructrec_jax.checkpoints.layer_stacking import is_stacked, to_layout
from instructrec_jax.checkpoints.t5x import orbax_tree_metadata
from instructrec_jax.models.config import T5Config
from instructrec_jax.training.checkpointing import STATE_ITEM
from instructrec_jax.training.state import StateLayout, TrainState, state_from_checkpoint_tree

SLOTS = ("v_row", "v_col", "v")


def saved_with_stacked_layers(step_dir: str) -> bool:
    """Whether ``step_dir`` (a trainer ``checkpoint_<step>``) holds stacked layers."""
    return is_stacked(orbax_tree_metadata(files.join(step_dir, STATE_ITEM))["params"])


def restore_converted(step_dir: str, layout: StateLayout, config: T5Config) -> TrainState:
    """The train state of ``step_dir`` in the layer layout of ``config``, placed sharded."""
    import orbax.checkpoint as ocp

    state_dir = files.join(step_dir, STATE_ITEM)
    metadata = orbax_tree_metadata(state_dir)
    restore_args = jax.tree_util.tree_map(
        lambda _: ocp.RestoreArgs(restore_type=np.ndarray), metadata
    )
    tree = ocp.PyTreeCheckpointer().restore(
        state_dir, args=ocp.args.PyTreeRestore(restore_args=restore_args)
    )
    opt_state = tree["opt_state"]
    converted = {
        "params": to_layout(tree["params"], config),
        "opt_state": {
            "count": opt_state["count"],
            **{slot: to_layout(opt_state[slot], config) for slot in SLOTS},
        },
        "step": tree["step"],
    }
    return state_from_checkpoint_tree(layout, converted)
