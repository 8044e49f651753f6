"""Baselines by name: ``make_baseline("sasrec", dataset, seed)``.

A factory takes ``(dataset, seed, **kwargs)`` and returns a ready ``CandidateScorer``
(trained if the baseline needs training). ``register_baseline`` adds a user's own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.evaluation.baselines.popularity import PopularityScorer
from instructrec_jax.evaluation.baselines.random_scorer import RandomScorer
from instructrec_jax.evaluation.baselines.sasrec import META_FILE, SASRecScorer
from instructrec_jax.evaluation.baselines.sasrec_config import SASRecConfig
from instructrec_jax.evaluation.scorer import CandidateScorer

BaselineFactory = Callable[..., CandidateScorer]


def _make_random(dataset: ProcessedDataset, seed: int) -> CandidateScorer:
    del dataset  # random scores do not depend on the data
    return RandomScorer(seed)


def _make_popularity(
    dataset: ProcessedDataset, seed: int, break_ties: bool = True
) -> CandidateScorer:
    return PopularityScorer.fit(dataset, seed=seed, break_ties=break_ties)


def _make_sasrec(
    dataset: ProcessedDataset,
    seed: int,
    config: SASRecConfig | None = None,
    progress: bool = True,
    model_dir: str | Path | None = None,
) -> CandidateScorer:
    """Train SASRec, or with ``model_dir`` reuse a model saved there for this dataset
    (trained and saved there when the directory holds none)."""
    if model_dir is not None and (Path(model_dir) / META_FILE).exists():
        scorer = SASRecScorer.load(model_dir, expected_fingerprint=dataset.fingerprint)
        if scorer.training.get("seed") != seed:
            raise ValueError(
                f"{model_dir}: model trained with seed {scorer.training.get('seed')}, "
                f"asked for seed {seed}"
            )
        return scorer
    scorer = SASRecScorer.fit(dataset, config, seed=seed, progress=progress)
    if model_dir is not None:
        scorer.save(model_dir)
    return scorer


_REGISTRY: dict[str, BaselineFactory] = {
    "random": _make_random,
    "popularity": _make_popularity,
    "sasrec": _make_sasrec,
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
      name: ``"random"``, ``"popularity"``, ``"sasrec"`` or a registered name.
      dataset: the processed dataset (training parts, validation split, catalog).
      seed: seeds every random choice of the baseline.
      **kwargs: baseline options: popularity ``break_ties``; sasrec ``config``
        (``SASRecConfig``), ``progress``, ``model_dir`` (save / reuse the trained model).
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
