"""SentencePiece vocabularies in the T5 layout: train, cache, load, count tokens.

T5 layout: id 0 = pad, 1 = EOS, 2 = UNK, no BOS. The model file holds the trained pieces
only; ``seqio.SentencePieceVocabulary(path, extra_ids=100)`` appends the 100 sentinel
pieces ``<extra_id_99> ... <extra_id_0>`` after them when it loads the file, exactly as it
does for Flan-T5's ``cc_all.32000.100extra`` model. So a model trained with
``vocab_size=V`` gives a SeqIO vocabulary of ``V + 100`` ids, and the model's embedding
table uses ``padded_vocab_size`` (a multiple of 128) rows.

Paths may be local or any URI ``tf.io.gfile`` reads (``gs://...``).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import seqio

DEFAULT_EXTRA_IDS = 100
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
VOCAB_MULTIPLE = 128


class VocabularyError(ValueError):
    """A vocabulary file that is missing, unreadable or not a SentencePiece model."""


def padded_vocab_size(vocab_size: int, multiple: int = VOCAB_MULTIPLE) -> int:
    """Embedding rows for a vocabulary of ``vocab_size`` ids (incl. extra ids), rounded up.

    E.g. Flan-T5: 32000 pieces + 100 extra ids = 32100 -> 32128.
    """
    if vocab_size <= 0 or multiple <= 0:
        raise ValueError(f"vocab_size and multiple must be positive, got {vocab_size}, {multiple}")
    return -(-vocab_size // multiple) * multiple


def model_vocab_size(vocab: seqio.SentencePieceVocabulary, multiple: int = VOCAB_MULTIPLE) -> int:
    """``padded_vocab_size`` of a loaded SeqIO vocabulary (its pieces plus extra ids)."""
    return padded_vocab_size(vocab.vocab_size, multiple)


def _clean_sentences(sentences: Iterable[str]) -> Iterator[str]:
    """Non-empty lines; multi-line texts are split so SentencePiece sees one line each."""
    for text in sentences:
        for line in text.splitlines():
            line = line.strip()
            if line:
                yield line


def train_vocabulary(
    sentences: Iterable[str],
    model_prefix_dir: str | os.PathLike[str],
    vocab_size: int,
    seed: int = 0,
    character_coverage: float = 1.0,
    model_name: str = "spm",
    whole_pieces: Sequence[str] = (),
    model_type: str = "unigram",
) -> str:
    """Train a SentencePiece model in the T5 layout; return the ``.model`` path.

    Deterministic: one training thread, no sentence sampling, a fixed random seed; the same
    sentences in the same order give a byte-identical model. ``vocab_size`` counts the
    trained pieces (pad, EOS and UNK included, the 100 extra ids not); when the corpus is
    too small for it, SentencePiece keeps fewer pieces instead of failing.

    Args:
      sentences: the corpus, e.g. item titles, categories, instruction texts.
      model_prefix_dir: directory for ``<model_name>.model`` and ``<model_name>.vocab``
        (local or a ``tf.io.gfile`` URI; created if missing).
      vocab_size: number of pieces to train.
      seed: SentencePiece's random generator seed.
      character_coverage: fraction of characters covered by single-character pieces.
      model_name: file stem.
      whole_pieces: texts that become one piece each wherever they follow a space or start
        the text (SentencePiece user-defined symbols, e.g. item titles: a title is then one
        token in instructions and as a scored target); pieces beyond ``vocab_size``.
      model_type: ``unigram`` (T5's and Flan-T5's) or ``bpe``. On a corpus of a few dozen
        templates (the generated instructions) unigram stops at a few thousand pieces and
        splits common words (``cu st omer``); BPE keeps whole words, about 20% fewer
        tokens per ml-100k instruction (``docs/demo_recipe.md``).
    """
    import sentencepiece as spm

    from instructrec_jax.tf_setup import import_tensorflow

    if vocab_size < 8:
        raise ValueError(f"vocab_size must be at least 8, got {vocab_size}")
    check_model_type(model_type)
    lines = list(_clean_sentences(sentences))
    if not lines:
        raise ValueError("cannot train a vocabulary on an empty corpus")
    symbols = whole_piece_symbols(whole_pieces)
    spm.set_random_generator_seed(seed)
    model_bytes = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model_bytes,
        model_type=model_type,
        vocab_size=vocab_size + len(symbols),
        user_defined_symbols=symbols,
        pad_id=PAD_ID,
        eos_id=EOS_ID,
        unk_id=UNK_ID,
        bos_id=-1,
        hard_vocab_limit=False,
        character_coverage=character_coverage,
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    tf = import_tensorflow()
    out_dir = os.fspath(model_prefix_dir)
    tf.io.gfile.makedirs(out_dir)
    model_path = os.path.join(out_dir, f"{model_name}.model")
    _atomic_write(model_path, model_bytes.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=model_bytes.getvalue())
    vocab_lines = "".join(
        f"{processor.id_to_piece(i)}\t{processor.get_score(i)}\n"
        for i in range(processor.get_piece_size())
    )
    _atomic_write(os.path.join(out_dir, f"{model_name}.vocab"), vocab_lines.encode())
    return model_path


def whole_piece_symbols(texts: Iterable[str]) -> list[str]:
    """SentencePiece symbols for ``texts``: spaces as ``▁`` and a leading ``▁``, so a symbol
    matches where a word starts (the longest symbol wins; a symbol also matches the start
    of a longer word: ``Heat`` in ``Heated``), never inside a word; distinct and sorted."""
    return sorted({"\u2581" + "\u2581".join(text.split()) for text in texts if text.split()})


def _atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file + rename (no half-written models)."""
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()
    if "://" not in path:
        directory = os.path.dirname(path) or "."
        with tempfile.NamedTemporaryFile(dir=directory, delete=False, suffix=".tmp") as handle:
            handle.write(data)
        os.replace(handle.name, path)
        return
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data)


MODEL_TYPES = ("unigram", "bpe")


def check_model_type(model_type: str) -> str:
    """``model_type`` if SentencePiece training here supports it, else ValueError."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"vocabulary model_type must be one of {MODEL_TYPES}, got {model_type!r}")
    return model_type


def vocabulary_cache_path(cache_dir: str | os.PathLike[str], key: str, vocab_size: int) -> str:
    """``<cache_dir>/<key>/spm_<vocab_size>/spm.model`` where ``key`` names the corpus."""
    safe_key = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    if not safe_key:
        raise ValueError("vocabulary cache key must not be empty")
    return os.path.join(os.fspath(cache_dir), safe_key, f"spm_{vocab_size}", "spm.model")


def vocabulary_for_dataset(
    corpus_sentences: Iterable[str],
    cache_dir: str | os.PathLike[str],
    key: str,
    vocab_size: int,
    seed: int = 0,
    whole_pieces: Sequence[str] = (),
    model_type: str = "unigram",
) -> str:
    """A trained vocabulary for a dataset, trained once per (key, vocab_size, whole pieces,
    model type) and cached.

    ``key`` should identify the corpus, e.g. the dataset fingerprint of the generated
    instructions. The corpus is only read when the cache misses. ``whole_pieces``: see
    :func:`train_vocabulary`.
    """
    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()
    if whole_pieces:
        symbols = "\n".join(whole_piece_symbols(whole_pieces)).encode()
        key = f"{key}-whole{hashlib.sha256(symbols).hexdigest()[:12]}"
    if check_model_type(model_type) != "unigram":  # unigram keeps its earlier cache paths
        key = f"{key}-{model_type}"
    model_path = vocabulary_cache_path(cache_dir, key, vocab_size)
    if tf.io.gfile.exists(model_path):
        return model_path
    return train_vocabulary(
        corpus_sentences,
        os.path.dirname(model_path),
        vocab_size,
        seed=seed,
        whole_pieces=whole_pieces,
        model_type=model_type,
    )


def get_vocabulary(
    path_or_uri: str | os.PathLike[str], extra_ids: int = DEFAULT_EXTRA_IDS
) -> seqio.SentencePieceVocabulary:
    """Load a SentencePiece model as a SeqIO vocabulary, failing early with the path named.

    The file is opened and parsed here, so a wrong path (local or ``gs://``), an unreadable
    file or a file that is not a SentencePiece model raises ``VocabularyError`` at task
    registration instead of deep inside a training step.
    """
    import sentencepiece as spm
    import seqio

    from instructrec_jax.tf_setup import import_tensorflow

    tf = import_tensorflow()
    path = os.fspath(path_or_uri)
    try:
        exists = tf.io.gfile.exists(path)
    except tf.errors.OpError as err:
        raise VocabularyError(f"cannot check vocabulary file {path!r}: {err}") from err
    if not exists:
        raise VocabularyError(
            f"vocabulary file {path!r} does not exist. Pass the path of a SentencePiece "
            "model (e.g. Flan-T5's cc_all.32000.100extra/sentencepiece.model) or train one "
            "with `python -m instructrec_jax.tasks train_vocab`."
        )
    try:
        with tf.io.gfile.GFile(path, "rb") as handle:
            model_bytes = handle.read()
    except tf.errors.OpError as err:
        raise VocabularyError(f"cannot read vocabulary file {path!r}: {err}") from err
    try:
        spm.SentencePieceProcessor(model_proto=model_bytes)
    except (RuntimeError, TypeError) as err:
        raise VocabularyError(f"{path!r} is not a SentencePiece model: {err}") from err
    return seqio.SentencePieceVocabulary(path, extra_ids=extra_ids)


class SentencePieceCounter:
    """Counts tokens of a text as the model will see it (the instructions' TokenCounter).

    ``count`` excludes the EOS that the tasks append, so a limit of ``L`` input tokens
    means ``count(text) <= L - 1`` leaves room for it. ``name`` (``sentencepiece:<path>``)
    is what the generator writes to the manifest's ``token_counter``.
    """

    def __init__(self, vocab: seqio.SentencePieceVocabulary) -> None:
        self._processor = vocab.tokenizer
        self.name = f"sentencepiece:{vocab.sentencepiece_model_file}"

    def count(self, text: str) -> int:
        """Number of SentencePiece ids of ``text`` (no EOS)."""
        return len(self._processor.encode(text))
