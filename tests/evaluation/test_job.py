"""Job builders that need no model: title trie from a catalog, answer token ids."""

from __future__ import annotations

import pytest

from instructrec_jax.evaluation import job
from instructrec_jax.evaluation.instructrec_scorer import answer_token_ids
from tests.evaluation.helpers import small_dataset
from tests.evaluation.test_instructrec_scorer import WordTokenizer


def test_title_trie_holds_every_catalog_title():
    catalog = small_dataset().catalog
    trie = job.make_title_trie(catalog, WordTokenizer(), max_title_tokens=64)
    assert trie.num_titles == len(catalog)
    for item_id, item in list(catalog.items())[:20]:
        tokens = [*WordTokenizer().encode(item.title), 1]
        assert item_id in trie.items_for(tokens)
    short = job.make_title_trie(catalog, WordTokenizer(), max_title_tokens=2)
    assert short.max_length == 2


class LetterTokenizer:
    """One id per character (2 + code point)."""

    def encode(self, s: str) -> list[int]:
        return [2 + ord(c) for c in s]


def test_answer_token_ids():
    assert answer_token_ids(LetterTokenizer()) == [2 + ord("Y"), 2 + ord("N")]
    with pytest.raises(ValueError, match="share"):
        answer_token_ids(LetterTokenizer(), ("Yes", "Yup"))
    with pytest.raises(ValueError, match="no tokens"):
        answer_token_ids(LetterTokenizer(), ("", "No"))


@pytest.mark.parametrize(
    ("checkpoint_format", "resolved", "step_dir"),
    [
        ("TRAINER", "/runs/a/checkpoint_5/state", "/runs/a/checkpoint_5"),
        ("T5X_ORBAX", "gs://b/checkpoint_7/state", "gs://b/checkpoint_7"),
        ("HF", "/hf/flan-t5-small", "/hf/flan-t5-small"),
    ],
)
def test_checkpoint_dir_is_the_step_directory(monkeypatch, checkpoint_format, resolved, step_dir):
    from instructrec_jax import checkpoints

    def fake_resolve(path):
        return checkpoints.CheckpointFormat[checkpoint_format], resolved

    monkeypatch.setattr(checkpoints, "resolve_checkpoint", fake_resolve)
    assert job.resolve_checkpoint_dir("/any/model_dir") == step_dir
