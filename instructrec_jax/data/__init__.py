"""The interaction-data layer: raw readers, preprocessing, processed datasets.

Public API::

    raw = make_synthetic(num_users=200, num_items=300, num_categories=8, seed=0)
    dataset = prepare(raw, PrepareConfig())
    dataset.save(directory); dataset = load_processed(directory)
    dataset = prepare_dataset("ml-100k")          # fetched, prepared, cached by fingerprint
    raw = load_raw("amazon2018", category="Video_Games", manual_dir=DIR)

Importing this package imports neither TensorFlow nor JAX (the TFDS builders live in
``instructrec_jax.data.tfds_builders``).
"""

from instructrec_jax.data.config import PrepareConfig, dataset_fingerprint
from instructrec_jax.data.errors import DataFormatError, EmptyDatasetError
from instructrec_jax.data.pipeline import prepare
from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.registry import RawReader, load_raw, make_reader, prepare_dataset
from instructrec_jax.data.storage import load_processed
from instructrec_jax.data.synthetic import make_synthetic
from instructrec_jax.data.types import (
    EvalExample,
    Interaction,
    Item,
    RawDataset,
    SplitName,
    TrainExample,
    UserSequence,
)

__all__ = [
    "DataFormatError",
    "EmptyDatasetError",
    "EvalExample",
    "Interaction",
    "Item",
    "PrepareConfig",
    "ProcessedDataset",
    "RawDataset",
    "RawReader",
    "SplitName",
    "TrainExample",
    "UserSequence",
    "dataset_fingerprint",
    "load_processed",
    "load_raw",
    "make_reader",
    "make_synthetic",
    "prepare",
    "prepare_dataset",
]
