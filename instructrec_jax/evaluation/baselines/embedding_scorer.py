"""``EmbeddingScorer``: the trained baselines that score by a dot product of two vectors.

SASRec, BERT4Rec, GRU4Rec, BPR-MF, TEM and DSSM all score a candidate as
``<state(example), vector(candidate)>``: the state comes from the history, the user or the
query, the vector from the item's id or its text. This base class holds everything they
share: training (``fit``: the shared loop of :mod:`train_loop`, early-stopped on the
validation split), scoring candidate lists, full-catalog top-k (``top_items``, so any of
them can propose hard negatives), the parameter fingerprint, and saving / loading
without pickle::

    DIR/<name>_params.msgpack   flax.serialization msgpack of the parameter tree
    DIR/<name>.json             format version, config, item ids in index order, the
                                model's extras (user ids, vocabulary, ...) and the
                                training summary (seed, epochs, validation metrics,
                                seconds, dataset name and fingerprint)
    DIR/interacted.json         user id -> the indices of every item the user interacted
                                with (for ``top_items`` exclusion), compact JSON

A subclass names itself (``name``, ``display_name``, ``config_class``, ``model_class``) and
implements the hooks ``init_inputs``, ``encode``, ``item_vectors``, ``training_arrays``
and ``loss_fn`` (and optionally ``resolve_config``, ``make_extras``,
``model_arguments``, ``attach``). Its flax module takes its sizes from the config fields of the same
names and has a ``user_states(*inputs) -> [B, D]`` method.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import flax.linen as nn
import jax
import numpy as np
from flax import serialization

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.checks import candidate_count
from instructrec_jax.evaluation.baselines.item_index import ItemIndex
from instructrec_jax.evaluation.baselines.saved_files import (
    read_interacted,
    read_json,
    read_params,
)
from instructrec_jax.evaluation.baselines.sequence_data import encode_candidates
from instructrec_jax.evaluation.baselines.train_loop import (
    LossFn,
    Params,
    Validator,
    train_with_early_stopping,
)
from instructrec_jax.evaluation.baselines.training_config import TrainingConfig
from instructrec_jax.evaluation.metrics import ranking_metrics

FORMAT_VERSION = 1
INTERACTED_FILE = "interacted.json"
ScorerT = TypeVar("ScorerT", bound="EmbeddingScorer")


@functools.partial(jax.jit, static_argnums=(0, 1))
def _apply(model: nn.Module, method: str, params: Params, *inputs: jax.Array) -> jax.Array:
    return model.apply({"params": params}, *inputs, method=method)


@functools.partial(jax.jit, static_argnums=0)
def _init(model: nn.Module, key: jax.Array, *inputs: jax.Array) -> Params:
    return model.init(key, *inputs)["params"]


def batched_apply(
    model: nn.Module,
    method: str,
    params: Params,
    inputs: Sequence[np.ndarray],
    batch_size: int,
) -> np.ndarray:
    """Float32 [N, ...]: ``model.<method>(*inputs)`` over fixed-size batches.

    Every pass is padded with zero rows to exactly ``batch_size`` rows, so one
    compilation serves inputs of any size; all ``inputs`` share their first dimension N.
    """
    total = inputs[0].shape[0]
    parts = []
    for start in range(0, total, batch_size):
        rows = [array[start : start + batch_size] for array in inputs]
        count = rows[0].shape[0]
        padded = [
            np.concatenate([row, np.zeros((batch_size - count, *row.shape[1:]), row.dtype)])
            for row in rows
        ]
        parts.append(np.asarray(_apply(model, method, params, *padded))[:count])
    return np.concatenate(parts).astype(np.float32)


class EmbeddingScorer(abc.ABC):
    """Scores candidates by ``<state(example), item_vector(candidate)>``; higher is better.

    Attributes:
      params: the model parameters.
      config: the resolved configuration.
      index: raw item id <-> integer id of the training catalog.
      interacted: user id -> every item index the user interacted with (full sequence,
        held-out targets included); ``top_items`` never returns these.
      training: summary of how the parameters were trained (JSON-ready).
      extras: JSON-ready model data beyond the parameters (e.g. BPR's user ids).
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    config_class: ClassVar[type[TrainingConfig]]
    model_class: ClassVar[type[nn.Module]]
    fit_options: ClassVar[tuple[str, ...]] = ()  # keyword options ``fit`` takes
    runtime_options: ClassVar[tuple[str, ...]] = ()  # options for ``attach``, not saved

    def __init__(
        self,
        params: Params,
        config: TrainingConfig,
        index: ItemIndex,
        interacted: Mapping[str, np.ndarray],
        training: Mapping[str, Any],
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        self.params = params
        self.config = config
        self.index = index
        self.interacted = dict(interacted)
        self.training = dict(training)
        self.extras = dict(extras or {})
        self.model = self.build_model()

    # -- hooks ---------------------------------------------------------------------------

    @classmethod
    def resolve_config(cls, config: Any, dataset: ProcessedDataset) -> Any:
        """The config with dataset-dependent fields set (e.g. a default window length)."""
        del dataset
        return config

    @classmethod
    def make_extras(cls, dataset: ProcessedDataset, config: Any, **options: Any) -> dict[str, Any]:
        """JSON-ready model data taken from the dataset before training (none by default)."""
        del dataset, config
        if options:
            raise TypeError(f"{cls.display_name} takes no options {sorted(options)}")
        return {}

    def attach(self, dataset: ProcessedDataset | None) -> None:
        """Take what scoring needs beyond the saved files (none by default; the text
        baselines take the catalog and the teacher). Called by ``untrained`` and ``load``
        with the ``runtime_options`` given to them."""
        del dataset

    def build_model(self) -> nn.Module:
        """``model_class`` built from ``model_arguments()`` plus every config field that
        the module has (e.g. ``hidden_size``)."""
        arguments = self.model_arguments()
        names = {field.name for field in dataclasses.fields(self.model_class)}
        for name in names - set(arguments) - {"parent", "name"}:
            arguments[name] = getattr(self.config, name)
        return self.model_class(**arguments)

    def model_arguments(self) -> dict[str, Any]:
        """Module fields that do not come from the config (by default ``num_items``)."""
        return {"num_items": self.index.num_items}

    @abc.abstractmethod
    def init_inputs(self) -> tuple[np.ndarray, ...]:
        """Inputs of one batch row for ``model.init`` (its ``__call__`` creates every
        parameter)."""

    @abc.abstractmethod
    def encode(self, examples: Sequence[EvalExample]) -> tuple[np.ndarray, ...]:
        """The ``user_states`` inputs of ``examples`` (first dimension len(examples))."""

    @abc.abstractmethod
    def item_vectors(self, params: Params) -> np.ndarray:
        """Float32 [num_items + 1, D]; row i scores item index i (row 0: padding)."""

    @abc.abstractmethod
    def training_arrays(self, dataset: ProcessedDataset) -> tuple[np.ndarray, ...]:
        """Training rows (see :mod:`train_loop`) from the dataset's training parts."""

    @abc.abstractmethod
    def loss_fn(self) -> LossFn:
        """Hashable ``(params, batch, key) -> mean loss`` over the non-padding rows."""

    # -- training ------------------------------------------------------------------------

    @classmethod
    def fit(
        cls: type[ScorerT],
        dataset: ProcessedDataset,
        config: Any = None,
        seed: int = 0,
        progress: bool = True,
        **options: Any,
    ) -> ScorerT:
        """Train on ``dataset``'s training parts, early-stopped on its validation split."""
        scorer = cls.untrained(dataset, config, seed, **options)
        validate = scorer.validator(scorer.validation_examples(dataset))
        result = train_with_early_stopping(
            scorer.loss_fn(),
            scorer.params,
            scorer.training_arrays(dataset),
            scorer.config,
            validate,
            seed,
            progress,
            cls.display_name,
        )
        scorer.params = result.params
        scorer.training = {
            "seed": seed,
            "dataset": dataset.name,
            "dataset_fingerprint": dataset.fingerprint,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "valid_metrics": result.valid_metrics,
            "train_seconds": result.train_seconds,
            "history": result.history,
        }
        return scorer

    @classmethod
    def untrained(
        cls: type[ScorerT],
        dataset: ProcessedDataset,
        config: Any = None,
        seed: int = 0,
        **options: Any,
    ) -> ScorerT:
        """The scorer with freshly initialized parameters (what ``fit`` starts from)."""
        config = cls.resolve_config(config or cls.config_class(), dataset)
        if not isinstance(config, cls.config_class):
            raise TypeError(f"{cls.display_name} needs a {cls.config_class.__name__}")
        index = ItemIndex(dataset.catalog)
        interacted = {
            user_id: index.indices(sequence.item_ids)
            for user_id, sequence in dataset.sequences.items()
        }
        runtime = {name: options.pop(name) for name in cls.runtime_options if name in options}
        extras = cls.make_extras(dataset, config, **options)
        scorer = cls(None, config, index, interacted, {}, extras)
        scorer.attach(dataset, **runtime)
        scorer.params = scorer.init_params(seed)
        return scorer

    def init_params(self, seed: int) -> Params:
        """Initial parameters from ``seed`` (one compiled call)."""
        inputs = [np.asarray(array)[None] for array in self.init_inputs()]
        return _init(self.model, jax.random.PRNGKey(seed), *inputs)

    def validation_examples(self, dataset: ProcessedDataset) -> list[EvalExample]:
        """The examples early stopping is checked on (by default the validation split)."""
        return list(dataset.valid)

    def validator(self, examples: Sequence[EvalExample]) -> Validator | None:
        """Parameters -> ranking metrics on ``examples`` (None without examples)."""
        if not examples:
            return None
        inputs = self.encode(examples)
        candidates = encode_candidates(examples, self.index)
        positives = np.zeros(len(examples), dtype=np.int64)

        def validate(params: Params) -> dict[str, float]:
            return ranking_metrics(self.candidate_scores(params, inputs, candidates), positives)

        return validate

    # -- scoring -------------------------------------------------------------------------

    def states(self, params: Params, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Float32 [N, D]: ``model.user_states`` of encoded examples, batched."""
        return batched_apply(self.model, "user_states", params, inputs, self.config.eval_batch_size)

    def candidate_scores(
        self, params: Params, inputs: Sequence[np.ndarray], candidates: np.ndarray
    ) -> np.ndarray:
        """Float32 [N, C]: each state's dot product with its candidates' vectors."""
        vectors = self.item_vectors(params)
        return np.einsum("nd,ncd->nc", self.states(params, inputs), vectors[candidates])

    def score(self, examples: Sequence[EvalExample]) -> np.ndarray:
        """Scores [num_examples, num_candidates] in ``EvalExample.candidates`` order."""
        return self.score_lists(examples, [example.candidates for example in examples])

    def score_lists(
        self, examples: Sequence[EvalExample], candidate_lists: Sequence[Sequence[str]]
    ) -> np.ndarray:
        """Scores [num_examples, n] of any candidate lists (one per example, equal length
        n), the state still coming from each example (its history, user or query about
        the target), as grouped reranking needs."""
        if len(candidate_lists) != len(examples):
            raise ValueError(f"{len(candidate_lists)} candidate lists for {len(examples)} examples")
        repacked = [
            dataclasses.replace(example, target=candidates[0], negatives=tuple(candidates[1:]))
            for example, candidates in zip(examples, candidate_lists)
        ]
        num_candidates = candidate_count(repacked)
        if not examples:
            return np.zeros((0, num_candidates), dtype=np.float32)
        candidates = encode_candidates(repacked, self.index)
        return self.candidate_scores(self.params, self.encode(examples), candidates)

    def validation_loss(self, examples: Sequence[EvalExample]) -> float:
        """Mean softmax cross-entropy of each positive against its candidates (nats).

        The loss every baseline can be compared on, whatever its training objective:
        ``log(num_candidates)`` for uninformative scores, 0 for a certain positive.
        """
        if not examples:
            raise ValueError("validation_loss needs at least one example")
        scores = self.score(examples).astype(np.float64)
        return float(np.mean(np.logaddexp.reduce(scores, axis=1) - scores[:, 0]))

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
        vectors = self.item_vectors(self.params)[1:]
        for start in range(0, len(examples), chunk):
            part = examples[start : start + chunk]
            scores = self.states(self.params, self.encode(part)) @ vectors.T
            results.extend(self._top_of(part, scores, k, exclude_interacted))
        return results

    def _top_of(
        self,
        examples: Sequence[EvalExample],
        scores: np.ndarray,
        k: int,
        exclude_interacted: bool,
    ) -> list[tuple[str, ...]]:
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

    # -- identity and files --------------------------------------------------------------

    def _params_bytes(self) -> bytes:
        """The parameters as the params file holds them (msgpack of host arrays)."""
        return serialization.msgpack_serialize(jax.tree.map(np.asarray, self.params))

    def _meta(self) -> dict[str, Any]:
        meta = {"config": self.config.to_json_dict(), "item_ids": list(self.index.item_ids)}
        if self.extras:  # absent for models without extras (keeps SASRec's fingerprints)
            meta["extras"] = self.extras
        return meta

    @functools.cached_property
    def fingerprint(self) -> str:
        """16 hex digits of SHA-256 over the parameters, config, item ids and extras.

        The model's identity in evaluation caches: a retrained model gets another one, a
        saved and reloaded model the same.
        """
        digest = hashlib.sha256(self._params_bytes())
        digest.update(json.dumps(self._meta(), sort_keys=True).encode())
        return digest.hexdigest()[:16]

    @classmethod
    def params_file(cls) -> str:
        """File name of the parameters inside a saved model directory."""
        return f"{cls.name}_params.msgpack"

    @classmethod
    def meta_file(cls) -> str:
        """File name of the configuration and training summary of a saved model."""
        return f"{cls.name}.json"

    def save(self, directory: str | Path) -> Path:
        """Write the params, meta and interacted files into ``directory`` (created)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / self.params_file()).write_bytes(self._params_bytes())
        meta = {"format": FORMAT_VERSION, **self._meta(), "training": self.training}
        text = json.dumps(meta, indent=1) + "\n"
        (directory / self.meta_file()).write_text(text, encoding="utf-8")
        interacted = {user: indices.tolist() for user, indices in self.interacted.items()}
        (directory / INTERACTED_FILE).write_text(
            json.dumps(interacted, separators=(",", ":")), encoding="utf-8"
        )
        return directory

    @classmethod
    def load(
        cls: type[ScorerT],
        directory: str | Path,
        expected_fingerprint: str | None = None,
        dataset: ProcessedDataset | None = None,
        **runtime: Any,
    ) -> ScorerT:
        """Read a directory written by ``save``.

        Args:
          directory: the saved model.
          expected_fingerprint: if given, the ``ProcessedDataset.fingerprint`` the model
            must have been trained on (refuses a model of another dataset version).
          dataset: the dataset, for baselines that score with it (the text baselines
            read the catalog); its fingerprint is then checked too.
          **runtime: the class's ``runtime_options`` (e.g. the text baselines' teacher).
        """
        if expected_fingerprint is None and dataset is not None:
            expected_fingerprint = dataset.fingerprint
        directory = Path(directory)
        path = directory / cls.meta_file()
        meta = read_json(path, f"no saved {cls.display_name} model here")
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        missing = sorted({"config", "item_ids", "training"} - set(meta))
        if missing:
            raise ValueError(f"{path}: missing fields {missing}")
        fingerprint = meta["training"].get("dataset_fingerprint")
        if expected_fingerprint is not None and fingerprint != expected_fingerprint:
            raise ValueError(
                f"{path}: trained on dataset fingerprint {fingerprint!r}, expected "
                f"{expected_fingerprint!r}; retrain {cls.display_name} for this dataset"
            )
        index = ItemIndex(meta["item_ids"])
        if list(index.item_ids) != list(meta["item_ids"]):
            raise ValueError(f"{path}: item_ids are not sorted and unique")
        config = cls.config_class.from_json_dict(meta["config"])
        scorer = cls(None, config, index, {}, meta["training"], meta.get("extras"))
        expected = jax.eval_shape(scorer.init_params, 0)
        scorer.params = read_params(directory / cls.params_file(), expected)
        scorer.interacted = read_interacted(directory / INTERACTED_FILE, index.num_items)
        scorer.attach(dataset, **runtime)
        return scorer
