"""MovieLens-100K: title clean-up, and the real files fetched from PyPI's recbole wheel."""

from __future__ import annotations

import pytest

from instructrec_jax.data import PrepareConfig, prepare
from instructrec_jax.data.readers.lines import file_sha256
from instructrec_jax.data.readers.movielens import (
    ML100K_SHA256,
    MovieLens100KReader,
    fetch_ml100k,
    readable_title,
)


@pytest.mark.parametrize(
    ("raw", "readable"),
    [
        ("Usual Suspects, The", "The Usual Suspects"),
        ("City of Lost Children, The", "The City of Lost Children"),
        ("Truth About Cats & Dogs, The", "The Truth About Cats & Dogs"),
        ("Postino, Il", "Il Postino"),
        ("Toy Story", "Toy Story"),
        ("Ready, Steady, Go", "Ready, Steady, Go"),
    ],
)
def test_readable_title(raw, readable):
    assert readable_title(raw) == readable


@pytest.fixture(scope="session")
def ml100k_dir(tmp_path_factory):
    """The real files, fetched once per session through ``pip download``."""
    return fetch_ml100k(tmp_path_factory.mktemp("instructrec-data"))


def test_real_ml100k_counts(ml100k_dir):
    for name, digest in ML100K_SHA256.items():
        assert file_sha256(ml100k_dir / name) == digest
    cache_dir = ml100k_dir.parent.parent
    raw = MovieLens100KReader(cache_dir=cache_dir).read()
    assert len(raw.items) == 1682
    events = list(raw.interactions)
    assert len(events) == 100_000
    assert len({e.user_id for e in events}) == 943
    assert raw.items["1"].title == "Toy Story"
    assert raw.items["1"].categories == ("Animation", "Children's", "Comedy")
    assert raw.items["1"].attributes == {"year": "1995"}
    dataset = prepare(raw, PrepareConfig())
    assert (dataset.stats["users"], dataset.stats["items"]) == (943, 1349)
    assert 0.74 < dataset.stats["tied_interaction_fraction"] < 0.78  # the documented ~76%


def test_fetch_reuses_verified_files_and_repairs_corrupt_ones(ml100k_dir):
    cache_dir = ml100k_dir.parent.parent
    item_file = ml100k_dir / "ml-100k.item"
    stamp = item_file.stat().st_mtime_ns
    assert fetch_ml100k(cache_dir) == ml100k_dir
    assert item_file.stat().st_mtime_ns == stamp  # verified, not downloaded again
    item_file.write_text("corrupt")
    fetch_ml100k(cache_dir)
    assert file_sha256(item_file) == ML100K_SHA256["ml-100k.item"]
    assert not [p for p in ml100k_dir.iterdir() if p.name.startswith(".")]
