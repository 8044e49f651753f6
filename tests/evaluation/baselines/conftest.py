"""Shared fixtures of the baseline tests."""

from __future__ import annotations

import pytest
from baseline_datasets import chain_sequences, dataset_from_sequences, small_sasrec_config

from instructrec_jax.data import ProcessedDataset
from instructrec_jax.evaluation.baselines import SASRecScorer


@pytest.fixture(scope="session")
def chain_dataset() -> ProcessedDataset:
    """400 users on a 40-item cycle (deterministic next item)."""
    return dataset_from_sequences(chain_sequences(num_users=400, num_items=40, seed=0))


@pytest.fixture(scope="session")
def trained_chain_sasrec(chain_dataset: ProcessedDataset) -> SASRecScorer:
    """SASRec trained on ``chain_dataset`` (about 20 epochs of 4 steps)."""
    return SASRecScorer.fit(chain_dataset, small_sasrec_config(), seed=0, progress=False)
