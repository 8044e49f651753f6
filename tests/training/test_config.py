"""TrainConfig rejects bad values when it is built, with one line naming the field."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"learning_rate": 0.0}, "TrainConfig.learning_rate must be positive, got 0.0"),
        ({"learning_rate": float("nan")}, "TrainConfig.learning_rate must be positive"),
        (
            {"learning_rate_schedule": "cosine"},
            "TrainConfig.learning_rate_schedule 'cosine' is unknown; known: 'constant', 'rsqrt'",
        ),
        ({"warmup_steps": -1}, "TrainConfig.warmup_steps must be >= 0, got -1"),
        ({"num_partitions": 0}, "TrainConfig.num_partitions must be >= 1, got 0"),
        ({"mesh_shape": (8,)}, "TrainConfig.mesh_shape must be two sizes >= 1"),
        ({"mesh_shape": (0, 8)}, "TrainConfig.mesh_shape must be two sizes >= 1"),
    ],
)
def test_bad_values_name_the_field(make_config, overrides, message):
    with pytest.raises(ValueError) as error:
        make_config(**overrides)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_valid_schedules_are_accepted(make_config):
    config = make_config(learning_rate_schedule="rsqrt", warmup_steps=100, mesh_shape=(4, 2))
    assert config.learning_rate_schedule == "rsqrt" and config.mesh_shape == (4, 2)
