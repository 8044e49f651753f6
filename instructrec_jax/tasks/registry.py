"""Register the SeqIO tasks and mixtures of one generated-instructions directory.

Per manifest key ``family/instruction_type`` (with at least one record):

- task ``instructrec_<dataset>_<family>_<type>``: records -> ``{inputs, targets}``,
  tokenized with the vocabulary, EOS appended after trimming; splits ``train``,
  ``validation``, ``test`` as far as the manifest has them.

Ranking is evaluated by :mod:`instructrec_jax.evaluation` (``python -m
instructrec_jax.evaluate``), which builds each protocol's candidates from the processed
dataset; no SeqIO task carries candidates or metric functions.

Then the mixtures of ``mixtures.plan_mixtures`` over the tasks with training records
(``all_but_<type>`` for every type by default, ``all_but_<family>``, the ladder).

Registration is idempotent: everything under the dataset's name prefix is removed first,
so importing a definition module twice, or re-registering with another directory or
vocabulary, replaces the old entries. All checks (vocabulary, manifest, files, ladder) run
before that removal, so a failed registration leaves the registry untouched.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import seqio

from instructrec_jax.tasks import manifest as manifest_lib
from instructrec_jax.tasks import mixtures, naming, preprocessors
from instructrec_jax.tasks.sources import InstructionRecordSource
from instructrec_jax.tasks.vocab import get_vocabulary
from instructrec_jax.tf_setup import import_tensorflow

DEFAULT_HELD_OUT_TYPES: tuple[str, ...] = ("p1_i1_t3",)
DEFAULT_SHUFFLE_BUFFER_SIZE = 10_000

log = logging.getLogger(__name__)


def reset_registry(prefix: str) -> list[str]:
    """Remove every SeqIO mixture and task whose name starts with ``prefix``; return them."""
    removed = [name for name in list(seqio.MixtureRegistry.names()) if name.startswith(prefix)]
    for name in removed:
        seqio.MixtureRegistry.remove(name)
    tasks = [name for name in list(seqio.TaskRegistry.names()) if name.startswith(prefix)]
    for name in tasks:
        seqio.TaskRegistry.remove(name)
    return removed + tasks


def output_features(vocabulary: seqio.Vocabulary) -> dict[str, seqio.Feature]:
    """``inputs`` and ``targets`` token features (EOS added by the task's preprocessor)."""
    return {
        name: seqio.Feature(vocabulary=vocabulary, add_eos=True, dtype="int32")
        for name in preprocessors.TEXT_FEATURES
    }


def _check_files_exist(entry: manifest_lib.ManifestEntry) -> None:
    tf = import_tensorflow()
    for path in entry.files:
        if not tf.io.gfile.exists(path):
            raise manifest_lib.ManifestError(
                f"manifest lists {path!r} for {entry.split}/{entry.key}, but it does not exist"
            )


def _split_files(
    entries: Sequence[manifest_lib.ManifestEntry],
) -> tuple[dict[str, list[str]], dict[str, int]]:
    files = {manifest_lib.SEQIO_SPLIT_NAMES[e.split]: list(e.files) for e in entries}
    counts = {manifest_lib.SEQIO_SPLIT_NAMES[e.split]: e.num_records for e in entries}
    return files, counts


def _token_preprocessors() -> list[Callable[..., Any]]:
    return [seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim]


def _key_entries(
    manifest: manifest_lib.InstructionsManifest, key: str
) -> list[manifest_lib.ManifestEntry]:
    """The non-empty entries of one ``family/type`` key, in split order."""
    return [
        entry
        for split in manifest_lib.MANIFEST_SPLITS
        if (entry := manifest.entry(split, key)) is not None and entry.num_records > 0
    ]


def _training_task(
    dataset: str, entries: Sequence[manifest_lib.ManifestEntry]
) -> mixtures.TrainingTask | None:
    """The key's task as a mixture member, if it has training records."""
    for entry in entries:
        if entry.split == "train":
            name = naming.task_name(dataset, entry.family, entry.instruction_type)
            return mixtures.TrainingTask(
                name, entry.family, entry.instruction_type, entry.num_records
            )
    return None


def _register_key(
    dataset: str,
    entries: Sequence[manifest_lib.ManifestEntry],
    features: dict[str, seqio.Feature],
    shuffle_buffer_size: int,
) -> str:
    """Register the task of one key's non-empty entries; return its name."""
    family, instruction_type = entries[0].family, entries[0].instruction_type
    name = naming.task_name(dataset, family, instruction_type)
    files, counts = _split_files(entries)
    seqio.TaskRegistry.add(
        name,
        source=InstructionRecordSource(files, counts),
        preprocessors=[preprocessors.select_text_features, *_token_preprocessors()],
        output_features=features,
        shuffle_buffer_size=shuffle_buffer_size,
    )
    return name


def register_dataset_tasks(
    dataset: str,
    instructions_dir: str | os.PathLike[str],
    vocabulary: seqio.Vocabulary | str | os.PathLike[str],
    *,
    rate: mixtures.RateChoice = "examples",
    held_out_types: Sequence[str] = DEFAULT_HELD_OUT_TYPES,
    ladder_order: Sequence[str] | None = None,
    shuffle_buffer_size: int = DEFAULT_SHUFFLE_BUFFER_SIZE,
    leave_one_out_types: Sequence[str] | str = mixtures.ALL_TYPES,
    custom_mixtures: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Register all tasks and mixtures of one generated directory; return their names.

    Args:
      dataset: dataset name as in the manifest, e.g. ``ml-100k``.
      instructions_dir: the generated directory (local path or ``tf.io.gfile`` URI).
      vocabulary: a SeqIO vocabulary, or the path/URI of a SentencePiece model (checked
        now: a missing or unreadable file raises ``VocabularyError`` naming it).
      rate: ``"examples"``, ``"uniform"``, or a zero-argument callable returning one
        (read each time a mixture's dataset is built; lets gin choose it).
      held_out_types: instruction types that get an ``all_but_<type>`` mixture and stay
        out of the diversity ladder.
      ladder_order: ladder keys (``family/type`` or a bare type); default in ``mixtures``.
      shuffle_buffer_size: per-task record shuffle buffer.
      leave_one_out_types: types that get an ``all_but_<type>`` mixture besides the
        held-out ones (default: every type, so any leave-one-type-out arm can be named).
      custom_mixtures: more mixtures, name -> member tasks (``mixtures.plan_mixtures``).

    Raises:
      ManifestError: the directory or manifest is missing (the message says how to
        generate it) or breaks the contract, or a listed file does not exist.
      VocabularyError: the vocabulary file is missing or not a SentencePiece model.
      ValueError: an unknown rate or a ladder_order that names no or held-out tasks.
    """
    if not callable(rate):
        mixtures.check_rate_kind(rate)
    if not isinstance(vocabulary, seqio.Vocabulary):
        vocabulary = get_vocabulary(vocabulary)
    manifest = manifest_lib.load_manifest(instructions_dir, dataset)
    # Check everything before touching the registry: a failed call leaves it as it was.
    entries_by_key: dict[str, list[manifest_lib.ManifestEntry]] = {}
    for key in manifest.task_keys():
        entries = _key_entries(manifest, key)
        if not entries:
            log.warning("%s: no records in any split, no task registered", key)
            continue
        for entry in entries:
            _check_files_exist(entry)
        entries_by_key[key] = entries
    training_tasks = [
        task
        for entries in entries_by_key.values()
        if (task := _training_task(dataset, entries)) is not None
    ]
    plans = mixtures.plan_mixtures(
        dataset, training_tasks, held_out_types, ladder_order, leave_one_out_types, custom_mixtures
    )

    reset_registry(naming.dataset_prefix(dataset))
    features = output_features(vocabulary)
    registered: list[str] = []
    for entries in entries_by_key.values():
        registered.append(_register_key(dataset, entries, features, shuffle_buffer_size))
    for mixture_name, members in plans.items():
        seqio.MixtureRegistry.add(
            mixture_name,
            [(task.name, mixtures.TaskRate(rate, task.num_train_records)) for task in members],
        )
        registered.append(mixture_name)
    return registered
