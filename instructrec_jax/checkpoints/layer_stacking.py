"""Per-layer <-> stacked parameter trees (unrolled vs ``T5Config.scan_layers`` models).

Checkpoints in the wild (HF, T5X's ``t5_1_1`` models) name each layer
(``encoder/layers_3/attention/query/kernel`` [D, H*K]); a scanned model holds one stacked
array per parameter (``encoder/layers/attention/query/kernel`` [N, D, H*K], layer axis 0).
:func:`stack_layers` and :func:`unstack_layers` convert whole nested trees either way; any
other subtree (embeddings, norms, relative-position tables) passes through unchanged.
:func:`to_layout` converts to the layout a config expects, whichever layout it is given, so
importers, exporters and the trainer's initial checkpoint call it without knowing the source.
Works on host numpy arrays, jax arrays (kept on device) and ``jax.ShapeDtypeStruct``.
0-d leaves stay 0-d: T5 has no scalar parameters, and in trees that mirror the parameters
(the trainer's Adafactor slots) a scalar is the placeholder of an unused slot, the same for
a stack as for each of its layers.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.models.config import T5Config

STACKS = ("encoder", "decoder")
SCANNED_NAME = "layers"
_LAYER_NAME = re.compile(r"^layers_(\d+)$")

Params = dict[str, Any]


def _stack(*arrays: Any) -> Any:
    """Stack on a new axis 0: numpy stays on the host, jax arrays on device, and shape-only
    ``jax.ShapeDtypeStruct`` leaves give a shape-only result."""
    first = arrays[0]
    if all(np.ndim(array) == 0 for array in arrays):
        return first
    if isinstance(first, jax.ShapeDtypeStruct):
        return jax.ShapeDtypeStruct((len(arrays), *first.shape), first.dtype)
    if all(isinstance(array, np.ndarray) for array in arrays):
        return np.stack(arrays)
    return jnp.stack(arrays)


def _take(array: Any, index: int) -> Any:
    """``array[index]`` along axis 0 (shape-only for ``jax.ShapeDtypeStruct``)."""
    if np.ndim(array) == 0:
        return array
    if isinstance(array, jax.ShapeDtypeStruct):
        return jax.ShapeDtypeStruct(array.shape[1:], array.dtype)
    return array[index]


def _layer_indices(stack: dict[str, Any]) -> list[int]:
    return sorted(int(m.group(1)) for name in stack if (m := _LAYER_NAME.match(name)))


def is_stacked(params: Params) -> bool:
    """Whether ``params`` holds scanned stacks (``encoder/layers``) rather than per-layer ones."""
    return any(SCANNED_NAME in params.get(stack, {}) for stack in STACKS)


def stack_layers(params: Params) -> Params:
    """``{stack}/layers_i/...`` [...] -> ``{stack}/layers/...`` [N, ...] for both stacks.

    Raises ValueError when a stack's layers are not numbered 0..N-1 or their trees differ.
    """
    out = dict(params)
    for stack_name in STACKS:
        stack = params.get(stack_name)
        if stack is None:
            continue
        indices = _layer_indices(stack)
        if indices != list(range(len(indices))):
            raise ValueError(f"{stack_name}: layers are not numbered 0..N-1: {indices}")
        if not indices:
            continue
        layers = [stack[f"layers_{index}"] for index in indices]
        first = jax.tree_util.tree_structure(layers[0])
        for index, layer in enumerate(layers):
            if jax.tree_util.tree_structure(layer) != first:
                raise ValueError(f"{stack_name}/layers_{index} has other parameters than layers_0")
        stacked = jax.tree_util.tree_map(_stack, *layers)
        rest = {name: value for name, value in stack.items() if not _LAYER_NAME.match(name)}
        out[stack_name] = {**rest, SCANNED_NAME: stacked}
    return out


def unstack_layers(params: Params) -> Params:
    """``{stack}/layers/...`` [N, ...] -> ``{stack}/layers_i/...`` [...] for both stacks."""
    out = dict(params)
    for stack_name in STACKS:
        stack = params.get(stack_name)
        if stack is None or SCANNED_NAME not in stack:
            continue
        stacked = stack[SCANNED_NAME]
        leaves = jax.tree_util.tree_leaves(stacked)
        counts = {leaf.shape[0] for leaf in leaves if np.ndim(leaf) > 0}
        if len(counts) != 1:
            raise ValueError(f"{stack_name}/layers: leading (layer) dims differ: {sorted(counts)}")
        (count,) = counts
        rest = {name: value for name, value in stack.items() if name != SCANNED_NAME}
        for index in range(count):
            layer = jax.tree_util.tree_map(lambda a, i=index: _take(a, i), stacked)
            rest[f"layers_{index}"] = layer
        out[stack_name] = rest
    return out


def to_layout(params: Params, config: T5Config) -> Params:
    """``params`` (either layout) in the layout of ``config`` (``scan_layers`` or not)."""
    if config.scan_layers == is_stacked(params):
        return params
    return stack_layers(params) if config.scan_layers else unstack_layers(params)
