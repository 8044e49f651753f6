"""Amazon Review Data 2018 reader on small gzip JSON-lines fixtures in the real format."""

from __future__ import annotations

import gzip
import shutil

import pytest
from conftest import amazon_meta, amazon_review, amazon_reviews, write_gzip_lines

from instructrec_jax.data import DataFormatError, EmptyDatasetError, PrepareConfig, prepare
from instructrec_jax.data.readers.amazon import AmazonReader


def test_reads_catalog_and_reviews(amazon_dir):
    raw = AmazonReader("Video_Games", amazon_dir).read()
    assert raw.name == "amazon2018-Video_Games"
    assert len(raw.items) == 8
    game = raw.items["B000GAME01"]
    assert game.categories == ("Video Games", "PC", "Games")
    assert game.attributes == {
        "brand": "Acme Games",
        "price": "$19.99",
        "description": "Description of B000GAME01. Second paragraph.",
    }
    bare = raw.items["B000BARE"]
    assert (bare.title, bare.categories, dict(bare.attributes)) == ("", (), {})
    events = list(raw.interactions)
    assert len(events) == len(amazon_reviews())
    first = events[0]
    assert (first.user_id, first.item_id, first.timestamp, first.rating) == (
        "A1ALICE", "B000GAME01", 1_450_000_000, 5.0
    )  # fmt: skip
    assert first.review == "Great game. A1ALICE liked B000GAME01."
    assert list(raw.interactions) == events  # re-iterable stream


def test_prepare_keeps_purpose_review_cleans_titles_and_drops_untitled(amazon_dir):
    raw = AmazonReader("Video_Games", amazon_dir).read()
    dataset = prepare(raw, PrepareConfig(k_core=4, num_negatives=0))
    assert dataset.stats["raw_catalog_items"] == 8 and dataset.stats["items_with_title"] == 6
    assert "B000NOTITLE" not in dataset.catalog and "B000BARE" not in dataset.catalog
    assert dataset.catalog["B000GAME01"].title == "Game 0 & Friends"
    assert dataset.catalog["B000GAME03"].title == "Ōkami HD – Édition spéciale"
    alice = dataset.sequences["A1ALICE"]
    assert alice.item_ids[-1] == "B000GAME06"
    # Of the two reviews of GAME06 the earliest is kept, with its stated purpose.
    assert alice.reviews["B000GAME06"] == "For my son. I bought this for my son, he loves racing."
    assert alice.timestamps[-1] == 1_450_004_999
    assert dataset.stats["raw_interactions"] == dataset.stats["deduped_interactions"] + 1
    test_alice = next(e for e in dataset.test if e.user_id == "A1ALICE")
    assert test_alice.review == alice.reviews["B000GAME06"]


def test_full_reviews_file_and_reviewtime_fallback(tmp_path):
    write_gzip_lines(
        tmp_path / "Toys.json.gz",
        [amazon_review("U1", "I1", None, reviewTime="09 7, 2015", summary=None)],
    )
    write_gzip_lines(tmp_path / "meta_Toys.json.gz", [amazon_meta("I1", "Toy")])
    raw = AmazonReader("Toys", tmp_path).read()
    (event,) = list(raw.interactions)
    assert event.timestamp == 1_441_584_000  # 2015-09-07 00:00 UTC
    assert event.review == "U1 liked I1."
    with pytest.raises(FileNotFoundError, match=r"Toys_5\.json\.gz"):
        AmazonReader("Toys", tmp_path, reviews="5core")


def test_prefers_the_five_core_file(amazon_dir):
    shutil.copy(amazon_dir / "Video_Games_5.json.gz", amazon_dir / "Video_Games.json.gz")
    write_gzip_lines(amazon_dir / "Video_Games.json.gz", [amazon_review("X", "Y", 1)])
    assert AmazonReader("Video_Games", amazon_dir).reviews_path.name == "Video_Games_5.json.gz"
    full = AmazonReader("Video_Games", amazon_dir, reviews="full")
    assert [e.user_id for e in full.read().interactions] == ["X"]


def test_malformed_line_names_file_and_line(amazon_dir):
    reviews = amazon_reviews()
    lines = [*reviews[:3], '{"reviewerID": "A1", "asin": ', *reviews[3:]]
    path = write_gzip_lines(amazon_dir / "Video_Games_5.json.gz", lines)
    raw = AmazonReader("Video_Games", amazon_dir).read()
    with pytest.raises(DataFormatError, match=rf"{path.name}:4: invalid JSON") as caught:
        prepare(raw, PrepareConfig(k_core=4, num_negatives=0))
    assert caught.value.line_number == 4 and caught.value.path == str(path)


def test_missing_required_field_and_skip_bad_lines(amazon_dir):
    reviews = amazon_reviews()
    lines = [*reviews[:2], amazon_review(None, "B000GAME01", 5), "[1, 2]", *reviews[2:]]
    path = write_gzip_lines(amazon_dir / "Video_Games_5.json.gz", lines)
    strict = AmazonReader("Video_Games", amazon_dir).read()
    with pytest.raises(DataFormatError, match=r":3: missing 'reviewerID'"):
        list(strict.interactions)
    lenient = AmazonReader("Video_Games", amazon_dir, skip_bad_lines=True).read()
    dataset = prepare(lenient, PrepareConfig(k_core=4, num_negatives=0))
    assert dataset.stats["bad_lines"] == {str(path): 2}
    assert dataset.stats["raw_interactions"] == len(reviews)


def test_infinite_review_time_is_a_bad_line(amazon_dir):
    reviews = amazon_reviews()
    lines = [*reviews[:2], amazon_review("U_inf", "B000GAME01", float("inf")), *reviews[2:]]
    path = write_gzip_lines(amazon_dir / "Video_Games_5.json.gz", lines)
    with pytest.raises(DataFormatError, match=r":3: bad 'unixReviewTime': inf"):
        list(AmazonReader("Video_Games", amazon_dir).read().interactions)
    lenient = AmazonReader("Video_Games", amazon_dir, skip_bad_lines=True).read()
    assert len(list(lenient.interactions)) == len(reviews)
    assert lenient.bad_lines == {str(path): 1}


def test_bad_meta_line_and_truncated_gzip(amazon_dir):
    meta_path = amazon_dir / "meta_Video_Games.json.gz"
    write_gzip_lines(meta_path, [amazon_meta("A", "a"), amazon_meta("B", "b", category="PC")])
    with pytest.raises(DataFormatError, match=r"meta_Video_Games.json.gz:2: 'category' must"):
        AmazonReader("Video_Games", amazon_dir).read()
    data = gzip.compress(b"".join(b'{"asin": "X%d", "title": "t"}\n' % k for k in range(500)))
    meta_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="truncated"):
        AmazonReader("Video_Games", amazon_dir).read()


def test_empty_after_kcore_names_the_filter(amazon_dir):
    raw = AmazonReader("Video_Games", amazon_dir).read()
    with pytest.raises(EmptyDatasetError, match="5-core"):
        prepare(raw, PrepareConfig(k_core=5))


def test_missing_files_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Games_5.json.gz or .*Games.json.gz"):
        AmazonReader("Games", tmp_path)
    write_gzip_lines(tmp_path / "Games.json.gz", [])
    with pytest.raises(FileNotFoundError, match=r"meta_Games\.json\.gz"):
        AmazonReader("Games", tmp_path)
