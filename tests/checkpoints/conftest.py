"""Fixtures of the checkpoint tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hf_tiny import build_tiny_hf_model


@pytest.fixture
def tiny_hf_checkpoint(tmp_path: Path) -> Callable[..., tuple[Path, object]]:
    """Factory: (config name, seed) -> (saved folder, the torch model)."""

    def make(name: str = "dkv", seed: int = 0) -> tuple[Path, object]:
        model = build_tiny_hf_model(name, seed=seed)
        folder = tmp_path / f"hf_{name}_{seed}"
        model.save_pretrained(folder, safe_serialization=True)
        return folder, model

    return make
