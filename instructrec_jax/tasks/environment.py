"""Where a task definition module finds its instructions and vocabulary.

Rule (documented for users and the definition modules under ``tasks/``):

- instructions directory: ``$INSTRUCTREC_INSTRUCTIONS_DIR`` if set, else
  ``$INSTRUCTREC_DATA_DIR/instructions/<dataset>`` (data dir default ``~/.cache/instructrec``).
- vocabulary: ``$INSTRUCTREC_VOCAB`` if set (a local path or any ``tf.io.gfile`` URI, e.g.
  Flan-T5's ``gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model``), else
  ``<instructions dir>/vocab/spm.model``, which ``install_dataset_vocabulary`` writes (a
  vocabulary trained on the directory's own text, cached per dataset fingerprint,
  instructions manifest, seed and size).
- mixture rate: ``$INSTRUCTREC_MIXTURE_RATE`` (``examples`` or ``uniform``) unless a
  definition module passes its own choice.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from instructrec_jax.tasks import manifest as manifest_lib
from instructrec_jax.tasks import naming
from instructrec_jax.tasks import vocab as vocab_lib
from instructrec_jax.tasks.mixtures import RateChoice, check_rate_kind

INSTRUCTIONS_DIR_ENV = "INSTRUCTREC_INSTRUCTIONS_DIR"
VOCAB_ENV = "INSTRUCTREC_VOCAB"
RATE_ENV = "INSTRUCTREC_MIXTURE_RATE"
VOCAB_SUBDIR = "vocab"
VOCAB_FILE = "spm.model"
DEFAULT_TRAINED_VOCAB_SIZE = 8000
MAX_CORPUS_SENTENCES = 200_000
MAX_CORPUS_RECORDS = 40_000


def resolve_instructions_dir(dataset: str, instructions_dir: str | None = None) -> str:
    """Explicit argument, else ``$INSTRUCTREC_INSTRUCTIONS_DIR``, else the default location."""
    return (
        instructions_dir
        or os.environ.get(INSTRUCTIONS_DIR_ENV)
        or manifest_lib.default_instructions_dir(dataset)
    )


def dataset_vocabulary_path(instructions_dir: str) -> str:
    """``<instructions dir>/vocab/spm.model``."""
    return os.path.join(instructions_dir, VOCAB_SUBDIR, VOCAB_FILE)


def resolve_vocabulary_path(instructions_dir: str, vocab: str | None = None) -> str:
    """Explicit argument, else ``$INSTRUCTREC_VOCAB``, else ``dataset_vocabulary_path``."""
    return vocab or os.environ.get(VOCAB_ENV) or dataset_vocabulary_path(instructions_dir)


def resolve_rate(rate: str | None = None) -> str:
    """Explicit argument, else ``$INSTRUCTREC_MIXTURE_RATE``, else ``examples``."""
    return check_rate_kind(rate or os.environ.get(RATE_ENV) or "examples")


def _unique(texts: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(text for text in texts if text))


def corpus_sentences(
    manifest: manifest_lib.InstructionsManifest,
    max_sentences: int = MAX_CORPUS_SENTENCES,
    max_records: int = MAX_CORPUS_RECORDS,
) -> list[str]:
    """Distinct texts of the directory: inputs, targets and candidate titles of all splits.

    The instruction texts carry the titles, categories, template wording and teacher text.
    About ``max_records`` records are read, spread evenly over the files (the first ones of
    each): every file holds one instruction type, so the sample keeps every template and
    teacher phrasing while bounding the work (the full ml-100k directory has 329K records;
    reading and training on all of them took minutes for no gain in coverage). Above
    ``max_sentences`` distinct texts an evenly spaced subset is kept (deterministic).
    """
    from instructrec_jax.instructions.records import from_tf_example_bytes
    from instructrec_jax.instructions.shards import read_tfrecord_payloads
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()

    paths = [
        path
        for split in manifest_lib.MANIFEST_SPLITS
        for key in sorted(manifest.entries.get(split, {}))
        for path in manifest.entries[split][key].files
    ]
    per_file = max(1, max_records // max(len(paths), 1))

    def payloads(path: str) -> Iterator[bytes]:
        if "://" in path:  # remote (gs://...): TensorFlow's reader
            yield from tf.data.TFRecordDataset(path).take(per_file).as_numpy_iterator()
        else:  # local: a plain read, far cheaper than a tf.data pipeline per file
            yield from read_tfrecord_payloads(Path(path))[:per_file]

    def texts() -> Iterator[str]:
        for path in paths:
            for serialized in payloads(path):
                record = from_tf_example_bytes(serialized)
                yield record.inputs
                yield record.targets
                yield from record.candidate_titles

    sentences = _unique(texts())
    if len(sentences) > max_sentences:
        step = len(sentences) / max_sentences
        sentences = [sentences[int(i * step)] for i in range(max_sentences)]
    return sentences


def install_dataset_vocabulary(
    dataset: str,
    instructions_dir: str,
    vocab_size: int = DEFAULT_TRAINED_VOCAB_SIZE,
    cache_dir: str | None = None,
    seed: int = 0,
    whole_pieces: Sequence[str] = (),
    model_type: str = "unigram",
) -> str:
    """Train (or take from the cache) a vocabulary on the directory's text; install it.

    The model is cached under ``cache_dir`` (default ``$INSTRUCTREC_DATA_DIR/vocab``) by
    dataset fingerprint, a digest of the instructions manifest and the seed, and size; then
    copied to ``<instructions dir>/vocab/spm.model`` where the definition modules look.
    ``whole_pieces`` (e.g. the catalog's titles) become one piece each; ``model_type``:
    ``unigram`` or ``bpe`` (``vocab.train_vocabulary``). Returns that path.
    """
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()
    manifest = manifest_lib.load_manifest(instructions_dir, dataset)
    if cache_dir is None:
        cache_dir = os.path.join(
            os.path.dirname(os.path.dirname(manifest_lib.default_instructions_dir(dataset))),
            "vocab",
        )
    key = _vocabulary_key(dataset, instructions_dir, manifest, seed)
    cached = vocab_lib.vocabulary_for_dataset(
        _LazyCorpus(manifest),
        cache_dir,
        key,
        vocab_size,
        seed=seed,
        whole_pieces=whole_pieces,
        model_type=model_type,
    )
    target = dataset_vocabulary_path(instructions_dir)
    tf.io.gfile.makedirs(os.path.dirname(target))
    tf.io.gfile.copy(cached, target, overwrite=True)
    return target


def _vocabulary_key(
    dataset: str, instructions_dir: str, manifest: manifest_lib.InstructionsManifest, seed: int
) -> str:
    """Cache key of a directory's vocabulary: dataset, its fingerprint, and a digest of the
    manifest (teacher, generation config, templates, record counts) and the training seed,
    so regenerated instructions never reuse a vocabulary trained on other text."""
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()
    path = os.path.join(instructions_dir, manifest_lib.MANIFEST_NAME)
    with tf.io.gfile.GFile(path, "rb") as handle:
        digest = hashlib.sha256(handle.read())
    digest.update(f"seed={seed}".encode())
    fingerprint = manifest.dataset_fingerprint or "nofingerprint"
    return f"{naming.dataset_short_name(dataset)}-{fingerprint}-{digest.hexdigest()[:12]}"


class _LazyCorpus:
    """Reads the corpus only when iterated (i.e. only on a vocabulary cache miss)."""

    def __init__(self, manifest: manifest_lib.InstructionsManifest) -> None:
        self._manifest = manifest

    def __iter__(self) -> Iterator[str]:
        return iter(corpus_sentences(self._manifest))


def install_dataset_tasks(
    dataset: str,
    instructions_dir: str,
    vocab_size: int,
    cache_dir: str,
    seed: int,
    shuffle_buffer_size: int,
    custom_mixtures: Mapping[str, Sequence[str]] | None = None,
    whole_pieces: Sequence[str] = (),
    vocab_model_type: str = "unigram",
) -> tuple[str, Any, list[str]]:
    """Install the dataset's trained vocabulary (:func:`install_dataset_vocabulary`) and
    register its SeqIO tasks and mixtures (with ``custom_mixtures``: name -> member tasks)
    on it: what the demo and the ablation job share. ``whole_pieces``: texts that become
    one vocabulary piece each; ``vocab_model_type``: ``unigram`` or ``bpe``
    (:func:`install_dataset_vocabulary`).

    Returns:
      (the vocabulary's path, the ``seqio`` vocabulary, the registered names).
    """
    from instructrec_jax.tasks.registry import register_dataset_tasks

    vocab_path = install_dataset_vocabulary(
        dataset,
        instructions_dir,
        vocab_size=vocab_size,
        cache_dir=cache_dir,
        seed=seed,
        whole_pieces=whole_pieces,
        model_type=vocab_model_type,
    )
    vocabulary = vocab_lib.get_vocabulary(vocab_path)
    names = register_dataset_tasks(
        dataset,
        instructions_dir,
        vocabulary,
        shuffle_buffer_size=shuffle_buffer_size,
        custom_mixtures=custom_mixtures,
    )
    return vocab_path, vocabulary, names


def register_from_environment(
    dataset: str,
    instructions_dir: str | None = None,
    vocab: str | None = None,
    rate: RateChoice | None = None,
) -> list[str]:
    """Register a dataset's tasks and mixtures from the locations of the module docstring.

    The entry point of the definition modules (``instructrec_jax_tasks.<dataset>``):
    arguments override the environment, which overrides the defaults.
    """
    from instructrec_jax.tasks.registry import register_dataset_tasks

    directory = resolve_instructions_dir(dataset, instructions_dir)
    manifest_lib.load_manifest(directory, dataset)  # a missing directory fails first, clearly
    vocab_path = resolve_vocabulary_path(directory, vocab)
    chosen_rate = rate if callable(rate) else resolve_rate(rate)
    return register_dataset_tasks(dataset, directory, vocab_path, rate=chosen_rate)
