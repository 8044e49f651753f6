"""The instruction record: what the generator writes and the SeqIO tasks read.

A record is one rendered instruction. Training records are (inputs -> targets) pairs;
validation and test records are in rank form: ``candidate_titles`` lists every candidate
in the order the instruction shows them and ``positive_index`` points at the target, so an
evaluation task can expand one record into one (inputs, candidate title) pair per
candidate.

On disk a record is a ``tf.train.Example`` (TFRecord files, sharded) with the features of
``FEATURE_SPEC``: strings as UTF-8 bytes, lists as repeated bytes, ``positive_index`` as
int64 (-1 when the record has no candidates).
"""

from __future__ import annotations

import dataclasses
from typing import Any

FAMILIES: tuple[str, ...] = ("recommendation", "product_search", "personalized_search")


@dataclasses.dataclass(frozen=True)
class InstructionRecord:
    """One rendered instruction.

    Attributes:
      inputs: the instruction text fed to the encoder.
      targets: the text the decoder should produce (item title, "Yes"/"No", query, ...).
      instruction_type: code combination plus strategy, e.g. ``p1_i0_t3`` or
        ``p1_i0_t2_cot`` (see ``instructrec_jax.instructions.codes``).
      template_id: e.g. ``A7``.
      family: one of ``FAMILIES``.
      split: ``train``, ``valid`` or ``test``.
      user_id: raw user id ("" for product-search records built from items alone).
      target_item_id: the item the instruction is about.
      candidate_item_ids: candidates in the order shown in ``inputs`` (T0/T1/T3), else ().
      candidate_titles: titles aligned with ``candidate_item_ids``.
      positive_index: index of ``target_item_id`` in ``candidate_item_ids``, or -1.
    """

    inputs: str
    targets: str
    instruction_type: str
    template_id: str
    family: str
    split: str
    user_id: str
    target_item_id: str
    candidate_item_ids: tuple[str, ...] = ()
    candidate_titles: tuple[str, ...] = ()
    positive_index: int = -1

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if len(self.candidate_item_ids) != len(self.candidate_titles):
            raise ValueError(
                f"record {self.template_id}/{self.user_id}: {len(self.candidate_item_ids)} "
                f"candidate ids but {len(self.candidate_titles)} titles"
            )
        if self.positive_index >= len(self.candidate_item_ids):
            raise ValueError(
                f"positive_index {self.positive_index} out of range for "
                f"{len(self.candidate_item_ids)} candidates"
            )


STRING_FIELDS: tuple[str, ...] = (
    "inputs",
    "targets",
    "instruction_type",
    "template_id",
    "family",
    "split",
    "user_id",
    "target_item_id",
)
LIST_FIELDS: tuple[str, ...] = ("candidate_item_ids", "candidate_titles")
INT_FIELDS: tuple[str, ...] = ("positive_index",)


def feature_spec() -> dict[str, Any]:
    """``tf.io.parse_single_example`` spec for a serialized record (imports TF lazily)."""
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()
    spec: dict[str, Any] = {name: tf.io.FixedLenFeature([], tf.string) for name in STRING_FIELDS}
    spec.update({name: tf.io.VarLenFeature(tf.string) for name in LIST_FIELDS})
    spec.update({name: tf.io.FixedLenFeature([], tf.int64) for name in INT_FIELDS})
    return spec


def to_tf_example_bytes(record: InstructionRecord) -> bytes:
    """Serialize a record as a ``tf.train.Example`` proto (bytes)."""
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()

    def _bytes(values: list[str]) -> Any:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))

    feature: dict[str, Any] = {name: _bytes([getattr(record, name)]) for name in STRING_FIELDS}
    feature.update({name: _bytes(list(getattr(record, name))) for name in LIST_FIELDS})
    feature.update(
        {
            name: tf.train.Feature(int64_list=tf.train.Int64List(value=[getattr(record, name)]))
            for name in INT_FIELDS
        }
    )
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def from_tf_example_bytes(serialized: bytes) -> InstructionRecord:
    """Inverse of ``to_tf_example_bytes`` (eager, for tests and tools)."""
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()
    example = tf.train.Example.FromString(serialized)
    feature = example.features.feature
    values: dict[str, Any] = {
        name: feature[name].bytes_list.value[0].decode() for name in STRING_FIELDS
    }
    for name in LIST_FIELDS:
        values[name] = tuple(v.decode() for v in feature[name].bytes_list.value)
    for name in INT_FIELDS:
        values[name] = int(feature[name].int64_list.value[0])
    return InstructionRecord(**values)
