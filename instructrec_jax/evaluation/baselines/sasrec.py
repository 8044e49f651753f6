"""``SASRecScorer``: a trained SASRec that scores candidate lists and the whole catalog.

Saved as a directory without pickle:

```
DIR/sasrec_params.msgpack   flax.serialization msgpack of the parameter tree
DIR/sasrec.json             format version, config, item ids in index order and the
                            training summary (seed, epochs, validation metrics, seconds,
                            dataset name and fingerprint)
DIR/interacted.json         user id -> the indices of every item the user interacted
                            with (for ``top_items`` exclusion), compact JSON
```
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.checks import candidate_count
from instructrec_jax.evaluation.baselines.item_index import ItemIndex
from instructrec_jax.evaluation.baselines.sasrec_config import SASRecConfig
from instructrec_jax.evaluation.baselines.sasrec_data import encode_candidates, encode_histories
from instructrec_jax.evaluation.baselines.sasrec_inference import (
    Params,
    build_model,
    candidate_scores,
    catalog_scores,
)
from instructrec_jax.evaluation.baselines.sasrec_train import fit_sasrec

PARAMS_FILE = "sasrec_params.msgpack"
META_FILE = "sasrec.json"
INTERACTED_FILE = "interacted.json"
FORMAT_VERSION = 1


class SASRecScorer:
    """Scores candidates by SASRec's dot product between the history state and each item.

    Attributes:
      params: the model parameters.
      config: the resolved configuration (``max_length`` set).
      index: raw item id <-> integer id of the training catalog.
      interacted: user id -> every item index the user interacted with (full sequence,
        held-out targets included); ``top_items`` never returns these.
      training: summary of how the parameters were trained (JSON-ready).
    """

    name = "sasrec"

    def __init__(
        self,
        params: Params,
        config: SASRecConfig,
        index: ItemIndex,
        interacted: Mapping[str, np.ndarray],
        training: Mapping[str, Any],
    ) -> None:
        if config.max_length is None:
            raise ValueError("SASRecScorer needs a resolved config (max_length set)")
        self.params = params
        self.config = config
        self.index = index
        self.interacted = dict(interacted)
        self.training = dict(training)
        self.model = build_model(config, index.num_items)

    @classmethod
    def fit(
        cls,
        dataset: ProcessedDataset,
        config: SASRecConfig | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> SASRecScorer:
        """Train on ``dataset``'s training parts, early-stopped on its validation split."""
        result = fit_sasrec(dataset, config or SASRecConfig(), seed, progress)
        training = {
            "seed": seed,
            "dataset": dataset.name,
            "dataset_fingerprint": dataset.fingerprint,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "valid_metrics": result.valid_metrics,
            "train_seconds": result.train_seconds,
            "history": result.history,
        }
        interacted = {
            user_id: result.index.indices(sequence.item_ids)
            for user_id, sequence in dataset.sequences.items()
        }
        return cls(result.params, result.config, result.index, interacted, training)

    def score(self, examples: Sequence[EvalExample]) -> np.ndarray:
        """Scores [num_examples, num_candidates] in ``EvalExample.candidates`` order."""
        num_candidates = candidate_count(examples)
        if not examples:
            return np.zeros((0, num_candidates), dtype=np.float32)
        histories = encode_histories(examples, self.index, self._max_length)
        candidates = encode_candidates(examples, self.index)
        return candidate_scores(
            self.model, self.params, histories, candidates, self.config.eval_batch_size
        )

    def top_items(
        self, examples: Sequence[EvalExample], k: int, exclude_interacted: bool = True
    ) -> list[tuple[str, ...]]:
        """The ``k`` best catalog items per example, best first.

        With ``exclude_interacted`` an example never gets an item of its history, its
        target, or anything its user interacted with in the training dataset (all of
        the user's sequence, held-out items included), so the result can serve as hard
        negatives. Equal scores are ordered by item index (sorted raw ids).

        Raises:
          ValueError: fewer than ``k`` items remain for some example.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        results: list[tuple[str, ...]] = []
        chunk = self.config.eval_batch_size  # bounds memory: chunk x num_items scores
        for start in range(0, len(examples), chunk):
            results.extend(
                self._top_items_chunk(examples[start : start + chunk], k, exclude_interacted)
            )
        return results

    def _top_items_chunk(
        self, examples: Sequence[EvalExample], k: int, exclude_interacted: bool
    ) -> list[tuple[str, ...]]:
        histories = encode_histories(examples, self.index, self._max_length)
        scores = catalog_scores(self.model, self.params, histories, self.config.eval_batch_size)
        if exclude_interacted:
            for row, example in enumerate(examples):
                scores[row, self._excluded_columns(example)] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        results = []
        for row, example in enumerate(examples):
            kept = order[row]
            if len(kept) < k or np.isneginf(scores[row, kept]).any():
                raise ValueError(
                    f"{example.split} example of user {example.user_id!r}: fewer than {k} "
                    "catalog items remain after excluding the user's interactions"
                )
            results.append(tuple(self.index.item_id(int(column) + 1) for column in kept))
        return results

    def _excluded_columns(self, example: EvalExample) -> np.ndarray:
        """Catalog columns (index - 1) that ``top_items`` must not return for ``example``."""
        known = self.interacted.get(example.user_id, np.zeros(0, dtype=np.int32))
        own = self.index.indices((*example.history, example.target))
        return np.union1d(known, own) - 1

    @property
    def _max_length(self) -> int:
        return int(self.config.max_length)  # set: checked in __init__

    def _params_bytes(self) -> bytes:
        """The parameters as ``PARAMS_FILE`` holds them (msgpack of host arrays)."""
        return serialization.msgpack_serialize(jax.tree.map(np.asarray, self.params))

    @functools.cached_property
    def fingerprint(self) -> str:
        """16 hex digits of SHA-256 over the parameters, config and item ids.

        The model's identity in evaluation caches: a retrained model gets another one, a
        saved and reloaded model the same.
        """
        digest = hashlib.sha256(self._params_bytes())
        meta = {"config": self.config.to_json_dict(), "item_ids": list(self.index.item_ids)}
        digest.update(json.dumps(meta, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def save(self, directory: str | Path) -> Path:
        """Write ``PARAMS_FILE`` and ``META_FILE`` into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / PARAMS_FILE).write_bytes(self._params_bytes())
        meta = {
            "format": FORMAT_VERSION,
            "config": self.config.to_json_dict(),
            "item_ids": list(self.index.item_ids),
            "training": self.training,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        interacted = {user: indices.tolist() for user, indices in self.interacted.items()}
        (directory / INTERACTED_FILE).write_text(
            json.dumps(interacted, separators=(",", ":")), encoding="utf-8"
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path, expected_fingerprint: str | None = None) -> SASRecScorer:
        """Read a directory written by ``save``.

        Args:
          directory: the saved model.
          expected_fingerprint: if given, the ``ProcessedDataset.fingerprint`` the model
            must have been trained on (refuses a model of another dataset version).
        """
        directory = Path(directory)
        meta = _read_meta(directory / META_FILE)
        fingerprint = meta["training"].get("dataset_fingerprint")
        if expected_fingerprint is not None and fingerprint != expected_fingerprint:
            raise ValueError(
                f"{directory / META_FILE}: trained on dataset fingerprint {fingerprint!r}, "
                f"expected {expected_fingerprint!r}; retrain SASRec for this dataset"
            )
        config = SASRecConfig.from_json_dict(meta["config"])
        index = ItemIndex(meta["item_ids"])
        if list(index.item_ids) != list(meta["item_ids"]):
            raise ValueError(f"{directory / META_FILE}: item_ids are not sorted and unique")
        params = _read_params(directory / PARAMS_FILE, config, index.num_items)
        interacted = _read_interacted(directory / INTERACTED_FILE, index.num_items)
        return cls(params, config, index, interacted, meta["training"])


def _read_json(path: Path, when_missing: str) -> Any:
    """The JSON value in ``path``; FileNotFoundError ``"{path}: {when_missing}"`` if absent."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {when_missing}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def _read_meta(path: Path) -> dict[str, Any]:
    meta = _read_json(path, "no saved SASRec model here")
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: format {meta.get('format')!r}, expected {FORMAT_VERSION}")
    missing = sorted({"config", "item_ids", "training"} - set(meta))
    if missing:
        raise ValueError(f"{path}: missing fields {missing}")
    return meta


def _read_interacted(path: Path, num_items: int) -> dict[str, np.ndarray]:
    raw = _read_json(path, "missing (written by SASRecScorer.save)")
    interacted = {}
    for user, indices in raw.items():
        array = np.asarray(indices, dtype=np.int32)
        if array.ndim != 1 or (array.size and (array.min() < 1 or array.max() > num_items)):
            raise ValueError(f"{path}: user {user!r} has item indices outside 1..{num_items}")
        interacted[user] = array
    return interacted


def _read_params(path: Path, config: SASRecConfig, num_items: int) -> Params:
    """Restore the parameter tree and check it against the model's expected shapes."""
    model = build_model(config, num_items)
    expected = jax.eval_shape(
        model.init, jax.random.PRNGKey(0), jnp.zeros((1, int(config.max_length)), jnp.int32)
    )["params"]
    restored = serialization.msgpack_restore(path.read_bytes())
    try:
        params = serialization.from_state_dict(expected, restored)
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: parameter tree does not match the config ({error})") from None
    for (key_path, want), got in zip(
        jax.tree_util.tree_leaves_with_path(expected), jax.tree_util.tree_leaves(params)
    ):
        if tuple(np.shape(got)) != tuple(want.shape):
            name = jax.tree_util.keystr(key_path)
            raise ValueError(f"{path}: {name} has shape {np.shape(got)}, expected {want.shape}")
    return params
