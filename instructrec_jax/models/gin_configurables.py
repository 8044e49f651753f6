"""Gin registration of the model config (edge code; the library never reads gin).

``gin/models/flan_t5_*.gin`` bind ``T5Config.<field>``; entry points build the bound
config with :func:`configured_t5_config` (or reference ``@T5Config()`` from another gin
binding, as the trainer's ``TrainConfig.model`` does).
"""

from __future__ import annotations

import dataclasses

import gin
from instructrec_jax.models.config import T5Config

GinT5Config = gin.external_configurable(T5Config, name="T5Config")


def configured_t5_config() -> T5Config:
    """The ``T5Config`` bound by the parsed gin files, as a plain ``T5Config``."""
    bound = GinT5Config()
    return T5Config(
        **{field.name: getattr(bound, field.name) for field in dataclasses.fields(T5Config)}
    )


def bound_t5_fields() -> dict[str, object]:
    """The ``T5Config`` fields the parsed gin config binds, with their values (to apply on
    top of a config from elsewhere, e.g. an HF checkpoint's config.json)."""
    bound = {}
    for field in dataclasses.fields(T5Config):
        try:
            bound[field.name] = gin.query_parameter(f"T5Config.{field.name}")
        except ValueError:  # not bound
            continue
    return bound
