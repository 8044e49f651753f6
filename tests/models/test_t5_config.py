"""T5Config: validation, presets, parameter counts, and the gin model files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import gin
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.gin_configurables import configured_t5_config

GIN_DIR = Path(__file__).resolve().parents[2] / "gin" / "models"

# Published sizes (T5X_FACTS table). XXL is 11.14B when counted exactly (d_ff 10240); the
# commonly quoted "11.3B" is rounded up, hence the 2% tolerance.
PUBLISHED_PARAMS = {
    "small": 77e6,
    "base": 248e6,
    "large": 783e6,
    "xl": 2.85e9,
    "xxl": 11.3e9,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_parameter_counts_match_published_sizes(name):
    count = T5Config.preset(name).num_params()
    assert count == pytest.approx(PUBLISHED_PARAMS[name], rel=0.02)


def test_exact_parameter_count_of_small():
    config = T5Config.preset("small")
    embed = config.vocab_size * config.d_model
    attention = 4 * config.d_model * config.num_heads * config.head_dim
    mlp = 3 * config.d_model * config.d_ff
    encoder = config.num_encoder_layers * (attention + mlp + 2 * config.d_model)
    decoder = config.num_decoder_layers * (2 * attention + mlp + 3 * config.d_model)
    relpos = 2 * config.num_heads * config.relative_attention_num_buckets
    expected = 2 * embed + encoder + decoder + relpos + 2 * config.d_model
    assert config.num_params() == expected


@pytest.mark.parametrize(
    "change, message",
    [
        ({"d_model": 0}, "d_model"),
        ({"num_heads": -1}, "num_heads"),
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"remat_policy": "sometimes"}, "remat_policy"),
        ({"dtype": "float77"}, "dtype"),
    ],
)
def test_invalid_fields_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        T5Config.preset("tiny", **change)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown T5 preset 'huge'"):
        T5Config.preset("huge")


@pytest.mark.parametrize("name", ["tiny", "small", "base", "large", "xl", "xxl"])
def test_gin_model_files_bind_the_presets(name):
    gin.clear_config()
    try:
        gin.parse_config_file(str(GIN_DIR / f"flan_t5_{name}.gin"))
        config = configured_t5_config()
    finally:
        gin.clear_config()
    assert type(config) is T5Config
    assert config == T5Config.preset(name)


def test_gin_vocab_size_macro_can_be_overridden():
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings(
            [str(GIN_DIR / "flan_t5_tiny.gin")], ["VOCAB_SIZE = 300", "T5Config.dtype = 'float32'"]
        )
        config = configured_t5_config()
    finally:
        gin.clear_config()
    assert dataclasses.replace(T5Config.preset("tiny"), vocab_size=300, dtype="float32") == config
