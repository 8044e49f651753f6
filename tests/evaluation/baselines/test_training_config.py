"""The checks every baseline config inherits: schedule, history window, attention heads."""

from __future__ import annotations

import pytest

from instructrec_jax.evaluation.baselines import (
    BERT4RecConfig,
    GRU4RecConfig,
    SASRecConfig,
    TEMConfig,
)
from instructrec_jax.evaluation.baselines.training_config import WindowConfig


@pytest.mark.parametrize("config_class", [GRU4RecConfig, SASRecConfig, TEMConfig])
def test_windowed_configs_check_max_length_under_their_own_name(config_class):
    assert issubclass(config_class, WindowConfig)
    assert config_class().max_length is None
    assert config_class(max_length=7).max_length == 7
    with pytest.raises(ValueError, match=rf"^{config_class.__name__}\.max_length must be >= 1"):
        config_class(max_length=0)
    restored = config_class.from_json_dict(config_class(max_length=5).to_json_dict())
    assert restored == config_class(max_length=5)


@pytest.mark.parametrize("config_class", [SASRecConfig, BERT4RecConfig, TEMConfig])
def test_attention_configs_need_heads_that_divide_the_width(config_class):
    assert config_class(hidden_size=12, num_heads=3).num_heads == 3
    with pytest.raises(ValueError, match=rf"^{config_class.__name__}\.num_heads \(5\) must divide"):
        config_class(hidden_size=12, num_heads=5)


def test_schedule_checks_still_run_before_the_model_checks():
    with pytest.raises(ValueError, match=r"^GRU4RecConfig\.batch_size must be >= 1"):
        GRU4RecConfig(batch_size=0, max_length=0)
