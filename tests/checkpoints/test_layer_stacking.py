"""Checkpoints load into and export from a scanned model: T5X legacy, Orbax (T5X and our
trainer's, either layout) and HF, with the unrolled model's logits."""

from __future__ import annotations

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from safetensors.numpy import load_file

from instructrec_jax.checkpoints import config_from_hf, export_hf, load_params
from instructrec_jax.checkpoints.layer_stacking import (
    is_stacked,
    stack_layers,
    to_layout,
    unstack_layers,
)
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.t5 import Transformer, init_params
from tests.checkpoints.test_t5x_formats import CONFIG, write_t5x_legacy

SCANNED = CONFIG.replace(scan_layers=True)
RNG = np.random.default_rng(7)
ENCODER_TOKENS = np.asarray(RNG.integers(1, 40, size=(2, 6)), np.int32)
DECODER_INPUTS = np.asarray(RNG.integers(0, 40, size=(2, 4)), np.int32)


def logits(config: T5Config, params: dict) -> np.ndarray:
    apply = jax.jit(
        Transformer(config).apply, compiler_options={"xla_backend_optimization_level": 0}
    )
    return np.asarray(apply({"params": params}, ENCODER_TOKENS, DECODER_INPUTS))


@pytest.fixture(scope="module")
def params() -> dict:
    return jax.tree_util.tree_map(np.asarray, init_params(CONFIG, jax.random.PRNGKey(3)))


@pytest.fixture(scope="module")
def want(params) -> np.ndarray:
    return logits(CONFIG, params)


def assert_scanned_model_matches(loaded: dict, want: np.ndarray) -> None:
    assert is_stacked(loaded)
    assert loaded["decoder"]["layers"]["mlp"]["wo"]["kernel"].shape == (2, 24, 16)
    np.testing.assert_allclose(logits(SCANNED, loaded), want, atol=1e-5, rtol=1e-6)


def test_t5x_legacy_checkpoint_loads_into_the_scanned_model(tmp_path, params, want):
    write_t5x_legacy(tmp_path / "checkpoint_7", params)
    assert_scanned_model_matches(load_params(tmp_path, SCANNED), want)


def test_t5x_orbax_checkpoint_loads_into_the_scanned_model(tmp_path, params, want):
    ocp.PyTreeCheckpointer().save(tmp_path / "checkpoint_4" / "state", {"target": params})
    assert_scanned_model_matches(load_params(tmp_path, SCANNED), want)


def test_trainer_checkpoint_of_a_scanned_model_loads_into_both_layouts(tmp_path, params, want):
    state = {"params": stack_layers(params), "step": np.int32(3)}
    ocp.PyTreeCheckpointer().save(tmp_path / "checkpoint_3" / "state", state)
    assert_scanned_model_matches(load_params(tmp_path, SCANNED), want)
    unrolled = load_params(tmp_path, CONFIG)
    assert not is_stacked(unrolled)
    np.testing.assert_allclose(logits(CONFIG, unrolled), want, atol=1e-5, rtol=1e-6)


def test_hf_checkpoint_loads_into_and_exports_from_the_scanned_model(tiny_hf_checkpoint, tmp_path):
    folder, _ = tiny_hf_checkpoint("dkv", seed=2)
    config = config_from_hf(folder, dtype="float32")
    scanned_config = config.replace(scan_layers=True)
    unrolled = load_params(folder, config)
    scanned = load_params(folder, scanned_config)
    assert is_stacked(scanned) and scanned["encoder"]["layers"]["mlp"]["wi_0"]["kernel"].ndim == 3
    rng = np.random.default_rng(1)
    encoder = np.asarray(rng.integers(1, 128, size=(2, 9)), np.int32)
    decoder = np.asarray(rng.integers(0, 128, size=(2, 5)), np.int32)
    run = lambda c, p: Transformer(c).apply({"params": p}, encoder, decoder)  # noqa: E731
    # Scanned and unrolled layers compile to differently fused float32 programs: logits of
    # magnitude ~10 differ by up to ~1e-5 on some CPUs, hence the relative term.
    np.testing.assert_allclose(
        run(scanned_config, scanned), run(config, unrolled), atol=1e-5, rtol=1e-6
    )
    from_scanned = load_file(
        export_hf(scanned, scanned_config, tmp_path / "scanned") / "model.safetensors"
    )
    from_unrolled = load_file(
        export_hf(unrolled, config, tmp_path / "unrolled") / "model.safetensors"
    )
    assert sorted(from_scanned) == sorted(from_unrolled)
    assert "decoder.block.2.layer.2.DenseReluDense.wo.weight" in from_scanned
    for key, array in from_unrolled.items():
        np.testing.assert_array_equal(from_scanned[key], array, err_msg=key)


def test_to_layout_converts_only_when_needed(params):
    stacked = to_layout(params, SCANNED)
    assert is_stacked(stacked) and to_layout(stacked, SCANNED) is stacked
    assert to_layout(params, CONFIG) is params
    back = to_layout(stacked, CONFIG)
    jax.tree_util.tree_map(np.testing.assert_array_equal, back, params)
    assert unstack_layers(params) == params


def test_stacking_rejects_gaps_in_layer_numbers(params):
    broken = {**params, "decoder": dict(params["decoder"])}
    broken["decoder"]["layers_5"] = broken["decoder"].pop("layers_1")
    with pytest.raises(ValueError, match=r"decoder: layers are not numbered 0..N-1: \[0, 5\]"):
        stack_layers(broken)
