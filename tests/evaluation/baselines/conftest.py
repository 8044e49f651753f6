"""Shared fixtures of the baseline tests."""

from __future__ import annotations

import pytest
from baseline_datasets import (
    chain_sequences,
    cluster_sequences,
    dataset_from_sequences,
    small_sasrec_config,
    train_text_vocabulary,
)

from instructrec_jax.data import PrepareConfig, ProcessedDataset, make_synthetic, prepare
from instructrec_jax.evaluation.baselines import SASRecScorer


@pytest.fixture(scope="session")
def chain_dataset() -> ProcessedDataset:
    """400 users on a 40-item cycle (deterministic next item)."""
    return dataset_from_sequences(chain_sequences(num_users=400, num_items=40, seed=0))


@pytest.fixture(scope="session")
def trained_chain_sasrec(chain_dataset: ProcessedDataset) -> SASRecScorer:
    """SASRec trained on ``chain_dataset`` (about 20 epochs of 4 steps)."""
    return SASRecScorer.fit(chain_dataset, small_sasrec_config(), seed=0, progress=False)


@pytest.fixture(scope="session")
def cluster_dataset() -> ProcessedDataset:
    """240 users in 8 groups of 10 items; each user takes 8..9 of their group's items."""
    return dataset_from_sequences(
        cluster_sequences(num_users=240, num_groups=8, items_per_group=10, seed=0)
    )


@pytest.fixture(scope="session")
def text_dataset() -> ProcessedDataset:
    """Synthetic users with category tastes; items name their category in the title."""
    return prepare(
        make_synthetic(num_users=200, num_items=120, num_categories=6, seed=0),
        PrepareConfig(k_core=2),
    )


@pytest.fixture(scope="session")
def text_vocabulary(tmp_path_factory, text_dataset: ProcessedDataset) -> str:
    """A small SentencePiece model of the dataset's titles, categories and queries."""
    return train_text_vocabulary(text_dataset, tmp_path_factory.mktemp("spm"))
