"""Fixtures of the trainer's tests: the tiny task and model, and a TrainConfig factory."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import training_tiny_task

from instructrec_jax.models.config import T5Config
from instructrec_jax.training import TrainConfig

_CACHE_OPTIONS = {
    "jax_compilation_cache_dir": None,
    "jax_persistent_cache_min_compile_time_secs": 0,
    "jax_persistent_cache_min_entry_size_bytes": 0,
}


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    """A per-session persistent compilation cache: tests that build the same program (same
    model, shapes and mesh) compile it once. Previous settings are restored afterwards."""
    previous = {name: getattr(jax.config, name) for name in _CACHE_OPTIONS}
    options = dict(_CACHE_OPTIONS, jax_compilation_cache_dir=str(tmp_path_factory.mktemp("xla")))
    for name, value in options.items():
        jax.config.update(name, value)
    yield options["jax_compilation_cache_dir"]
    for name, value in previous.items():
        jax.config.update(name, value)


@pytest.fixture
def tiny_model() -> T5Config:
    return training_tiny_task.tiny_model_config()


@pytest.fixture
def make_config(tmp_path, tiny_model):
    def make(**overrides) -> TrainConfig:
        fields = dict(
            model_dir=str(tmp_path / "run"),
            mixture_or_task_name=training_tiny_task.TASK_NAME,
            task_feature_lengths={"inputs": 16, "targets": 8},
            train_steps=20,
            batch_size=8,
            model=tiny_model,
            learning_rate=1e-2,
            progress_bar=False,
            peak_flops_per_device=1e9,
        )
        fields.update(overrides)
        return TrainConfig(**fields)

    return make
