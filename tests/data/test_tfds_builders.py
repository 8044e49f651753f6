"""TFDS builders: built into tmp_path from synthetic and fixture data, read back by name."""

from __future__ import annotations

import pytest

from instructrec_jax.data import PrepareConfig, prepare_dataset
from instructrec_jax.data import tfds_builders as tb

tfds = tb.tfds


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTREC_DATA_DIR", str(tmp_path / "cache"))
    tfds.disable_progress_bar()


def _decode(example):
    return {
        key: [v.decode() for v in value] if hasattr(value, "tolist") else value.decode()
        for key, value in example.items()
    }


def test_synthetic_builder_matches_the_processed_dataset(tmp_path):
    builder = tb.InstructrecSynthetic(config="tiny", data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare()
    config = builder.builder_config
    processed = prepare_dataset("synthetic", config.prepare, **config.source)

    reloaded = tfds.builder("instructrec_synthetic/tiny", data_dir=str(tmp_path / "tfds"))
    assert reloaded.info.metadata["fingerprint"] == processed.fingerprint
    splits = reloaded.info.splits
    assert splits["train"].num_examples == processed.stats["train_examples"]
    assert splits["validation"].num_examples == splits["test"].num_examples == len(processed.test)

    test_rows = {
        row["user_id"]: row
        for row in map(_decode, tfds.as_numpy(reloaded.as_dataset(split="test")))
    }
    for example in processed.test:
        row = test_rows[example.user_id]
        assert row["target"] == example.target
        assert row["history"] == list(example.history)
        assert row["negatives"] == list(example.negatives)
        assert row["target_title"] == processed.catalog[example.target].title
        assert row["negative_titles"] == [processed.catalog[i].title for i in example.negatives]
        assert row["review"] == (example.review or "")
        assert row["target_item_split"] == processed.item_split[example.target]

    train_pairs = sorted(
        (row["user_id"], tuple(row["history"]), row["target"])
        for row in map(_decode, tfds.as_numpy(reloaded.as_dataset(split="train")))
    )
    expected = sorted((e.user_id, e.history, e.target) for e in processed.train_examples())
    assert train_pairs == expected


def test_amazon_and_recbole_builders_read_manual_dir(tmp_path, amazon_dir, recbole_prefix):
    amazon_config = tb.InstructRecConfig(
        name="fixture",
        prepare=PrepareConfig(k_core=4, num_negatives=0),
        source={"category": "Video_Games"},
    )
    amazon = tb.InstructrecAmazon2018(config=amazon_config, data_dir=str(tmp_path / "tfds"))
    amazon.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=amazon_dir))
    rows = list(map(_decode, tfds.as_numpy(amazon.as_dataset(split="test"))))
    assert len(rows) == 5
    alice = next(row for row in rows if row["user_id"] == "A1ALICE")
    assert alice["target"] == "B000GAME06" and "my son" in alice["review"]

    recbole_config = tb.InstructRecConfig(
        name="tiny",
        prepare=PrepareConfig(k_core=3, num_negatives=1),
        source={"dataset_name": recbole_prefix.name},
    )
    recbole = tb.InstructrecRecbole(config=recbole_config, data_dir=str(tmp_path / "tfds"))
    manual = tfds.download.DownloadConfig(manual_dir=recbole_prefix.parent)
    recbole.download_and_prepare(download_config=manual)
    validation = list(map(_decode, tfds.as_numpy(recbole.as_dataset(split="validation"))))
    assert validation and all(len(row["negatives"]) == 1 for row in validation)
