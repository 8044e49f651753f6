"""Assembling a parameter tree from tensors that arrive one at a time, with full validation.

Every importer feeds (T5X path, array) pairs into a :class:`ParamAssembler`; ``finish``
returns the nested parameter dict of :class:`instructrec_jax.models.t5.Transformer` or
raises :class:`CheckpointMismatchError` naming every missing, unexpected or misshapen
tensor with its expected shape.
"""

from __future__ import annotations

from typing import Any

import flax
import numpy as np

from instructrec_jax.models.config import T5Config
from instructrec_jax.models.t5 import abstract_params

Params = dict[str, Any]


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model config; ``problems`` lists one line per key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        details = "\n  ".join(problems)
        super().__init__(
            f"checkpoint {source} does not match the model config ({len(problems)} problems):"
            f"\n  {details}"
        )


def expected_shapes(config: T5Config) -> dict[str, tuple[int, ...]]:
    """T5X path ('/'-joined) -> parameter shape, from ``jax.eval_shape`` (no allocation)."""
    flat = flax.traverse_util.flatten_dict(flax.linen.unbox(abstract_params(config)), sep="/")
    return {path: tuple(leaf.shape) for path, leaf in flat.items()}


def flatten_params(params: Params) -> dict[str, Any]:
    """Nested parameter dict -> {'/'-joined path: array}."""
    return flax.traverse_util.flatten_dict(params, sep="/")


class ParamAssembler:
    """Collects host arrays by T5X path, casting each to the config's parameter dtype.

    Problems are recorded rather than raised, so one error reports all of them.
    """

    def __init__(self, config: T5Config, source: str) -> None:
        self.config = config
        self.source = source
        self.shapes = expected_shapes(config)
        self.arrays: dict[str, np.ndarray] = {}
        self.problems: list[str] = []
        self.seen: set[str] = set()

    def add(self, path: str, array: np.ndarray, origin: str | None = None) -> None:
        """Record one tensor; ``origin`` is its name in the checkpoint (for messages)."""
        label = f"{origin} (-> {path})" if origin and origin != path else path
        self.seen.add(path)
        if path not in self.shapes:
            self.problems.append(f"unexpected tensor {label} with shape {tuple(array.shape)}")
            return
        expected = self.shapes[path]
        if tuple(array.shape) != expected:
            self.problems.append(
                f"wrong shape for {label}: got {tuple(array.shape)}, expected {expected}"
            )
            return
        self.arrays[path] = np.ascontiguousarray(array, dtype=self.config.parameter_dtype)

    def unexpected(self, name: str, shape: tuple[int, ...]) -> None:
        """Record a checkpoint tensor that has no place in the model."""
        self.problems.append(f"unexpected tensor {name} with shape {shape}")

    def finish(self, source_names: dict[str, str] | None = None) -> Params:
        """The nested parameter dict; raises CheckpointMismatchError listing every problem.

        ``source_names`` maps T5X paths to the checkpoint's own names for the messages.
        """
        problems = list(self.problems)
        for path, shape in self.shapes.items():
            if path not in self.seen:
                name = (source_names or {}).get(path)
                label = f"{name} (-> {path})" if name else path
                problems.append(f"missing tensor {label}, expected shape {shape}")
        if problems:
            raise CheckpointMismatchError(self.source, problems)
        return flax.traverse_util.unflatten_dict(self.arrays, sep="/")
