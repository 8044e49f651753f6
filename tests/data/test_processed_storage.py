"""ProcessedDataset save/load round trip and refusal of unknown or corrupt directories."""

from __future__ import annotations

import json

import pytest

from instructrec_jax.data import (
    DataFormatError,
    PrepareConfig,
    load_processed,
    make_synthetic,
    prepare,
)


@pytest.fixture(scope="module")
def dataset():
    return prepare(make_synthetic(60, 90, 5, seed=4), PrepareConfig(k_core=3))


def test_round_trip_is_exact(dataset, tmp_path):
    dataset.save(tmp_path / "ds")
    loaded = load_processed(tmp_path / "ds")
    assert loaded == dataset
    assert list(loaded.sequences) == sorted(loaded.sequences)
    assert list(loaded.train_examples()) == list(dataset.train_examples())
    user = loaded.test[3].user_id
    assert loaded.sample_negatives(user, 5, 1) == dataset.sample_negatives(user, 5, 1)
    files = sorted(p.name for p in (tmp_path / "ds").iterdir())
    assert files == sorted(
        ["manifest.json", "items.jsonl", "sequences.jsonl", "valid.jsonl", "test.jsonl",
         "item_split.jsonl"]
    )  # fmt: skip


def test_a_save_stopped_midway_over_another_dataset_is_refused(dataset, tmp_path, monkeypatch):
    from instructrec_jax.data import storage

    other = prepare(make_synthetic(60, 90, 5, seed=5), PrepareConfig(k_core=3))
    dataset.save(tmp_path / "ds")
    real_write = storage._write_jsonl

    def stop_at_valid(path, rows):
        if path.name == "valid.jsonl":
            raise KeyboardInterrupt
        return real_write(path, rows)

    monkeypatch.setattr(storage, "_write_jsonl", stop_at_valid)
    with pytest.raises(KeyboardInterrupt):
        other.save(tmp_path / "ds")
    # sequences.jsonl is the other dataset's, valid/test the first's: no manifest vouches.
    with pytest.raises(FileNotFoundError, match="no manifest"):
        load_processed(tmp_path / "ds")


def test_unicode_survives(tmp_path):
    raw = make_synthetic(30, 40, 2, seed=0, min_len=5, max_len=8)
    dataset = prepare(raw, PrepareConfig(k_core=1))
    dataset.save(tmp_path)
    loaded = load_processed(tmp_path)
    titles = [item.title for item in loaded.catalog.values()]
    assert any(not title.isascii() for title in titles)
    assert titles == [item.title for item in dataset.catalog.values()]


def test_unknown_format_version_is_refused(dataset, tmp_path):
    dataset.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["format_version"] = 999
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataFormatError, match="format_version 999"):
        load_processed(tmp_path)


def test_corrupt_line_names_file_and_line(dataset, tmp_path):
    dataset.save(tmp_path)
    lines = (tmp_path / "valid.jsonl").read_text().splitlines()
    lines[2] = '{"user_id": "x"'
    (tmp_path / "valid.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"valid\.jsonl:3"):
        load_processed(tmp_path)


def test_missing_manifest_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest"):
        load_processed(tmp_path)
