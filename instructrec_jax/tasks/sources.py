"""A SeqIO data source over the TFRecord files of one manifest entry per split.

Each record comes out as the ``records.feature_spec()`` features (candidate lists as dense
string vectors).

Sharding: the source reports its files as shards; SeqIO's ``Task.get_dataset`` hands a
``seqio.ShardInfo`` to ``get_dataset`` when there are at least as many files as shards
(each host then reads whole files ``index, index + num_shards, ...``), and otherwise
shards the records itself. Either way the shards are disjoint and cover the split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import seqio

from instructrec_jax.instructions import records
from instructrec_jax.tf_setup import import_tensorflow

tf = import_tensorflow()


class InstructionRecordSource(seqio.DataSource):
    """Reads ``InstructionRecord`` TFRecords; splits map to file lists and record counts."""

    def __init__(
        self,
        split_to_files: Mapping[str, Sequence[str]],
        num_input_examples: Mapping[str, int],
        cycle_length: int = 16,
    ) -> None:
        for split, files in split_to_files.items():
            if not files:
                raise ValueError(f"split {split!r} has no files")
        self._split_to_files = {split: tuple(files) for split, files in split_to_files.items()}
        self._cycle_length = cycle_length
        super().__init__(
            splits=tuple(self._split_to_files),
            num_input_examples=dict(num_input_examples),
            caching_permitted=False,
        )

    @property
    def supports_arbitrary_sharding(self) -> bool:
        return False

    def list_shards(self, split: str) -> Sequence[str]:
        return self._split_to_files[split]

    def __repr__(self) -> str:
        return f"InstructionRecordSource({self._split_to_files})"

    def get_dataset(
        self,
        split: str = "train",
        shuffle: bool = True,
        seed: int | None = None,
        shard_info: seqio.ShardInfo | None = None,
        *,
        sequence_length: Mapping[str, int] | None = None,
        use_cached: bool = False,
        num_epochs: int | None = 1,
    ) -> Any:
        """Parsed records of ``split`` (a ``tf.data.Dataset`` of feature dicts).

        Args:
          split: SeqIO split name (``train``, ``validation``, ``test``).
          shuffle: shuffle the file order (record order is shuffled by the Task).
          seed: file-shuffle seed; with a seed the order is the same on every run.
          shard_info: read only the files of this shard.
          sequence_length, use_cached, num_epochs: unused (SeqIO's DataSource signature).
        """
        del sequence_length, use_cached, num_epochs
        if split not in self._split_to_files:
            raise ValueError(f"no split {split!r}; available: {sorted(self._split_to_files)}")
        files = self._split_to_files[split]
        files_ds = tf.data.Dataset.from_tensor_slices(list(files))
        if shard_info is not None:
            if len(files) < shard_info.num_shards:
                raise ValueError(
                    f"{len(files)} files cannot make {shard_info.num_shards} file shards"
                )
            files_ds = files_ds.shard(shard_info.num_shards, shard_info.index)
        if shuffle:
            files_ds = files_ds.shuffle(len(files), seed=seed)
        return files_ds.interleave(
            _read_file,
            cycle_length=self._cycle_length,
            block_length=16,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )


def _read_file(path: Any) -> Any:
    """Dataset of the parsed records of one file."""
    return tf.data.TFRecordDataset(path).map(
        _parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def _parse(serialized: Any) -> dict[str, Any]:
    parsed = tf.io.parse_single_example(serialized, records.feature_spec())
    for name in records.LIST_FIELDS:
        parsed[name] = tf.sparse.to_dense(parsed[name], default_value="")
    return parsed
