"""Vocabulary training, caching, loading and the early, clear errors."""

from __future__ import annotations

import pytest

from instructrec_jax.instructions.tokens import TokenCounter
from instructrec_jax.tasks import vocab

CORPUS = [
    f"the user watched Movie {c} and liked comedies number {i}" for i in range(40) for c in "ABC"
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> str:
    return vocab.train_vocabulary(CORPUS, tmp_path_factory.mktemp("spm"), vocab_size=60, seed=0)


def test_training_is_deterministic(trained, tmp_path):
    again = vocab.train_vocabulary(CORPUS, tmp_path, vocab_size=60, seed=0)
    with open(trained, "rb") as first, open(again, "rb") as second:
        assert first.read() == second.read()


def test_t5_layout_and_extra_ids(trained):
    loaded = vocab.get_vocabulary(trained, extra_ids=100)
    processor = loaded.tokenizer
    assert (processor.pad_id(), processor.eos_id(), processor.unk_id()) == (0, 1, 2)
    assert processor.bos_id() == -1
    pieces = vocab.get_vocabulary(trained, extra_ids=0).vocab_size
    assert loaded.vocab_size == pieces + 100
    # Sentinels sit at the end, <extra_id_0> last, as in Flan-T5's vocabulary.
    assert loaded.encode("<extra_id_0>")[-1] == loaded.vocab_size - 1
    assert loaded.decode(loaded.encode("the user watched Movie A")) == "the user watched Movie A"


def test_padded_vocab_size():
    assert vocab.padded_vocab_size(32100) == 32128
    assert vocab.padded_vocab_size(128) == 128
    assert vocab.padded_vocab_size(129) == 256
    with pytest.raises(ValueError):
        vocab.padded_vocab_size(0)


def test_model_vocab_size_of_loaded_vocab(trained):
    loaded = vocab.get_vocabulary(trained)
    size = vocab.model_vocab_size(loaded)
    assert size % 128 == 0 and size - 128 < loaded.vocab_size <= size


def test_counter_counts_pieces_without_eos(trained):
    counter = vocab.SentencePieceCounter(vocab.get_vocabulary(trained))
    text = "the user watched Movie B"
    assert counter.count(text) == len(vocab.get_vocabulary(trained).encode(text))
    assert counter.count("") == 0
    assert counter.name == f"sentencepiece:{trained}"
    assert isinstance(counter, TokenCounter)


def test_cache_trains_once_per_key_and_size(tmp_path):
    first = vocab.vocabulary_for_dataset(CORPUS, tmp_path, "ml100k-abc", 60)

    def must_not_be_read():
        raise AssertionError("corpus read on a cache hit")
        yield ""

    assert vocab.vocabulary_for_dataset(must_not_be_read(), tmp_path, "ml100k-abc", 60) == first
    other_size = vocab.vocabulary_for_dataset(CORPUS, tmp_path, "ml100k-abc", 50)
    assert other_size != first


def test_missing_vocabulary_names_the_path(tmp_path):
    missing = str(tmp_path / "nowhere" / "spm.model")
    with pytest.raises(vocab.VocabularyError, match=r"nowhere/spm\.model.*does not exist"):
        vocab.get_vocabulary(missing)


def test_garbage_vocabulary_names_the_path(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a sentencepiece model")
    with pytest.raises(vocab.VocabularyError, match=r"bad\.model.*not a SentencePiece model"):
        vocab.get_vocabulary(str(bad))


def test_empty_corpus_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="empty corpus"):
        vocab.train_vocabulary(["", "  "], tmp_path, vocab_size=60)


def test_whole_pieces_are_one_token_each_at_word_starts(tmp_path):
    import sentencepiece as spm

    titles = ["Movie A", "Movie A and B", "liked"]
    path = vocab.train_vocabulary(CORPUS, tmp_path, vocab_size=60, whole_pieces=titles)
    processor = spm.SentencePieceProcessor(model_file=path)
    for title in titles:
        assert processor.encode(title, out_type=str) == ["\u2581" + title.replace(" ", "\u2581")]
    # The longest symbol wins; inside a word no symbol matches.
    pieces = processor.encode("the user watched Movie A and B", out_type=str)
    assert pieces[-1] == "\u2581Movie\u2581A\u2581and\u2581B"
    assert "\u2581liked" not in processor.encode("unliked", out_type=str)
    assert vocab.whole_piece_symbols(["b  c", "a", "a", " "]) == ["\u2581a", "\u2581b\u2581c"]


def test_cache_key_covers_the_whole_pieces(tmp_path):
    plain = vocab.vocabulary_for_dataset(CORPUS, tmp_path, "ml100k-abc", 60)
    titled = vocab.vocabulary_for_dataset(
        CORPUS, tmp_path, "ml100k-abc", 60, whole_pieces=["Movie A"]
    )
    other = vocab.vocabulary_for_dataset(CORPUS, tmp_path, "ml100k-abc", 60, whole_pieces=["B"])
    assert len({plain, titled, other}) == 3


def test_bpe_model_type_trains_keeps_whole_pieces_and_has_its_own_cache_path(tmp_path):
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    unigram = vocab.vocabulary_for_dataset(CORPUS, tmp_path, "ml100k-abc", 60)
    bpe = vocab.vocabulary_for_dataset(
        CORPUS, tmp_path, "ml100k-abc", 60, whole_pieces=["Movie A"], model_type="bpe"
    )
    assert unigram != bpe
    assert unigram == vocab.vocabulary_cache_path(tmp_path, "ml100k-abc", 60)  # unchanged path
    proto = sentencepiece_model_pb2.ModelProto()
    with open(bpe, "rb") as handle:
        proto.ParseFromString(handle.read())
    assert proto.trainer_spec.model_type == sentencepiece_model_pb2.TrainerSpec.BPE
    processor = spm.SentencePieceProcessor(model_file=bpe)
    assert processor.encode("Movie A", out_type=str) == ["\u2581Movie\u2581A"]
    assert [processor.id_to_piece(i) for i in range(3)] == ["<pad>", "</s>", "<unk>"]


def test_unknown_model_type_is_rejected_before_training(tmp_path):
    with pytest.raises(ValueError, match=r"model_type must be one of \('unigram', 'bpe'\)"):
        vocab.train_vocabulary(CORPUS, tmp_path, vocab_size=60, model_type="char")
    assert not list(tmp_path.iterdir())
