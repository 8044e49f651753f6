import pickle

import pytest

from instructrec_jax.instructions.tokens import (
    NamedCounter,
    SentencePieceFileCounter,
    TokenCounter,
    WhitespaceCounter,
    counter_name,
)


def test_whitespace_counter():
    counter = WhitespaceCounter()
    assert isinstance(counter, TokenCounter)
    assert counter.count("  two\twords\n") == 2
    assert counter_name(counter) == "whitespace"
    assert counter_name(NamedCounter("custom", counter)) == "custom"
    assert NamedCounter("custom", counter).count("a b c") == 3


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    sentencepiece = pytest.importorskip("sentencepiece")
    directory = tmp_path_factory.mktemp("spm")
    sentences = [f"the user liked movie number {i} and wants another one" for i in range(200)]
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_prefix=str(directory / "m"),
        vocab_size=40,
        model_type="unigram",
    )
    return str(directory / "m.model")


def test_sentencepiece_counter_counts_ids_and_pickles_by_path(spm_model):
    counter = SentencePieceFileCounter(spm_model)
    assert counter.name == f"sentencepiece:{spm_model}"
    text = "the user liked movie number 7"
    assert counter.count(text) >= len(text.split())
    clone = pickle.loads(pickle.dumps(counter))
    assert clone.count(text) == counter.count(text)
