"""A MODEL_DIR saved with one layer layout resumes in the other: params and Adafactor slots
converted exactly, step and count kept."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from instructrec_jax.checkpoints.layer_stacking import to_layout
from instructrec_jax.partitioning import Partitioner, make_mesh, standard_logical_axis_rules
from instructrec_jax.training.checkpointing import Checkpointer, checkpoint_dir
from instructrec_jax.training.layout_resume import restore_converted, saved_with_stacked_layers
from instructrec_jax.training.optimizer import AdafactorConfig, learning_rate_schedule
from instructrec_jax.training.state import build_layout, init_state
from tests.t5_configs import tiny_t5_config

# d_model/d_ff 128: Adafactor factors the kernels, so v_row/v_col hold real values.
CONFIG = tiny_t5_config(d_model=128, d_ff=128, num_heads=2, head_dim=8, num_encoder_layers=2)


def layout_of(config):
    mesh = make_mesh(devices=jax.devices()[:1])
    rules = standard_logical_axis_rules()
    return build_layout(
        config, Partitioner(mesh, rules), learning_rate_schedule(0.01), AdafactorConfig()
    )


def saved_state(model_dir, config) -> dict:
    """Save a state with random params and slots at step 5; return it as a host tree."""
    layout = layout_of(config)
    tree = jax.device_get(init_state(layout, config, seed=0).to_checkpoint())
    rng = np.random.default_rng(0)
    tree = jax.tree_util.tree_map(lambda a: rng.normal(size=a.shape).astype(a.dtype), tree)
    tree["step"], tree["opt_state"]["count"] = np.int32(5), np.int32(3)
    checkpointer = Checkpointer(str(model_dir), asynchronous=False)
    checkpointer.save(5, tree)
    checkpointer.close()
    return tree


@pytest.mark.parametrize("saved_scanned", [False, True])
def test_resume_converts_params_and_optimizer_slots(tmp_path, saved_scanned):
    saved_config = CONFIG.replace(scan_layers=saved_scanned)
    resumed_config = CONFIG.replace(scan_layers=not saved_scanned)
    saved = saved_state(tmp_path, saved_config)
    step_dir = checkpoint_dir(str(tmp_path), 5)
    assert saved_with_stacked_layers(step_dir) is saved_scanned
    state = restore_converted(step_dir, layout_of(resumed_config), resumed_config)
    assert int(state.step) == 5 and int(state.opt_state.count) == 3
    want = {"params": to_layout(saved["params"], resumed_config)}
    for slot in ("v_row", "v_col", "v"):
        want[slot] = to_layout(saved["opt_state"][slot], resumed_config)
    got = {
        "params": state.params,
        **{s: getattr(state.opt_state, s) for s in ("v_row", "v_col", "v")},
    }
    jax.tree_util.tree_map(np.testing.assert_array_equal, jax.device_get(got), want)
    if not saved_scanned:  # resumed scanned: a kernel's factored slot is stacked per layer
        v_row = state.opt_state.v_row["encoder"]["layers"]["mlp"]["wi_0"]["kernel"]
        assert v_row.shape == (2, 128)
