"""Remat policies by name, and the clear error where host offloading has no host memory."""

from __future__ import annotations

import jax
import pytest
from jax._src.mesh import AbstractDevice

from instructrec_jax.models.config import REMAT_POLICIES, T5Config
from instructrec_jax.models.layer_stack import checkpoint_policy


def abstract_mesh(platform: str) -> jax.sharding.AbstractMesh:
    device = AbstractDevice(device_kind=f"{platform} device", num_cores=None, platform=platform)
    return jax.sharding.AbstractMesh((1,), ("data",), abstract_device=device)


def test_every_policy_but_none_names_a_checkpoint_policy():
    for name in REMAT_POLICIES:
        if name != "none":
            assert callable(checkpoint_policy(name)), name
    assert checkpoint_policy("minimal") is jax.checkpoint_policies.dots_with_no_batch_dims_saveable
    assert checkpoint_policy("full") is jax.checkpoint_policies.nothing_saveable


def test_offload_follows_the_platform_traced_for():
    with jax.sharding.use_abstract_mesh(abstract_mesh("tpu")):
        assert callable(checkpoint_policy("offload"))
    metal = jax.sharding.use_abstract_mesh(abstract_mesh("metal"))
    with metal, pytest.raises(ValueError, match="'metal' backend has none"):
        checkpoint_policy("offload")


def test_config_rejects_unknown_policies_and_rewrite_modes():
    with pytest.raises(ValueError, match="remat_policy must be one of"):
        T5Config.preset("tiny", remat_policy="save_qkv")
    with pytest.raises(ValueError, match="cpu_rewrites must be one of"):
        T5Config.preset("tiny", cpu_rewrites="gpu")
    assert T5Config.preset("xl").scan_layers and not T5Config.preset("small").scan_layers
