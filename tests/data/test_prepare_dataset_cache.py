"""load_raw / prepare_dataset by name, and the fingerprinted processed-data cache."""

from __future__ import annotations

import pytest

from instructrec_jax.data import (
    DataFormatError,
    PrepareConfig,
    load_raw,
    make_reader,
    prepare_dataset,
    registry,
)

SMALL = dict(num_users=40, num_items=50, num_categories=4)


def test_cache_is_written_once_and_reloaded(tmp_path, monkeypatch):
    config = PrepareConfig(k_core=3)
    first = prepare_dataset("synthetic", config, cache_dir=tmp_path, **SMALL)
    (entry,) = (tmp_path / "processed").iterdir()
    assert entry.name == f"synthetic-{first.fingerprint}"
    assert (entry / "manifest.json").is_file()

    def must_not_prepare(*args, **kwargs):
        raise AssertionError("the cached result should have been loaded")

    monkeypatch.setattr(registry, "prepare", must_not_prepare)
    again = prepare_dataset("synthetic", config, cache_dir=tmp_path, **SMALL)
    assert again == first


def test_cache_key_follows_config_and_source(tmp_path):
    base = prepare_dataset("synthetic", PrepareConfig(k_core=3), cache_dir=tmp_path, **SMALL)
    other_config = prepare_dataset(
        "synthetic", PrepareConfig(k_core=4), cache_dir=tmp_path, **SMALL
    )
    other_source = prepare_dataset(
        "synthetic", PrepareConfig(k_core=3), cache_dir=tmp_path, **{**SMALL, "seed": 1}
    )
    fingerprints = {base.fingerprint, other_config.fingerprint, other_source.fingerprint}
    assert len(fingerprints) == 3
    assert len(list((tmp_path / "processed").iterdir())) == 3


def test_environment_variable_sets_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTREC_DATA_DIR", str(tmp_path / "env"))
    dataset = prepare_dataset("synthetic", PrepareConfig(k_core=3), **SMALL)
    assert (tmp_path / "env" / "processed" / f"synthetic-{dataset.fingerprint}").is_dir()


def test_recbole_by_name_uses_file_hashes(tmp_path, recbole_prefix):
    config = PrepareConfig(k_core=3, num_negatives=1)
    first = prepare_dataset("recbole", config, cache_dir=tmp_path, path=recbole_prefix)
    inter = recbole_prefix.with_name("tiny.inter")
    inter.write_text(inter.read_text() + "6\t15\t3\t880009999\n")
    changed = prepare_dataset("recbole", config, cache_dir=tmp_path, path=recbole_prefix)
    assert changed.fingerprint != first.fingerprint
    assert changed.stats["raw_interactions"] == first.stats["raw_interactions"] + 1


def test_a_lenient_read_is_cached_apart_from_a_strict_one(tmp_path, recbole_prefix):
    config = PrepareConfig(k_core=3, num_negatives=1)
    inter = recbole_prefix.with_name("tiny.inter")
    inter.write_text(inter.read_text() + "9\t10\t4\tyesterday\n")
    lenient = prepare_dataset(
        "recbole", config, cache_dir=tmp_path, path=recbole_prefix, skip_bad_lines=True
    )
    assert lenient.stats["bad_lines"] == {str(inter): 1}
    with pytest.raises(DataFormatError, match=r"tiny\.inter:31: bad number"):
        prepare_dataset("recbole", config, cache_dir=tmp_path, path=recbole_prefix)


def test_unknown_names_and_arguments_are_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'movies'"):
        load_raw("movies")
    with pytest.raises(TypeError, match="category"):
        make_reader("synthetic", category="Video_Games")
