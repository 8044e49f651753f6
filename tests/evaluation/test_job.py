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
    from instructrec_jax.checkpoints import loader

    def fake_resolve(path):
        return loader.CheckpointFormat[checkpoint_format], resolved

    monkeypatch.setattr(loader, "resolve_checkpoint", fake_resolve)
    assert job.resolve_checkpoint_dir("/any/model_dir") == step_dir


def test_make_baselines_passes_configs_model_dirs_and_the_vocabulary(monkeypatch, tmp_path):
    from instructrec_jax.evaluation import baselines

    calls = {}

    def record(name, dataset, seed, **kwargs):
        calls[name] = kwargs
        return baselines.RandomScorer(seed)

    monkeypatch.setattr(baselines, "make_baseline", record)
    config = baselines.BERT4RecConfig(max_epochs=3)
    names = ["random", "bert4rec", "dssm"]
    job.make_baselines(names, small_dataset(), 0, tmp_path, {"bert4rec": config}, "spm.model")
    assert calls["random"] == {}
    assert calls["bert4rec"] == {"config": config, "model_dir": str(tmp_path / "bert4rec")}
    assert calls["dssm"] == {"model_dir": str(tmp_path / "dssm"), "vocabulary": "spm.model"}
    with pytest.raises(ValueError, match=r"configs for \['gru4rec'\]"):
        job.make_baselines(["random"], small_dataset(), 0, None, {"gru4rec": config})
