"""Sharded loading: every process reads only the slices of the parameters its devices hold.

:func:`load_sharded_params` returns the parameter tree as ``jax.Array`` s laid out by the
given shardings (the trainer's or the scorer's: mesh + logical-axis rules). Each array is
built with ``jax.make_array_from_callback``, whose callback runs once per *addressable*
shard and reads just that slice from the checkpoint:

* HF safetensors: the rows of the file's axis 0 that the slice covers, in bounded chunks
  (:func:`~instructrec_jax.checkpoints.safetensors_stream.read_tensor_slice`), transposed
  into the T5X layout;
* T5X legacy: a tensorstore slice of the zarr array (inline msgpack arrays are tiny);
* Orbax (T5X's or this project's trainer): ``ArrayRestoreArgs(sharding=...)``, with which
  Orbax reads each process's shards itself.

So with FSDP over P processes the host memory a process needs grows with
parameters / P rather than with the parameters (``bench/import_memory.py --processes``).
Scanned models (stacked ``layers``) read each layer's slice from the per-layer tensors of
HF and legacy checkpoints; an Orbax tree of the other layout is restored in its own layout
and converted on the devices. The checks are those of the host loader: every missing,
unexpected or misshapen tensor is named before anything is read.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flax
import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from instructrec_jax.checkpoints.hf import _ties_head, config_from_hf, safetensors_files
from instructrec_jax.checkpoints.layer_stacking import SCANNED_NAME, STACKS, is_stacked, to_layout
from instructrec_jax.checkpoints.names import HF_EMBEDDING_ALIASES, tensor_names
from instructrec_jax.checkpoints.safetensors_stream import Index, read_header, read_tensor_slice
from instructrec_jax.checkpoints.t5x import (
    absolute_spec,
    is_tensorstore_spec,
    legacy_leaves,
    orbax_tree_metadata,
)
from instructrec_jax.checkpoints.tree import (
    CheckpointMismatchError,
    Params,
    expected_shapes,
    flatten_params,
)
from instructrec_jax.models.config import T5Config

Reader = Callable[[Index], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Source:
    """One per-layer parameter in a checkpoint: its T5X-layout shape, a reader of any
    (concrete, step-1) slice of it in that layout, and its name in the checkpoint."""

    shape: tuple[int, ...]
    read: Reader
    origin: str


def _concrete(index: tuple[slice, ...], shape: tuple[int, ...]) -> Index:
    """``index`` with explicit bounds (``make_array_from_callback`` gives open slices)."""
    out = []
    for part, size in zip(index, shape, strict=True):
        start, stop, step = part.indices(size)
        if step != 1:
            raise ValueError(f"strided shard index {index} of shape {shape}")
        out.append(slice(start, max(start, stop)))
    return tuple(out)


def check_sources(
    config: T5Config, sources: dict[str, Source], problems: list[str], where: str
) -> None:
    """Raise :class:`CheckpointMismatchError` naming every problem: ``problems`` found so far,
    then unexpected, misshapen and missing tensors against the per-layer ``config``."""
    problems = list(problems)
    shapes = expected_shapes(config.replace(scan_layers=False))
    for path, source in sources.items():
        label = f"{source.origin} (-> {path})" if source.origin != path else path
        if path not in shapes:
            problems.append(f"unexpected tensor {label} with shape {source.shape}")
        elif source.shape != shapes[path]:
            problems.append(f"wrong shape for {label}: got {source.shape}, expected {shapes[path]}")
    problems.extend(
        f"missing tensor {path}, expected shape {shape}"
        for path, shape in shapes.items()
        if path not in sources
    )
    if problems:
        raise CheckpointMismatchError(where, problems)


def _layer_reader(path: str, sources: dict[str, Source]) -> Reader:
    """Reader of a target path; ``{stack}/layers/...`` [N, ...] reads each layer's slice
    from the per-layer sources and stacks them."""
    stack, _, rest = path.partition("/")
    name, _, leaf = rest.partition("/")
    if stack not in STACKS or name != SCANNED_NAME:
        return sources[path].read

    def read(index: Index) -> np.ndarray:
        parts = [
            sources[f"{stack}/layers_{layer}/{leaf}"].read(index[1:])
            for layer in range(index[0].start, index[0].stop)
        ]
        if not parts:
            raise ValueError(f"empty layer range {index[0]} of {path}")
        return np.stack(parts)

    return read


def place_sources(sources: dict[str, Source], config: T5Config, shardings: Params) -> Params:
    """The parameter tree of ``config``'s layout as jax arrays with ``shardings`` (a nested
    dict of ``jax.sharding.Sharding`` like the parameters); each addressable shard is read
    once from ``sources`` (per-layer T5X paths) and cast to the parameter dtype."""
    flat_shardings = flatten_params(shardings)
    dtype = config.parameter_dtype
    arrays = {}
    for path, shape in expected_shapes(config).items():
        if path not in flat_shardings:
            raise ValueError(f"no sharding given for parameter {path}")
        arrays[path] = _make_array(shape, flat_shardings[path], _layer_reader(path, sources), dtype)
    return flax.traverse_util.unflatten_dict(arrays, sep="/")


def _make_array(
    shape: tuple[int, ...], sharding: jax.sharding.Sharding, reader: Reader, dtype: np.dtype
) -> jax.Array:
    """``make_array_from_callback`` that reads each distinct slice once (replicas of one
    shard on several local devices share the read)."""
    cache: dict[tuple[tuple[int, int], ...], np.ndarray] = {}

    def callback(index: tuple[slice, ...]) -> np.ndarray:
        concrete = _concrete(index, shape)
        key = tuple((part.start, part.stop) for part in concrete)
        if key not in cache:
            cache[key] = np.ascontiguousarray(reader(concrete), dtype=dtype)
        return cache[key]

    return jax.make_array_from_callback(shape, sharding, callback)


def _read_hf(file: Path, info: Any, transpose: bool, dtype: np.dtype, index: Index) -> np.ndarray:
    with open(file, "rb") as handle:
        return read_tensor_slice(handle, info, index, dtype, transpose, str(file))


def hf_sources(folder: str | Path, config: T5Config) -> dict[str, Source]:
    """The per-layer sources of an HF folder (headers only are read), checked."""
    folder = Path(folder)
    by_key = {name.hf_key: name for name in tensor_names(config.replace(scan_layers=False))}
    sources: dict[str, Source] = {}
    problems: list[str] = []
    dtype = config.parameter_dtype
    for file in safetensors_files(folder):
        for info in read_header(file):
            if info.name in HF_EMBEDDING_ALIASES:
                continue
            name = by_key.get(info.name)
            if name is None:
                problems.append(f"unexpected tensor {info.name} with shape {info.shape}")
                continue
            if name.transpose and len(info.shape) != 2:
                problems.append(f"wrong shape for {info.name}: {info.shape} is not 2-D")
                continue
            shape = info.shape[::-1] if name.transpose else info.shape
            read = functools.partial(_read_hf, file, info, name.transpose, dtype)
            sources[name.t5x_path] = Source(shape, read, info.name)
    head, embedding = "decoder/logits_dense/kernel", "token_embedder/embedding"
    if head not in sources and embedding in sources and _ties_head(folder):
        table = sources[embedding]  # a deduplicated tied head: the embedding, transposed
        sources[head] = Source(
            table.shape[::-1], lambda index: table.read(index[::-1]).T, "shared.weight"
        )
    check_sources(config, sources, problems, str(folder))
    return sources


def t5x_legacy_sources(step_dir: str, config: T5Config) -> dict[str, Source]:
    """The per-layer sources of a legacy T5X step: tensorstore arrays are opened (metadata
    only) and read slice by slice; inline arrays are sliced in memory."""
    import tensorstore as ts

    sources: dict[str, Source] = {}
    for path, value in legacy_leaves(step_dir):
        if is_tensorstore_spec(value):
            store = ts.open(absolute_spec(value, step_dir), open=True).result()
            sources[path] = Source(
                tuple(int(size) for size in store.shape),
                lambda index, store=store: np.asarray(store[index].read().result()),
                path,
            )
        else:
            array = np.asarray(value)
            sources[path] = Source(tuple(array.shape), lambda index, a=array: a[index], path)
    check_sources(config, sources, [], step_dir)
    return sources


def _relayer(sharding: jax.sharding.Sharding, stacked: bool) -> NamedSharding:
    """The sharding of the same parameter in the other layer layout: the layer axis (axis
    0 of a stacked array) added unsharded, or dropped."""
    if not isinstance(sharding, NamedSharding):
        raise ValueError(f"converting layer layouts needs NamedShardings, got {sharding}")
    spec = tuple(sharding.spec)
    new = (None, *spec) if stacked else spec[1:]
    return NamedSharding(sharding.mesh, PartitionSpec(*new))


def _stored_shardings(shardings: Params, config: T5Config, stacked: bool) -> Params:
    """Shardings of the checkpoint's layout (``stacked`` or not) from those of ``config``'s."""
    if config.scan_layers == stacked:
        return shardings
    flat = flatten_params(shardings)
    out = {}
    for path, sharding in flat.items():
        stack, _, rest = path.partition("/")
        name, _, leaf = rest.partition("/")
        layered = stack in STACKS and (name == SCANNED_NAME or name.startswith("layers_"))
        if not layered:
            out[path] = sharding
        elif stacked:  # per-layer target, stacked checkpoint: one sharding per stack
            out[f"{stack}/{SCANNED_NAME}/{leaf}"] = _relayer(sharding, True)
        else:  # stacked target, per-layer checkpoint
            count = config.num_encoder_layers if stack == "encoder" else config.num_decoder_layers
            for layer in range(count):
                out[f"{stack}/layers_{layer}/{leaf}"] = _relayer(sharding, False)
    return flax.traverse_util.unflatten_dict(out, sep="/")


def load_orbax_sharded(
    state_dir: str, config: T5Config, params_key: str, shardings: Params
) -> Params:
    """Parameters under ``params_key`` of an Orbax tree, restored with ``shardings`` (those
    of ``config``'s layout) so that each process reads only its shards; a tree saved in the
    other layer layout is restored in its own layout and converted on the devices."""
    import orbax.checkpoint as ocp

    tree = orbax_tree_metadata(state_dir)
    if params_key not in tree:
        raise ValueError(f"{state_dir}: no {params_key!r} subtree (top-level keys {sorted(tree)})")
    stored = tree[params_key]
    stacked = is_stacked(stored)
    stored_config = config.replace(scan_layers=stacked)
    shapes = expected_shapes(stored_config)
    flat = flatten_params(stored)
    problems = [
        f"unexpected tensor {path} with shape {tuple(leaf.shape)}"
        for path, leaf in flat.items()
        if path not in shapes
    ]
    problems += [
        f"wrong shape for {path}: got {tuple(flat[path].shape)}, expected {shape}"
        for path, shape in shapes.items()
        if path in flat and tuple(flat[path].shape) != shape
    ]
    problems += [
        f"missing tensor {path}, expected shape {shape}"
        for path, shape in shapes.items()
        if path not in flat
    ]
    if problems:
        raise CheckpointMismatchError(state_dir, problems)
    stored_shardings = flatten_params(_stored_shardings(shardings, config, stacked))
    dtype = config.parameter_dtype
    item = {
        path: jax.ShapeDtypeStruct(shape, dtype, sharding=stored_shardings[path])
        for path, shape in shapes.items()
    }
    args = {
        path: ocp.ArrayRestoreArgs(sharding=stored_shardings[path], dtype=dtype) for path in shapes
    }
    unflat = functools.partial(flax.traverse_util.unflatten_dict, sep="/")
    restored = ocp.PyTreeCheckpointer().restore(
        state_dir,
        args=ocp.args.PyTreeRestore(
            item={params_key: unflat(item)},
            restore_args={params_key: unflat(args)},
            partial_restore=True,
        ),
    )[params_key]
    if stacked == config.scan_layers:
        return restored
    convert = jax.jit(functools.partial(to_layout, config=config), out_shardings=shardings)
    return convert(restored)


def load_sharded_params(
    checkpoint_format: Any, directory: str, config: T5Config | None, shardings: Params
) -> Params:
    """The parameters of a resolved checkpoint (see :func:`loader.resolve_checkpoint`) as
    jax arrays laid out by ``shardings`` (a nested dict like the parameters of ``config``'s
    layer layout); each process reads only its addressable shards."""
    from instructrec_jax.checkpoints.loader import TRAINER_PARAMS_KEY, CheckpointFormat
    from instructrec_jax.checkpoints.t5x import T5X_PARAMS_KEY

    if checkpoint_format is CheckpointFormat.HF:
        config = config if config is not None else config_from_hf(directory)
        return place_sources(hf_sources(directory, config), config, shardings)
    if config is None:
        raise ValueError(f"{directory} carries no model config: pass one")
    if checkpoint_format is CheckpointFormat.T5X_LEGACY:
        return place_sources(t5x_legacy_sources(directory, config), config, shardings)
    key = T5X_PARAMS_KEY if checkpoint_format is CheckpointFormat.T5X_ORBAX else TRAINER_PARAMS_KEY
    return load_orbax_sharded(directory, config, key, shardings)
