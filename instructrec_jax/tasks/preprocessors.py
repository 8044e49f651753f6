"""SeqIO preprocessor of the instruction tasks: one record -> one example ``{inputs, targets}``
(strings; tokenized by the task's next preprocessors)."""

from __future__ import annotations

from typing import Any

from instructrec_jax.tf_setup import import_tensorflow

tf = import_tensorflow()

TEXT_FEATURES: tuple[str, ...] = ("inputs", "targets")


def select_text_features(dataset: Any) -> Any:
    """Keep only ``inputs`` and ``targets`` of each parsed record."""
    return dataset.map(
        lambda record: {name: record[name] for name in TEXT_FEATURES},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
