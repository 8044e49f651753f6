"""HF export loads into transformers with the same logits; sharded import; mismatch reports."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
import torch
from hf_tiny import padded_batch
from safetensors.numpy import save_file
from transformers import T5ForConditionalGeneration

from instructrec_jax.checkpoints import (
    CheckpointMismatchError,
    config_from_hf,
    export_hf,
    load_hf_params,
    load_params,
)
from instructrec_jax.checkpoints.hf import hf_config_dict
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.t5 import Transformer


def test_export_loads_in_transformers_with_same_logits(tiny_hf_checkpoint, tmp_path):
    folder, _ = tiny_hf_checkpoint("dkv", seed=4)
    config = config_from_hf(folder, dtype="float32")
    params = load_hf_params(folder, config)
    exported = export_hf(params, config, tmp_path / "exported")
    assert config_from_hf(exported, dtype="float32") == config

    rng = np.random.default_rng(5)
    encoder_tokens = padded_batch(rng, [11, 20], config.vocab_size)
    targets = padded_batch(rng, [6, 3], config.vocab_size)
    decoder_inputs = np.pad(targets[:, :-1], ((0, 0), (1, 0)))
    apply = jax.jit(
        Transformer(config).apply, compiler_options={"xla_backend_optimization_level": 0}
    )
    ours = np.asarray(apply({"params": params}, encoder_tokens, decoder_inputs))
    reloaded = T5ForConditionalGeneration.from_pretrained(exported).eval()
    assert reloaded.lm_head.weight.data_ptr() != reloaded.shared.weight.data_ptr()
    with torch.no_grad():
        theirs = reloaded(
            input_ids=torch.tensor(encoder_tokens, dtype=torch.long),
            attention_mask=torch.tensor(encoder_tokens > 0, dtype=torch.long),
            decoder_input_ids=torch.tensor(decoder_inputs, dtype=torch.long),
        ).logits.numpy()
    valid = targets > 0
    np.testing.assert_allclose(ours[valid], theirs[valid], atol=1e-4, rtol=0)
    # And the export re-imports exactly.
    again = load_params(exported, config)
    np.testing.assert_array_equal(
        again["decoder"]["logits_dense"]["kernel"], params["decoder"]["logits_dense"]["kernel"]
    )


def test_sharded_safetensors_with_index(tiny_hf_checkpoint, tmp_path):
    folder, _ = tiny_hf_checkpoint("square")
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="numpy") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    names = sorted(tensors)
    weight_map = {}
    for index, part in enumerate((names[::2], names[1::2])):
        file_name = f"model-0000{index + 1}-of-00002.safetensors"
        save_file({key: tensors[key] for key in part}, str(sharded / file_name))
        weight_map.update(dict.fromkeys(part, file_name))
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (sharded / "config.json").write_text((folder / "config.json").read_text())
    got = load_params(sharded)
    want = load_params(folder)
    np.testing.assert_array_equal(
        got["encoder"]["layers_0"]["mlp"]["wo"]["kernel"],
        want["encoder"]["layers_0"]["mlp"]["wo"]["kernel"],
    )
    assert got["encoder"]["layers_0"]["mlp"]["wo"]["kernel"].shape == (64, 48)


def test_hf_mismatch_names_keys_and_expected_shapes(tiny_hf_checkpoint, tmp_path):
    folder, _ = tiny_hf_checkpoint("square")
    config = config_from_hf(folder)
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="numpy") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    del tensors["decoder.block.0.layer.2.DenseReluDense.wo.weight"]
    tensors["encoder.block.0.layer.1.DenseReluDense.wi_0.weight"] = np.zeros((5, 48), np.float32)
    tensors["encoder.block.7.layer.0.layer_norm.weight"] = np.ones(48, np.float32)
    broken = tmp_path / "broken"
    broken.mkdir()
    save_file(tensors, str(broken / "model.safetensors"))
    (broken / "config.json").write_text((folder / "config.json").read_text())
    with pytest.raises(CheckpointMismatchError) as error:
        load_params(broken, config)
    assert sorted(error.value.problems) == [
        "missing tensor decoder.block.0.layer.2.DenseReluDense.wo.weight "
        "(-> decoder/layers_0/mlp/wo/kernel), expected shape (64, 48)",
        "unexpected tensor encoder.block.7.layer.0.layer_norm.weight with shape (48,)",
        "wrong shape for encoder.block.0.layer.1.DenseReluDense.wi_0.weight "
        "(-> encoder/layers_0/mlp/wi_0/kernel): got (5, 48), expected (64, 48)",
    ]


def test_published_flan_t5_small_config_maps_to_the_preset():
    published = {
        "architectures": ["T5ForConditionalGeneration"],
        "d_ff": 1024,
        "d_kv": 64,
        "d_model": 512,
        "decoder_start_token_id": 0,
        "dropout_rate": 0.1,
        "eos_token_id": 1,
        "feed_forward_proj": "gated-gelu",
        "initializer_factor": 1.0,
        "is_encoder_decoder": True,
        "layer_norm_epsilon": 1e-06,
        "model_type": "t5",
        "n_positions": 512,
        "num_decoder_layers": 8,
        "num_heads": 6,
        "num_layers": 8,
        "output_past": True,
        "pad_token_id": 0,
        "relative_attention_max_distance": 128,
        "relative_attention_num_buckets": 32,
        "tie_word_embeddings": False,
        "vocab_size": 32128,
    }
    assert config_from_hf(published) == T5Config.preset("small", dropout_rate=0.1)


def test_config_from_hf_rejects_other_variants(tmp_path):
    base = {
        "model_type": "t5",
        "vocab_size": 10,
        "d_model": 8,
        "num_heads": 2,
        "d_kv": 4,
        "d_ff": 16,
        "num_layers": 1,
        "feed_forward_proj": "gated-gelu",
        "tie_word_embeddings": False,
    }
    assert config_from_hf(base).num_decoder_layers == 1
    with pytest.raises(ValueError, match="feed_forward_proj is 'relu'"):
        config_from_hf({**base, "feed_forward_proj": "relu"})
    with pytest.raises(ValueError, match="rescaled"):
        config_from_hf({**base, "tie_word_embeddings": True})
    with pytest.raises(ValueError, match="missing field 'd_kv'"):
        config_from_hf({key: value for key, value in base.items() if key != "d_kv"})
    with pytest.raises(FileNotFoundError, match=r"PyTorch \.bin"):
        (tmp_path / "config.json").write_text(json.dumps(base))
        (tmp_path / "pytorch_model.bin").write_bytes(b"")
        load_hf_params(tmp_path)


@pytest.mark.parametrize(
    "named, dtype", [({"torch_dtype": "float32"}, "float32"), ({"dtype": "bfloat16"}, "bfloat16")]
)
def test_the_compute_dtype_is_the_one_config_json_names(named, dtype):
    base = hf_config_dict(T5Config.preset("tiny"))
    del base["torch_dtype"]
    assert config_from_hf({**base, **named}).dtype == dtype
    assert config_from_hf(base).dtype == T5Config.dtype  # none named: the default
    with pytest.raises(ValueError, match="dtype 'int8' is not"):
        config_from_hf({**base, "torch_dtype": "int8"})
