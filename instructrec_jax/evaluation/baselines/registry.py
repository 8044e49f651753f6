"""Baselines by name: ``make_baseline("sasrec", dataset, seed)``.

A factory takes ``(dataset, seed, **kwargs)`` and returns a ready ``CandidateScorer``
(trained if the baseline needs training). ``register_baseline`` adds a user's own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.evaluation.baselines.bert4rec import BERT4RecScorer
from instructrec_jax.evaluation.baselines.bpr import BPRScorer
from instructrec_jax.evaluation.baselines.dssm import DSSMScorer
from instructrec_jax.evaluation.baselines.embedding_scorer import EmbeddingScorer
from instructrec_jax.evaluation.baselines.gru4rec import GRU4RecScorer
from instructrec_jax.evaluation.baselines.popularity import PopularityScorer
from instructrec_jax.evaluation.baselines.random_scorer import RandomScorer
from instructrec_jax.evaluation.baselines.sasrec import SASRecScorer
from instructrec_jax.evaluation.baselines.tem import TEMScorer
from instructrec_jax.evaluation.baselines.training_config import TrainingConfig
from instructrec_jax.evaluation.scorer import CandidateScorer

BaselineFactory = Callable[..., CandidateScorer]


def _make_random(dataset: ProcessedDataset, seed: int) -> CandidateScorer:
    del dataset  # random scores do not depend on the data
    return RandomScorer(seed)


def _make_popularity(
    dataset: ProcessedDataset, seed: int, break_ties: bool = True
) -> CandidateScorer:
    return PopularityScorer.fit(dataset, seed=seed, break_ties=break_ties)


def trained_factory(scorer_class: type[EmbeddingScorer]) -> BaselineFactory:
    """The registry factory of a trained baseline: ``(dataset, seed, config=None,
    progress=True, model_dir=None, **options)``.

    Trains ``scorer_class`` on the dataset, or with ``model_dir`` reuses a model saved
    there for this dataset (trained and saved there when the directory holds none).
    ``options`` go to ``scorer_class.fit`` (e.g. the vocabulary of the text baselines).
    """

    def make(
        dataset: ProcessedDataset,
        seed: int,
        config: TrainingConfig | None = None,
        progress: bool = True,
        model_dir: str | Path | None = None,
        **options: Any,
    ) -> CandidateScorer:
        if model_dir is not None and (Path(model_dir) / scorer_class.meta_file()).exists():
            runtime = {k: options[k] for k in scorer_class.runtime_options if k in options}
            scorer = scorer_class.load(model_dir, dataset=dataset, **runtime)
            if scorer.training.get("seed") != seed:
                raise ValueError(
                    f"{model_dir}: model trained with seed {scorer.training.get('seed')}, "
                    f"asked for seed {seed}"
                )
            wanted = config and scorer_class.resolve_config(config, dataset)
            if wanted and wanted != scorer.config:
                raise ValueError(
                    f"{model_dir}: model trained with {scorer.config}, asked for {wanted}; "
                    "give another model_dir (or delete this one) to train it"
                )
            return scorer
        scorer = scorer_class.fit(dataset, config, seed=seed, progress=progress, **options)
        if model_dir is not None:
            scorer.save(model_dir)
        return scorer

    make.scorer_class = scorer_class  # type: ignore[attr-defined]  # see ``trained_class``
    return make


def trained_class(name: str) -> type[EmbeddingScorer] | None:
    """The ``EmbeddingScorer`` class behind a registered trained baseline (its
    ``fit_options`` say which options it takes), or None for the others."""
    return getattr(_REGISTRY.get(name), "scorer_class", None)


_REGISTRY: dict[str, BaselineFactory] = {
    "random": _make_random,
    "popularity": _make_popularity,
    "sasrec": trained_factory(SASRecScorer),
    "gru4rec": trained_factory(GRU4RecScorer),
    "bert4rec": trained_factory(BERT4RecScorer),
    "bpr": trained_factory(BPRScorer),
    "tem": trained_factory(TEMScorer),
    "dssm": trained_factory(DSSMScorer),
}


def register_baseline(name: str, factory: BaselineFactory, overwrite: bool = False) -> None:
    """Make ``make_baseline(name, ...)`` call ``factory(dataset, seed, **kwargs)``."""
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"baseline {name!r} is already registered (pass overwrite=True)")
    _REGISTRY[name] = factory


def baseline_names() -> tuple[str, ...]:
    """Registered baseline names, sorted."""
    return tuple(sorted(_REGISTRY))


def make_baseline(
    name: str, dataset: ProcessedDataset, seed: int, **kwargs: Any
) -> CandidateScorer:
    """Build (and train if needed) the baseline ``name`` on ``dataset``.

    Args:
      name: ``"random"``, ``"popularity"``, ``"sasrec"``, ``"gru4rec"``, ``"bert4rec"``,
        ``"bpr"``, ``"tem"``, ``"dssm"`` or a registered name.
      dataset: the processed dataset (training parts, validation split, catalog).
      seed: seeds every random choice of the baseline.
      **kwargs: baseline options: popularity ``break_ties``; the trained baselines
        ``config`` (their ``TrainingConfig`` subclass, e.g. ``SASRecConfig``),
        ``progress``, ``model_dir`` (save / reuse the trained model) and their own
        options (see ``trained_factory``; ``tem`` and ``dssm`` need ``vocabulary``, the
        SentencePiece model, and take ``teacher``).
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; known: {list(baseline_names())}") from None
    scorer = factory(dataset, seed, **kwargs)
    if not isinstance(scorer, CandidateScorer):
        raise TypeError(
            f"baseline factory {name!r} returned {type(scorer).__name__}, "
            "which does not implement CandidateScorer (name, score)"
        )
    return scorer
