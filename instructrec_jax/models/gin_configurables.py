"""Gin registration of the model config (edge code; the library never reads gin).

``gin/models/flan_t5_*.gin`` bind ``T5Config.preset`` (a name in
:data:`instructrec_jax.models.config.PRESETS`, the one source of model sizes) and
``T5Config.vocab_size``; any other ``T5Config.<field>`` binding replaces that field, and a
file that names no preset binds every size itself. Entry points build the bound config with
:func:`configured_t5_config` (or reference ``@T5Config()`` from another gin binding, as the
trainer's ``TrainConfig.model`` does).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import gin
from instructrec_jax.models.config import T5Config

PRESET_PARAMETER = "preset"


def _bound_t5_config(**bindings: Any) -> T5Config:
    """``T5Config.from_fields(**bindings)``: what gin calls for ``@T5Config()``."""
    return T5Config.from_fields(**bindings)


# Gin checks binding names against the signature: ``preset`` and every field of T5Config.
# Gin passes only the bound parameters, so the defaults below are documentation.
_bound_t5_config.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter(PRESET_PARAMETER, inspect.Parameter.KEYWORD_ONLY, default=None),
        *(
            inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None if field.default is dataclasses.MISSING else field.default,
            )
            for field in dataclasses.fields(T5Config)
        ),
    ]
)

GinT5Config = gin.external_configurable(_bound_t5_config, name="T5Config")


def configured_t5_config() -> T5Config:
    """The ``T5Config`` bound by the parsed gin files."""
    return GinT5Config()


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


def t5_config_is_bound() -> bool:
    """Whether the parsed gin config binds ``T5Config`` at all (a preset or any field)."""
    try:
        gin.query_parameter(f"T5Config.{PRESET_PARAMETER}")
    except ValueError:
        return bool(bound_t5_fields())
    return True
