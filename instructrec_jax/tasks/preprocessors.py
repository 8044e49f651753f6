"""SeqIO preprocessors and the postprocessor of the instruction tasks.

Training form: one record -> one example ``{inputs, targets}`` (strings; tokenized later).

Rank-classification form: one record with N candidates -> N examples, one per candidate,
in the order the instruction shows them::

    {inputs: record.inputs, targets: candidate_titles[k], example_index: record_index,
     candidate_index: k, is_positive: k == positive_index, template_id: record.template_id}

The model scores each (inputs, targets) pair; ``rank_target_postprocessor`` turns each
example into a ``RankTarget`` that ``rank_metrics.rank_classification_metrics`` groups
back by ``example_index``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from instructrec_jax.tf_setup import import_tensorflow

tf = import_tensorflow()

TEXT_FEATURES: tuple[str, ...] = ("inputs", "targets")
RANK_FEATURES: tuple[str, ...] = (
    "example_index",
    "candidate_index",
    "is_positive",
    "template_id",
)


class RankTarget(NamedTuple):
    """What a rank-classification metric needs of one scored (inputs, candidate) pair."""

    example_index: int
    candidate_index: int
    is_positive: bool
    template_id: str = ""


def select_text_features(dataset: Any) -> Any:
    """Keep only ``inputs`` and ``targets`` of each parsed record."""
    return dataset.map(
        lambda record: {name: record[name] for name in TEXT_FEATURES},
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def _candidate_examples(record: Mapping[str, Any]) -> Any:
    titles = record["candidate_titles"]
    num_candidates = tf.shape(titles, out_type=tf.int64)[0]
    positive_index = record["positive_index"]
    message = tf.strings.format(
        "rank-form record {} (template {}) has positive_index {} but {} candidates",
        (record["record_index"], record["template_id"], positive_index, num_candidates),
    )
    checks = [
        tf.debugging.assert_greater_equal(positive_index, tf.constant(0, tf.int64), message),
        tf.debugging.assert_less(positive_index, num_candidates, message),
    ]
    with tf.control_dependencies(checks):
        candidate_index = tf.range(num_candidates)
    return tf.data.Dataset.from_tensor_slices(
        {
            "inputs": tf.fill([num_candidates], record["inputs"]),
            "targets": titles,
            "example_index": tf.fill([num_candidates], record["record_index"]),
            "candidate_index": candidate_index,
            "is_positive": tf.equal(candidate_index, positive_index),
            "template_id": tf.fill([num_candidates], record["template_id"]),
        }
    )


def expand_candidates(dataset: Any) -> Any:
    """One example per candidate of each rank-form record (see the module docstring).

    A record whose ``positive_index`` is -1 or out of range fails the pipeline with the
    record index and template id in the message.
    """
    return dataset.flat_map(_candidate_examples)


def rank_target_postprocessor(
    output: Any, example: Mapping[str, Any] | None = None, is_target: bool = False
) -> Any:
    """SeqIO postprocess_fn of rank tasks: targets become ``RankTarget``s, scores pass.

    Args:
      output: the decoded target text (``is_target``) or a model output.
      example: the example as numpy values (SeqIO passes it for targets).
      is_target: True when SeqIO's evaluator postprocesses a target.
    """
    if not is_target:
        return output
    if example is None:
        raise ValueError("rank_target_postprocessor needs the example to build a RankTarget")
    template_id = example.get("template_id", b"")
    if isinstance(template_id, bytes):
        template_id = template_id.decode()
    return RankTarget(
        example_index=int(example["example_index"]),
        candidate_index=int(example["candidate_index"]),
        is_positive=bool(example["is_positive"]),
        template_id=str(template_id),
    )
