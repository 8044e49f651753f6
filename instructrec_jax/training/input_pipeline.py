"""Per-host SeqIO input, assembled into global (sharded) batches.

Each process reads only its shard of the task (``seqio.ShardInfo``) and fills the rows of
the global batch that live on its devices; ``jax.make_array_from_process_local_data``
stitches the hosts' rows into one global array sharded along the mesh's data axis.

Resumption: the pipeline is a pure function of (task, seed, shard, step). A run that
restarts at step ``s`` rebuilds the same seeded pipeline and skips its first ``s`` batches,
so the examples seen after a restart are exactly those an uninterrupted run would see.
Skipping costs reading ``s`` batches (cheap next to training them).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding

from instructrec_jax.tf_setup import import_tensorflow


class UnknownTaskError(ValueError):
    """A mixture or task name that is not registered with SeqIO."""


@dataclasses.dataclass(frozen=True)
class HostShard:
    """Which part of the global batch this process feeds.

    ``index``/``count``: the SeqIO shard this host reads (hosts that hold replicas of the
    same rows read the same shard); ``rows``: rows per batch this host supplies.
    """

    index: int
    count: int
    rows: int


def host_shard(sharding: NamedSharding, global_batch_size: int) -> HostShard:
    """The rows of a ``[global_batch_size, ...]`` array addressable by this process.

    Raises ValueError when the rows of this process are not one contiguous block (a mesh
    whose data axis interleaves processes).
    """
    index_map = sharding.addressable_devices_indices_map((global_batch_size, 1))
    starts_and_stops = set()
    for index in index_map.values():
        row_slice = index[0]
        start = 0 if row_slice.start is None else row_slice.start
        stop = global_batch_size if row_slice.stop is None else row_slice.stop
        starts_and_stops.add((start, stop))
    ordered = sorted(starts_and_stops)
    first, last = ordered[0][0], ordered[-1][1]
    covered = sum(stop - start for start, stop in ordered)
    if covered != last - first:
        raise ValueError(f"rows of process {jax.process_index()} are not contiguous: {ordered}")
    rows = last - first
    if global_batch_size % rows:
        raise ValueError(f"global batch {global_batch_size} is not a multiple of host rows {rows}")
    return HostShard(index=first // rows, count=global_batch_size // rows, rows=rows)


def registered_names() -> list[str]:
    """Names of every registered SeqIO task and mixture."""
    import seqio

    return sorted(set(seqio.TaskRegistry.names()) | set(seqio.MixtureRegistry.names()))


def check_task_registered(name: str) -> None:
    """Raise :class:`UnknownTaskError` naming the closest registered names."""
    names = registered_names()
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownTaskError(
        f"mixture or task {name!r} is not registered ({len(names)} registered){hint}"
    )


def has_split(name: str, split: str) -> bool:
    """Whether the task (every task of a mixture) provides ``split``."""
    import seqio

    provider = seqio.get_mixture_or_task(name)
    tasks = provider.tasks if isinstance(provider, seqio.Mixture) else [provider]
    return all(split in task.splits for task in tasks)


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """Which SeqIO examples a host pipeline reads (the input half of T5X's ``DatasetConfig``).

    Attributes:
      mixture_or_task_name: a registered SeqIO task or mixture.
      task_feature_lengths: tokens per feature, ``{"inputs": L, "targets": T}``.
      split: the split to read.
      shuffle: shuffle the examples (seeded by ``seed``).
      seed: the shuffle seed.
      pack: pack several examples into each row (segment ids and positions).
      use_cached: read the task's cache made by ``seqio`` cache jobs.
    """

    mixture_or_task_name: str
    task_feature_lengths: Mapping[str, int]
    split: str = "train"
    shuffle: bool = False
    seed: int = 0
    pack: bool = False
    use_cached: bool = False


def seqio_dataset(config: DatasetConfig, shard: HostShard, *, repeat: bool = False) -> Any:
    """Model features of ``config`` for this host (a ``tf.data.Dataset`` of examples);
    one pass unless ``repeat``."""
    import seqio

    tf = import_tensorflow()
    check_task_registered(config.mixture_or_task_name)
    dataset = seqio.get_dataset(
        config.mixture_or_task_name,
        task_feature_lengths=dict(config.task_feature_lengths),
        feature_converter=seqio.EncDecFeatureConverter(pack=config.pack),
        dataset_split=config.split,
        use_cached=config.use_cached,
        shuffle=config.shuffle,
        num_epochs=None if repeat else 1,
        shard_info=seqio.ShardInfo(index=shard.index, num_shards=shard.count),
        seed=config.seed,
        verbose=False,
    )
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options)


def train_batches(
    config: DatasetConfig, shard: HostShard, start_step: int
) -> Iterator[dict[str, np.ndarray]]:
    """Endless host batches ``{feature: [shard.rows, length]}`` starting at ``start_step``."""
    dataset = seqio_dataset(config, shard, repeat=True)
    dataset = dataset.batch(shard.rows, drop_remainder=True).skip(start_step)
    return iter(dataset.as_numpy_iterator())


def eval_batches(
    config: DatasetConfig, shard: HostShard, num_batches: int
) -> list[dict[str, np.ndarray]]:
    """Exactly ``num_batches`` host batches of ``config.split``, read in order.

    Missing rows (end of data) are zero rows with zero loss weight, so every host runs the
    same number of steps and padding does not count in the token-normalized loss. Raises
    ValueError for a shuffled or packed ``config`` (evaluation reads each example once).
    """
    if config.shuffle or config.pack:
        raise ValueError(
            f"evaluation of {config.mixture_or_task_name!r} reads unshuffled, unpacked "
            f"examples; got shuffle={config.shuffle}, pack={config.pack}"
        )
    dataset = seqio_dataset(config, shard)
    batches = list(dataset.batch(shard.rows).take(num_batches).as_numpy_iterator())
    padded = [_pad_rows(batch, shard.rows) for batch in batches]
    while len(padded) < num_batches:
        padded.append(_empty_batch(config.task_feature_lengths, shard.rows))
    return padded


def _empty_batch(feature_lengths: Mapping[str, int], rows: int) -> dict[str, np.ndarray]:
    """An all-padding unpacked batch (zero loss weight everywhere)."""
    inputs = np.zeros((rows, feature_lengths["inputs"]), np.int32)
    targets = np.zeros((rows, feature_lengths["targets"]), np.int32)
    return {
        "encoder_input_tokens": inputs,
        "decoder_target_tokens": targets,
        "decoder_input_tokens": targets.copy(),
        "decoder_loss_weights": targets.copy(),
    }


def _pad_rows(batch: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    missing = rows - next(iter(batch.values())).shape[0]
    if missing == 0:
        return batch
    return {key: np.pad(value, [(0, missing), (0, 0)]) for key, value in batch.items()}


def to_global(
    host_batch: Mapping[str, np.ndarray], sharding: NamedSharding, global_batch_size: int
) -> dict[str, jax.Array]:
    """Global arrays ``[global_batch_size, length]`` from this host's rows."""
    return {
        key: jax.make_array_from_process_local_data(
            sharding, value, (global_batch_size, *value.shape[1:])
        )
        for key, value in host_batch.items()
    }
