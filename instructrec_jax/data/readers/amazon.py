"""Amazon Review Data 2018 (Ni, Li, McAuley) from files the user downloaded.

Expected in ``manual_dir`` for a category such as ``Video_Games``:

- reviews: ``Video_Games_5.json.gz`` (the 5-core file, preferred, as the paper's counts
  suggest) or ``Video_Games.json.gz`` (all reviews); one JSON object per line with
  ``reviewerID``, ``asin``, ``unixReviewTime`` (or ``reviewTime`` "MM D, YYYY"), and
  optional ``overall``, ``summary``, ``reviewText``, ``verified``, ``style``, ``vote``,
  ``image``, ``reviewerName``;
- metadata: ``meta_Video_Games.json.gz``; one JSON object per line with ``asin`` and
  optional ``title``, ``category`` (list, coarse to fine), ``brand``, ``price``,
  ``description`` (list of paragraphs), ...

Both files are streamed line by line through gzip. The review text kept per (user, item)
is "summary. reviewText" (the teacher extracts intentions from it). A line that is not
a JSON object or lacks a required field is an error naming file and line, or is counted
with ``skip_bad_lines``. Items without a title are kept here and dropped by ``prepare``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from instructrec_jax.data.readers.lines import (
    BadLinePolicy,
    CatalogAndStreamReader,
    file_sha256,
    iter_lines,
)
from instructrec_jax.data.types import Interaction, Item

T = TypeVar("T")

REVIEW_CHOICES = ("auto", "5core", "full")
DESCRIPTION_MAX_CHARS = 1000


class BadRecord(ValueError):
    """A JSON line that parses but lacks a usable required field."""


def review_file_candidates(manual_dir: Path, category: str, reviews: str) -> list[Path]:
    """Review files to try, in order, for a ``reviews`` choice (auto: 5-core first)."""
    if reviews not in REVIEW_CHOICES:
        raise ValueError(f"reviews must be one of {REVIEW_CHOICES}, got {reviews!r}")
    five_core = manual_dir / f"{category}_5.json.gz"
    full = manual_dir / f"{category}.json.gz"
    return {"auto": [five_core, full], "5core": [five_core], "full": [full]}[reviews]


def _text_field(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if isinstance(value, list):
        value = " ".join(str(part) for part in value if part)
    return str(value).strip() if value is not None else ""


def parse_meta(record: dict[str, Any]) -> Item:
    """One metadata object -> ``Item`` (raw title, possibly empty)."""
    asin = record.get("asin")
    if not isinstance(asin, str) or not asin:
        raise BadRecord("missing 'asin'")
    categories = record.get("category") or []
    if not isinstance(categories, list):
        raise BadRecord(f"'category' must be a list, got {type(categories).__name__}")
    attributes = {}
    for key in ("brand", "price", "description"):
        text = _text_field(record, key)
        if text:
            attributes[key] = text[:DESCRIPTION_MAX_CHARS]
    return Item(asin, _text_field(record, "title"), tuple(str(c) for c in categories), attributes)


def review_timestamp(record: dict[str, Any]) -> int:
    """``unixReviewTime`` in seconds, else ``reviewTime`` ("MM D, YYYY") at 00:00 UTC."""
    if record.get("unixReviewTime") is not None:
        try:
            return int(record["unixReviewTime"])
        except (TypeError, ValueError, OverflowError) as error:  # OverflowError: Infinity
            raise BadRecord(f"bad 'unixReviewTime': {record['unixReviewTime']!r}") from error
    if isinstance(record.get("reviewTime"), str):
        try:
            day = datetime.datetime.strptime(record["reviewTime"].strip(), "%m %d, %Y")
        except ValueError as error:
            raise BadRecord(f"bad 'reviewTime': {record['reviewTime']!r}") from error
        return int(day.replace(tzinfo=datetime.timezone.utc).timestamp())
    raise BadRecord("missing 'unixReviewTime' and 'reviewTime'")


def review_text(record: dict[str, Any]) -> str | None:
    """ "summary. reviewText" (either part may be missing); ``None`` when both are."""
    summary = _text_field(record, "summary")
    body = _text_field(record, "reviewText")
    if summary and body:
        joiner = " " if summary[-1] in ".!?" else ". "
        return f"{summary}{joiner}{body}"
    return summary or body or None


def parse_review(record: dict[str, Any]) -> Interaction:
    """One review object -> ``Interaction``."""
    user_id, item_id = record.get("reviewerID"), record.get("asin")
    if not isinstance(user_id, str) or not user_id:
        raise BadRecord("missing 'reviewerID'")
    if not isinstance(item_id, str) or not item_id:
        raise BadRecord("missing 'asin'")
    rating = record.get("overall")
    try:
        rating = float(rating) if rating is not None else None
    except (TypeError, ValueError) as error:
        raise BadRecord(f"bad 'overall': {rating!r}") from error
    return Interaction(user_id, item_id, review_timestamp(record), rating, review_text(record))


class AmazonReader(CatalogAndStreamReader):
    """Reads one category of Amazon Review Data 2018 from ``manual_dir``.

    Args:
      category: file-name form of the category, e.g. ``Video_Games``, ``CDs_and_Vinyl``.
      manual_dir: folder holding the downloaded ``.json.gz`` files.
      reviews: ``auto`` (5-core file if present, else all reviews), ``5core`` or ``full``.
      skip_bad_lines: count malformed lines instead of raising.
    """

    def __init__(
        self,
        category: str,
        manual_dir: str | Path,
        reviews: str = "auto",
        skip_bad_lines: bool = False,
    ) -> None:
        folder = Path(manual_dir).expanduser()
        candidates = review_file_candidates(folder, category, reviews)
        found = [path for path in candidates if path.is_file()]
        if not found:
            names = " or ".join(str(path) for path in candidates)
            raise FileNotFoundError(f"no review file for category {category!r}: expected {names}")
        self.reviews_path = found[0]
        self.meta_path = folder / f"meta_{category}.json.gz"
        if not self.meta_path.is_file():
            raise FileNotFoundError(f"{self.meta_path}: metadata file not found")
        self.name = f"amazon2018-{category}"
        self.policy = BadLinePolicy(skip_bad_lines)

    def source_digest(self) -> str:
        """SHA-256 over both files' hashes and names."""
        payload = [self.reviews_path.name, file_sha256(self.reviews_path)]
        payload += [self.meta_path.name, file_sha256(self.meta_path)]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()

    def _records(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        for line_number, line in iter_lines(path, self.policy):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                self.policy.reject(path, line_number, f"invalid JSON: {error}")
                continue
            if not isinstance(record, dict):
                self.policy.reject(path, line_number, "not a JSON object")
                continue
            yield line_number, record

    def _parsed(self, path: Path, parse: Callable[[dict[str, Any]], T]) -> Iterator[T]:
        """``parse(record)`` of each JSON object in ``path``; a record it rejects with
        :class:`BadRecord` goes to the bad-line policy."""
        for line_number, record in self._records(path):
            try:
                yield parse(record)
            except BadRecord as error:
                self.policy.reject(path, line_number, str(error))

    def read_catalog(self) -> dict[str, Item]:
        """Every metadata entry (first line wins for a repeated asin)."""
        catalog: dict[str, Item] = {}
        for item in self._parsed(self.meta_path, parse_meta):
            catalog.setdefault(item.item_id, item)
        return catalog

    def iter_interactions(self) -> Iterator[Interaction]:
        """Stream the review file."""
        return self._parsed(self.reviews_path, parse_review)
