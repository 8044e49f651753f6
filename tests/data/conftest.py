"""Fixtures of the data tests: tiny raw files in the real Amazon 2018 and RecBole formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

# Five users x six games, each user reviewing five or six of them (survives a 3-core).
AMAZON_USERS = ("A1ALICE", "A2BOB", "A3CAROL", "A4DAVE", "A5ERIN")
AMAZON_ITEMS = ("B000GAME01", "B000GAME02", "B000GAME03", "B000GAME04", "B000GAME05", "B000GAME06")


def amazon_review(user: str, asin: str, unix_time: int, **overrides) -> dict:
    """A review object with every field name of the 2018 files."""
    record = {
        "overall": 5.0,
        "verified": True,
        "reviewTime": "01 2, 2016",
        "reviewerID": user,
        "asin": asin,
        "style": {"Platform:": " PlayStation 4"},
        "reviewerName": f"Name of {user}",
        "reviewText": f"{user} liked {asin}.",
        "summary": "Great game",
        "unixReviewTime": unix_time,
        "vote": "2",
        "image": ["https://example.com/x.jpg"],
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def amazon_meta(asin: str, title: str | None, **overrides) -> dict:
    """A metadata object with the 2018 field names."""
    record = {
        "category": ["Video Games", "PC", "Games"],
        "tech1": "",
        "description": [f"Description of {asin}.", "Second paragraph."],
        "fit": "",
        "title": title,
        "also_buy": ["B000GAME02"],
        "tech2": "",
        "brand": "Acme Games",
        "feature": [],
        "rank": ["12 in Video Games"],
        "also_view": [],
        "main_cat": "Video Games",
        "similar_item": "",
        "date": "",
        "price": "$19.99",
        "asin": asin,
        "imageURL": [],
        "imageURLHighRes": [],
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def write_gzip_lines(path: Path, lines: list) -> Path:
    """Write JSON objects (or raw strings, for malformed lines) as gzip JSON lines."""
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line if isinstance(line, str) else json.dumps(line))
            handle.write("\n")
    return path


def amazon_reviews() -> list[dict]:
    reviews = []
    for u, user in enumerate(AMAZON_USERS):
        for i, asin in enumerate(AMAZON_ITEMS):
            if (u + i) % 6 == 5 and u != 0:  # leave some pairs out
                continue
            reviews.append(amazon_review(user, asin, 1_450_000_000 + 1000 * i + 7 * u))
    # A second review of Alice's last item, a second earlier than her first one: the
    # earliest (this purposeful one) is kept by the dedupe step.
    reviews.append(
        amazon_review("A1ALICE", "B000GAME06", 1_450_004_999, summary="For my son",
                      reviewText="I bought this for my son, he loves racing.")
    )  # fmt: skip
    return reviews


@pytest.fixture
def amazon_dir(tmp_path: Path) -> Path:
    """``Video_Games_5.json.gz`` + ``meta_Video_Games.json.gz`` in the 2018 format."""
    folder = tmp_path / "amazon"
    folder.mkdir()
    write_gzip_lines(folder / "Video_Games_5.json.gz", amazon_reviews())
    metas = [amazon_meta(asin, f"Game {k} &amp; Friends") for k, asin in enumerate(AMAZON_ITEMS)]
    metas[2]["title"] = "Ōkami HD \u2013 Édition  spéciale"
    metas.append(amazon_meta("B000NOTITLE", ""))
    metas.append({"asin": "B000BARE"})  # only the id: every optional field missing
    write_gzip_lines(folder / "meta_Video_Games.json.gz", metas)
    return folder


@pytest.fixture
def recbole_prefix(tmp_path: Path) -> Path:
    """``tiny/tiny.inter`` + ``tiny/tiny.item`` in RecBole's atomic format."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for u in range(6):
        for i in range(6):
            if (u + i) % 5 != 4:
                inter.append(f"{u + 1}\t{i + 10}\t{(u + i) % 5 + 1}\t{880000000.0 + 60 * i}")
    (folder / "tiny.inter").write_text("\n".join(inter) + "\n", encoding="utf-8")
    item = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    titles = ["Toy Story", "Amélie", "Usual Suspects, The", "Heat", "Se7en", "Crumb"]
    for i, title in enumerate(titles):
        item.append(f"{i + 10}\t{title}\t199{i}\tComedy Drama")
    (folder / "tiny.item").write_text("\n".join(item) + "\n", encoding="utf-8")
    return folder / "tiny"
