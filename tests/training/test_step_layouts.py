"""The train step gives the same losses and updates whatever the program's form: the plain
forms vs the XLA:CPU rewrites (``T5Config.cpu_rewrites``), scanned vs unrolled layers."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from instructrec_jax.checkpoints.layer_stacking import stack_layers
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.models.t5 import init_params
from instructrec_jax.partitioning import Partitioner, make_mesh, standard_logical_axis_rules
from instructrec_jax.training.optimizer import AdafactorConfig, learning_rate_schedule
from instructrec_jax.training.state import build_layout, state_from_params
from instructrec_jax.training.step import jit_train_step, make_train_step
from tests.t5_configs import tiny_t5_config

# d_model/d_ff of 128 so that Adafactor factors the kernels (min_dim_size_to_factor 128).
CONFIG = tiny_t5_config(d_model=128, d_ff=128, num_heads=2, head_dim=8, num_encoder_layers=2)
STEPS = 2


def batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    targets = rng.integers(2, 64, size=(4, 5)).astype(np.int32)
    targets[1, 3:] = 0
    return {
        "encoder_input_tokens": rng.integers(1, 64, size=(4, 7)).astype(np.int32),
        "decoder_input_tokens": np.pad(targets[:, :-1], ((0, 0), (1, 0))),
        "decoder_target_tokens": targets,
        "decoder_loss_weights": (targets > 0).astype(np.int32),
    }


def train(config: T5Config, params: dict) -> tuple[list[dict], dict, str]:
    """(metrics of each step, final params on the host, the optimized HLO text)."""
    mesh = make_mesh(devices=jax.devices()[:1])
    rules = standard_logical_axis_rules()
    layout = build_layout(
        config, Partitioner(mesh, rules), learning_rate_schedule(0.05), AdafactorConfig()
    )
    step = make_train_step(
        EncoderDecoderModel(config), layout, num_microbatches=1, dropout=False, seed=0
    )
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    run = jit_train_step(step, layout, sharding)
    hlo = jax.jit(step).lower(layout.abstract_state, batch()).as_text()
    state = state_from_params(layout, params)
    history = []
    for _ in range(STEPS):
        state, metrics = run(state, batch())
        history.append({name: float(value) for name, value in metrics.items()})
    return history, jax.device_get(state.params), hlo


@pytest.fixture(scope="module")
def params() -> dict:
    return jax.device_get(init_params(CONFIG, jax.random.PRNGKey(0)))


@pytest.fixture(scope="module")
def reference(params) -> tuple[list[dict], dict, str]:
    return train(CONFIG.replace(cpu_rewrites="cpu"), params)


def assert_same_training(got: tuple, want: tuple) -> None:
    for got_metrics, want_metrics in zip(got[0], want[0]):
        for name, value in want_metrics.items():
            np.testing.assert_allclose(got_metrics[name], value, rtol=1e-5, err_msg=name)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), got[1], want[1]
    )


def test_plain_forms_train_like_the_cpu_rewrites(params, reference):
    plain = train(CONFIG.replace(cpu_rewrites="plain"), params)
    assert_same_training(plain, reference)
    # The rewrites' barrier (dense weight gradients) is in the cpu program only.
    assert "optimization_barrier" in reference[2]
    assert "optimization_barrier" not in plain[2]
    assert reference[0][1]["loss"] < reference[0][0]["loss"]


def test_scanned_layers_train_like_unrolled_layers(params, reference):
    scanned = train(CONFIG.replace(cpu_rewrites="cpu", scan_layers=True), stack_layers(params))
    want_history, want_params, _ = reference
    assert_same_training(scanned, (want_history, stack_layers(want_params)))
