"""Mesh, logical axis rules and sharded init/forward on an 8-device CPU mesh (4 data x 2 model)."""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from instructrec_jax.models.t5 import Transformer
from instructrec_jax.partitioning import Partitioner, make_mesh, standard_logical_axis_rules
from tests.t5_configs import tiny_t5_config

CONFIG = tiny_t5_config(vocab_size=128, num_heads=4, head_dim=8, num_decoder_layers=2)
# Unoptimized XLA code compiles several times faster for these tiny programs.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def test_standard_rules_follow_t5x():
    rules = dict(standard_logical_axis_rules())
    assert rules["batch"] == "data"
    for name in ("vocab", "mlp", "heads", "joined_kv"):
        assert rules[name] == "model"
    for name in ("embed", "kv", "length", "relpos_buckets", "layers"):
        assert rules[name] is None
    fsdp = standard_logical_axis_rules(fsdp=True)
    assert ("embed", "data") in fsdp
    assert fsdp.index(("embed", "data")) < fsdp.index(("embed", None))


def test_make_mesh_shapes_and_errors():
    assert dict(make_mesh().shape) == {"data": 8, "model": 1}
    assert dict(make_mesh(num_partitions=2).shape) == {"data": 4, "model": 2}
    assert dict(make_mesh(mesh_shape=(2, 4)).shape) == {"data": 2, "model": 4}
    assert dict(make_mesh(devices=jax.devices()[:2]).shape) == {"data": 2, "model": 1}
    with pytest.raises(ValueError, match="does not divide"):
        make_mesh(num_partitions=3)
    with pytest.raises(ValueError, match="does not cover"):
        make_mesh(mesh_shape=(3, 2))


def test_partitioner_activation_and_data_shardings():
    partitioner = Partitioner(make_mesh(num_partitions=2), standard_logical_axis_rules(fsdp=True))
    assert partitioner.sharding(("batch", "length", "vocab")).spec == PartitionSpec(
        "data", None, "model"
    )
    # batch already uses 'data', so embed falls back to replicated for activations.
    assert partitioner.sharding(("batch", "length", "embed")).spec == PartitionSpec(
        "data", None, None
    )
    assert partitioner.sharding(("embed", "mlp")).spec == PartitionSpec("data", "model")
    assert partitioner.data_sharding().spec == PartitionSpec("data")
    assert partitioner.replicated().spec == PartitionSpec()


def _init(rng: jax.Array) -> dict:
    tokens = jnp.ones((1, 1), jnp.int32)
    return Transformer(CONFIG).init(rng, tokens, tokens)


@pytest.mark.parametrize("fsdp", [False, True])
def test_sharded_init_follows_rules_and_forward_matches(fsdp):
    partitioner = Partitioner(make_mesh(num_partitions=2), standard_logical_axis_rules(fsdp))
    variables = partitioner.shard_init(_init, jax.random.PRNGKey(0))
    flat = flax.traverse_util.flatten_dict(variables["params"], sep="/")
    embed = "data" if fsdp else None
    expected = {
        "token_embedder/embedding": PartitionSpec("model", embed),
        "encoder/layers_0/attention/query/kernel": PartitionSpec(embed, "model"),
        "encoder/layers_0/attention/out/kernel": PartitionSpec("model", embed),
        "decoder/layers_1/mlp/wi_0/kernel": PartitionSpec(embed, "model"),
        "decoder/layers_1/mlp/wo/kernel": PartitionSpec("model", embed),
        "decoder/logits_dense/kernel": PartitionSpec(embed, "model"),
        "decoder/relpos_bias/rel_embedding": PartitionSpec("model", None),
        "encoder/encoder_norm/scale": PartitionSpec(embed),
    }
    for path, spec in expected.items():
        sharding = flat[path].sharding
        assert sharding.mesh.shape == {"data": 4, "model": 2}
        assert sharding.spec == spec, path
    reference = jax.tree_util.tree_map(np.asarray, variables)
    unsharded = jax.jit(lambda key: flax.linen.unbox(_init(key)), compiler_options=FAST_COMPILE)(
        jax.random.PRNGKey(0)
    )
    for path, leaf in flax.traverse_util.flatten_dict(unsharded["params"], sep="/").items():
        sharded_leaf = flax.traverse_util.flatten_dict(reference["params"], sep="/")[path]
        # jit may fuse the initializer differently from eager mode: equal up to rounding.
        np.testing.assert_allclose(np.asarray(leaf), sharded_leaf, rtol=1e-6, atol=1e-7)

    rng = np.random.default_rng(0)
    encoder_tokens = jnp.asarray(rng.integers(1, 128, size=(8, 12)), jnp.int32)
    decoder_tokens = jnp.asarray(rng.integers(1, 128, size=(8, 6)), jnp.int32)
    model = Transformer(CONFIG)
    want = jax.jit(model.apply, compiler_options=FAST_COMPILE)(
        unsharded, encoder_tokens, decoder_tokens
    )
    with partitioner.activate():
        batch = jax.device_put((encoder_tokens, decoder_tokens), partitioner.data_sharding())
        got = jax.jit(model.apply, compiler_options=FAST_COMPILE)(variables, *batch)
    # The logits constraint (batch, length, vocab) is honoured under the mesh context.
    assert got.sharding.spec == PartitionSpec("data", None, "model")
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5, rtol=1e-5)
