"""HF ``transformers`` T5 checkpoints: import (streaming safetensors) and export.

Import reads one tensor at a time (:mod:`.safetensors_stream`: plain reads in row chunks,
no memory map) and writes it transposed into the T5X layout, so peak host memory stays
near the size of the parameters (``bench/import_memory.py`` measures it). Sharded
checkpoints are found through ``model.safetensors.index.json``. Nothing is unpickled:
PyTorch ``.bin`` files are refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from safetensors.numpy import save_file

from instructrec_jax.checkpoints.layer_stacking import unstack_layers
from instructrec_jax.checkpoints.names import HF_EMBEDDING_ALIASES, TensorName, tensor_names
from instructrec_jax.checkpoints.safetensors_stream import TensorInfo, read_header, read_tensor
from instructrec_jax.checkpoints.tree import ParamAssembler, Params, flatten_params
from instructrec_jax.models.config import T5Config

CONFIG_FILE = "config.json"
SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


def config_from_hf(
    config_json: str | os.PathLike[str] | dict[str, Any], **overrides: Any
) -> T5Config:
    """A :class:`T5Config` from an HF ``config.json`` (path, folder or parsed dict).

    Only T5 v1.1-style models (gated-GELU MLP, untied output head) are representable;
    other variants are rejected with the offending field named. The activation dtype is
    the one the file names (``torch_dtype``/``dtype``). ``overrides`` (e.g.
    ``dtype="bfloat16"``) replace fields of the result.
    """
    if isinstance(config_json, dict):
        raw, source = config_json, "<dict>"
    else:
        path = Path(config_json)
        if path.is_dir():
            path = path / CONFIG_FILE
        raw, source = json.loads(path.read_text()), str(path)
    if raw.get("model_type", "t5") != "t5":
        raise ValueError(f"{source}: model_type is {raw.get('model_type')!r}, expected 't5'")
    projection = raw.get("feed_forward_proj", "relu")
    if projection not in ("gated-gelu", "gated-gelu_new"):
        raise ValueError(
            f"{source}: feed_forward_proj is {projection!r}; only 'gated-gelu' (T5 v1.1 / "
            "Flan-T5) is supported"
        )
    # transformers < 5 implies the T5 v1.0 logit rescaling from tied embeddings;
    # transformers 5 states it separately as `scale_decoder_outputs`.
    if raw.get("scale_decoder_outputs", raw.get("tie_word_embeddings", True)):
        raise ValueError(
            f"{source}: the decoder output is rescaled by d_model**-0.5 (T5 v1.0 style, "
            "scale_decoder_outputs/tie_word_embeddings); only T5 v1.1 / Flan-T5 heads are "
            "supported"
        )
    try:
        num_layers = int(raw["num_layers"])
        fields = {
            "vocab_size": int(raw["vocab_size"]),
            "d_model": int(raw["d_model"]),
            "num_heads": int(raw["num_heads"]),
            "head_dim": int(raw["d_kv"]),
            "d_ff": int(raw["d_ff"]),
            "num_encoder_layers": num_layers,
            "num_decoder_layers": int(raw.get("num_decoder_layers") or num_layers),
            "dropout_rate": float(raw.get("dropout_rate", 0.0)),
            "relative_attention_num_buckets": int(raw.get("relative_attention_num_buckets", 32)),
            "relative_attention_max_distance": int(raw.get("relative_attention_max_distance", 128)),
            "layer_norm_epsilon": float(raw.get("layer_norm_epsilon", 1e-6)),
            "dtype": _compute_dtype(raw, source),
        }
    except KeyError as error:
        raise ValueError(f"{source}: missing field {error.args[0]!r}") from error
    fields.update(overrides)
    return T5Config(**fields)


def _compute_dtype(raw: dict[str, Any], source: str) -> str:
    """The activation dtype ``config.json`` names (``dtype`` in transformers 5,
    ``torch_dtype`` before), so a float32 checkpoint is scored in float32; bfloat16 (the
    T5Config default) when it names none."""
    named = raw.get("dtype", raw.get("torch_dtype")) or T5Config.dtype
    if named not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"{source}: dtype {named!r} is not float32, bfloat16 or float16")
    return str(named)


def hf_config_dict(config: T5Config) -> dict[str, Any]:
    """The HF ``config.json`` content describing ``config``."""
    return {
        "architectures": ["T5ForConditionalGeneration"],
        "model_type": "t5",
        "is_encoder_decoder": True,
        "vocab_size": config.vocab_size,
        "d_model": config.d_model,
        "d_kv": config.head_dim,
        "d_ff": config.d_ff,
        "num_heads": config.num_heads,
        "num_layers": config.num_encoder_layers,
        "num_decoder_layers": config.num_decoder_layers,
        "relative_attention_num_buckets": config.relative_attention_num_buckets,
        "relative_attention_max_distance": config.relative_attention_max_distance,
        "dropout_rate": config.dropout_rate,
        "layer_norm_epsilon": config.layer_norm_epsilon,
        "feed_forward_proj": "gated-gelu",
        "dense_act_fn": "gelu_new",
        "is_gated_act": True,
        "tie_word_embeddings": False,
        "initializer_factor": 1.0,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
        "torch_dtype": config.param_dtype,
    }


def safetensors_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The safetensors files of an HF checkpoint folder (sharded via the index, or single)."""
    folder = Path(folder)
    index = folder / INDEX_FILE
    if index.exists():
        weight_map = json.loads(index.read_text()).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise ValueError(f"{index}: no 'weight_map' object")
        files = [folder / name for name in sorted(set(weight_map.values()))]
    elif (folder / SINGLE_FILE).exists():
        files = [folder / SINGLE_FILE]
    else:
        present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise FileNotFoundError(
            f"{folder}: neither {SINGLE_FILE} nor {INDEX_FILE} found (present: {present}); "
            "PyTorch .bin checkpoints are not read (they need pickle)"
        )
    for file in files:
        if not file.exists():
            raise FileNotFoundError(f"{file} (listed in {index}) does not exist")
    return files


def load_hf_params(folder: str | os.PathLike[str], config: T5Config | None = None) -> Params:
    """Parameters (nested dict of host numpy arrays, T5X names) from an HF T5 folder.

    ``config`` defaults to the folder's ``config.json``. Raises CheckpointMismatchError
    naming every missing/unexpected/misshapen tensor with its expected (HF-layout) shape.
    """
    folder = Path(folder)
    if config is None:
        config = config_from_hf(folder)
    by_key: dict[str, TensorName] = {name.hf_key: name for name in tensor_names(config)}
    assembler = ParamAssembler(config, str(folder))
    for file in safetensors_files(folder):
        with open(file, "rb") as handle:
            for info in read_header(file):
                _add_hf_tensor(assembler, by_key, info, handle, str(file))
    head, embedding = "decoder/logits_dense/kernel", "token_embedder/embedding"
    if head not in assembler.arrays and embedding in assembler.arrays and _ties_head(folder):
        # A tied head that the saver deduplicated: the head is the embedding table.
        assembler.add(head, assembler.arrays[embedding].T, origin="shared.weight")
    return assembler.finish({name.t5x_path: name.hf_key for name in by_key.values()})


def _ties_head(folder: Path) -> bool:
    config_file = folder / CONFIG_FILE
    return config_file.exists() and bool(
        json.loads(config_file.read_text()).get("tie_word_embeddings", False)
    )


def _add_hf_tensor(
    assembler: ParamAssembler,
    by_key: dict[str, TensorName],
    info: TensorInfo,
    handle: BinaryIO,
    file: str,
) -> None:
    """Validate one header entry, then read it (transposed, cast) into the assembler."""
    key = info.name
    if key in HF_EMBEDDING_ALIASES:
        return
    name = by_key.get(key)
    if name is None:
        assembler.unexpected(key, info.shape)
        return
    assembler.seen.add(name.t5x_path)
    expected = assembler.shapes[name.t5x_path]
    hf_shape = expected[::-1] if name.transpose else expected
    if info.shape != hf_shape:
        assembler.problems.append(
            f"wrong shape for {key} (-> {name.t5x_path}): got {info.shape}, expected {hf_shape}"
        )
        return
    array = read_tensor(handle, info, assembler.config.parameter_dtype, name.transpose, file)
    assembler.add(name.t5x_path, array, origin=key)


def export_hf(params: Params, config: T5Config, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``model.safetensors`` + ``config.json`` loadable by ``T5ForConditionalGeneration``.

    ``params`` is the nested T5X-named tree (numpy or jax arrays, boxed or not), per-layer
    or stacked (a scanned model's: its layers are written one by one, as HF names them).
    Returns the folder.
    """
    import flax

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flat = flatten_params(unstack_layers(flax.linen.unbox(params)))
    tensors: dict[str, np.ndarray] = {}
    problems = []
    for name in tensor_names(config):
        if name.t5x_path not in flat:
            problems.append(f"missing parameter {name.t5x_path}")
            continue
        array = np.asarray(flat.pop(name.t5x_path))
        tensors[name.hf_key] = np.ascontiguousarray(array.T if name.transpose else array)
    problems.extend(f"unexpected parameter {path}" for path in flat)
    if problems:
        raise ValueError("cannot export: " + "; ".join(problems))
    save_file(tensors, str(out / SINGLE_FILE), metadata={"format": "pt"})
    (out / CONFIG_FILE).write_text(json.dumps(hf_config_dict(config), indent=2) + "\n")
    return out
