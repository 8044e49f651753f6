"""Mesh, logical axis rules and sharded init/forward on an 8-device CPU mesh (4 data x 2 model);
multi-slice (ICI x DCN) layouts on stand-in devices; no silent reshape fallback."""

from __future__ import annotations

import dataclasses

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from instructrec_jax import partitioning
from instructrec_jax.models.t5 import Transformer
from instructrec_jax.partitioning import (
    MeshError,
    Partitioner,
    device_grid,
    make_mesh,
    standard_logical_axis_rules,
)
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


@dataclasses.dataclass(frozen=True)
class FakeDevice:
    """What mesh_utils reads of a device; platform 'fake' lays out in listed order."""

    id: int
    slice_index: int = 0
    process_index: int = 0
    platform: str = "fake"
    device_kind: str = "fake"


def _fakes(slices: int, per_slice: int, by: str = "slice_index") -> list[FakeDevice]:
    return [FakeDevice(id=i, **{by: i // per_slice}) for i in range(slices * per_slice)]


def _slices_of(grid: np.ndarray, attribute: str = "slice_index") -> np.ndarray:
    return np.vectorize(lambda device: getattr(device, attribute))(grid)


def test_multi_slice_mesh_puts_data_across_slices_by_default():
    grid = device_grid((4, 2), _fakes(2, 4))
    np.testing.assert_array_equal(_slices_of(grid), [[0, 0], [0, 0], [1, 1], [1, 1]])
    # The model axis may span slices instead when asked.
    grid = device_grid((4, 2), _fakes(2, 4), dcn_mesh_shape=(1, 2))
    np.testing.assert_array_equal(_slices_of(grid), [[0, 1]] * 4)


def test_hybrid_mesh_over_processes_when_one_slice():
    grid = device_grid((8, 1), _fakes(2, 4, by="process_index"), dcn_mesh_shape=(2, 1))
    np.testing.assert_array_equal(_slices_of(grid, "process_index").ravel(), [0] * 4 + [1] * 4)


@pytest.mark.parametrize(
    ("shape", "dcn", "message"),
    [
        ((4, 2), (3, 1), "does not divide the mesh"),
        ((8, 1), (4, 1), "covers 4 slices, but the devices form 2 slice"),
    ],
)
def test_dcn_shape_that_does_not_match_the_slices_is_an_error(shape, dcn, message):
    with pytest.raises(MeshError, match=message):
        device_grid(shape, _fakes(2, 4), dcn_mesh_shape=dcn)


def test_layout_failure_stops_with_the_reason_unless_fallback_asked(monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise NotImplementedError("would split a physical axis of size 4")

    monkeypatch.setattr(partitioning.mesh_utils, "create_device_mesh", refuse)
    with pytest.raises(MeshError, match=r"would split a physical axis of size 4.*FALLBACK"):
        make_mesh(num_partitions=2)
    mesh = make_mesh(num_partitions=2, reshape_fallback=True)
    assert list(mesh.devices.ravel()) == jax.devices()
    assert "reshaping the devices in order" in caplog.text
