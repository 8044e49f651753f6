"""A tiny synthetic SeqIO task for the trainer's tests (no dependency on the tasks stage).

Importing this module registers ``training_tiny_copy``: inputs are 3-9 random tokens of a
64-token pass-through vocabulary, targets are the first three input tokens shifted by one
(learnable by a 1+1 layer model in a few dozen steps). Splits: train (256) and validation (32).
"""

from __future__ import annotations

import numpy as np
import seqio

import gin
from instructrec_jax.models.config import T5Config
from instructrec_jax.tf_setup import import_tensorflow
from tests.t5_configs import tiny_t5_config

TASK_NAME = "training_tiny_copy"
VOCAB_SIZE = 64
_SIZES = {"train": 256, "validation": 32}


def tiny_model_config(**overrides: object) -> T5Config:
    """The 1+1 layer float32 T5 the trainer's tests fit to this task (``overrides`` replace)."""
    return tiny_t5_config(**{"vocab_size": VOCAB_SIZE, **overrides})


def _examples(split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0 if split == "train" else 1)
    examples = []
    for _ in range(_SIZES[split]):
        length = int(rng.integers(3, 10))
        inputs = rng.integers(3, VOCAB_SIZE - 1, size=length).astype(np.int32)
        targets = (inputs[:3] + 1).astype(np.int32)
        examples.append((inputs, targets))
    return examples


def _dataset_fn(split: str, shuffle_files: bool, seed: int | None = None):
    tf = import_tensorflow()
    examples = _examples(split)

    def generate():
        for inputs, targets in examples:
            yield {"inputs": inputs, "targets": targets}

    signature = {
        "inputs": tf.TensorSpec([None], tf.int32),
        "targets": tf.TensorSpec([None], tf.int32),
    }
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


@gin.configurable
def tiny_task_option(value: int = 0) -> int:
    """A configurable that exists only once this module is imported (gin import-order test)."""
    return value


def register() -> None:
    """Register the task once per process."""
    if TASK_NAME in seqio.TaskRegistry.names():
        return
    vocabulary = seqio.PassThroughVocabulary(size=VOCAB_SIZE, eos_id=1)
    features = {
        "inputs": seqio.Feature(vocabulary, add_eos=True, dtype=import_tensorflow().int32),
        "targets": seqio.Feature(vocabulary, add_eos=True, dtype=import_tensorflow().int32),
    }
    seqio.TaskRegistry.add(
        TASK_NAME,
        source=seqio.FunctionDataSource(
            _dataset_fn, splits=list(_SIZES), num_input_examples=dict(_SIZES)
        ),
        preprocessors=[seqio.preprocessors.append_eos_after_trim],
        output_features=features,
    )


register()
