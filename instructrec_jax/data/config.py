"""Preprocessing configuration and the dataset fingerprint derived from it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

# Leave-one-out needs at least a training item, a validation target and a test target.
MIN_SEQUENCE_LENGTH = 3

# How interactions of one user with the same timestamp are ordered (documented in
# ``ordering.py``). Part of the fingerprint so a change of rule invalidates caches.
TIE_RULE = "seeded-blake2b(seed,user,item)"

# Bump when a change to the readers or ``prepare`` changes what they produce from the same
# inputs: it is part of the fingerprint, so cached processed datasets are not reused.
PIPELINE_VERSION = 2


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """Everything that decides what ``prepare`` produces from a raw dataset.

    Attributes:
      k_core: minimum interactions per user and per item, applied iteratively to a
        fixed point. Users additionally need ``MIN_SEQUENCE_LENGTH`` (3) interactions
        for leave-one-out, so the user threshold is ``max(k_core, 3)``.
      max_history: histories (training prefixes, validation/test inputs) keep only the
        last ``max_history`` items.
      num_negatives: sampled negatives per validation/test example (uniform among items
        the user never interacted with).
      seed: seeds the tie rule, the negatives and the item split.
      item_split_fractions: (train, valid, test) fractions of catalog items for product
        search; test items are unseen in its training part.
    """

    k_core: int = 5
    max_history: int = 20
    num_negatives: int = 9
    seed: int = 0
    item_split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)

    def __post_init__(self) -> None:
        if self.k_core < 1:
            raise ValueError(f"k_core must be >= 1, got {self.k_core}")
        if self.max_history < 1:
            raise ValueError(f"max_history must be >= 1, got {self.max_history}")
        if self.num_negatives < 0:
            raise ValueError(f"num_negatives must be >= 0, got {self.num_negatives}")
        fractions = tuple(float(f) for f in self.item_split_fractions)
        if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError(
                "item_split_fractions must be three non-negative numbers summing to 1, "
                f"got {self.item_split_fractions}"
            )
        object.__setattr__(self, "item_split_fractions", fractions)

    @property
    def user_threshold(self) -> int:
        """Minimum interactions a user keeps in the k-core (at least 3)."""
        return max(self.k_core, MIN_SEQUENCE_LENGTH)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists instead of tuples)."""
        as_dict = dataclasses.asdict(self)
        as_dict["item_split_fractions"] = list(self.item_split_fractions)
        return as_dict

    @classmethod
    def from_json_dict(cls, values: dict[str, Any]) -> PrepareConfig:
        """Inverse of ``to_json_dict``; unknown keys are an error naming them."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown PrepareConfig fields: {unknown}")
        kwargs = dict(values)
        if "item_split_fractions" in kwargs:
            kwargs["item_split_fractions"] = tuple(kwargs["item_split_fractions"])
        return cls(**kwargs)


def dataset_fingerprint(name: str, source_digest: str, config: PrepareConfig) -> str:
    """Hex digest (16 chars) of the dataset name, its raw inputs and the config.

    Args:
      name: dataset name.
      source_digest: digest of the raw inputs (``RawDataset.source_digest``).
      config: the preprocessing configuration.
    """
    payload = json.dumps(
        {
            "name": name,
            "source": source_digest,
            "config": config.to_json_dict(),
            "tie_rule": TIE_RULE,
            "pipeline_version": PIPELINE_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
