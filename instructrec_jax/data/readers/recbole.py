"""Reader for RecBole atomic files (``NAME.inter`` + ``NAME.item``), without RecBole.

Atomic files are tab-separated with a typed header, e.g.::

    user_id:token   item_id:token   rating:float    timestamp:float
    item_id:token   movie_title:token_seq   release_year:token  class:token_seq

``token_seq`` values are space-separated sequences. The ``.inter`` file needs user,
item and timestamp columns; the ``.item`` file needs a title column (found among
``TITLE_FIELDS`` unless named). Categories come from ``CATEGORY_FIELDS`` (a
``token_seq`` column is split on spaces, as RecBole does), attributes from
``ATTRIBUTE_FIELDS``. The ``.inter`` file is streamed; the catalog is read at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from instructrec_jax.data.errors import DataFormatError
from instructrec_jax.data.readers.lines import (
    BadLinePolicy,
    CatalogAndStreamReader,
    file_sha256,
    iter_lines,
)
from instructrec_jax.data.types import Interaction, Item

TITLE_FIELDS = ("title", "movie_title", "item_name", "name", "book_title")
CATEGORY_FIELDS = ("genre", "class", "categories", "category", "genres")
# atomic field name -> Item.attributes key
ATTRIBUTE_FIELDS = {
    "release_year": "year",
    "year": "year",
    "brand": "brand",
    "price": "price",
    "description": "description",
}
FIELD_TYPES = ("token", "token_seq", "float", "float_seq")


def parse_header(path: Path, line: str) -> tuple[list[str], list[str]]:
    """Split a typed header into (field names, field types); a bad header names the file."""
    names, types = [], []
    for column in line.split("\t"):
        name, sep, field_type = column.strip().partition(":")
        if not sep or not name or field_type not in FIELD_TYPES:
            reason = f"header column {column!r} is not NAME:TYPE with TYPE in {FIELD_TYPES}"
            raise DataFormatError(str(path), 1, reason)
        names.append(name)
        types.append(field_type)
    return names, types


def iter_atomic_rows(path: Path, policy: BadLinePolicy) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, {field name: raw value}) for each data row of an atomic file.

    Rows with a wrong number of columns go to ``policy``.
    """
    rows = iter_lines(path, policy)
    first = next(rows, None)
    if first is None:
        raise DataFormatError(str(path), 1, "empty file: no header")
    names, _ = parse_header(path, first[1])
    for line_number, line in rows:
        values = line.split("\t")
        if len(values) != len(names):
            policy.reject(
                path, line_number, f"expected {len(names)} tab-separated fields, got {len(values)}"
            )
            continue
        yield line_number, dict(zip(names, values))


def header_names(path: Path) -> list[str]:
    """Field names of an atomic file's header."""
    first = next(iter_lines(path, BadLinePolicy()), None)
    if first is None:
        raise DataFormatError(str(path), 1, "empty file: no header")
    return parse_header(path, first[1])[0]


def _pick_field(path: Path, names: list[str], requested: str | None, candidates: tuple) -> str:
    if requested is not None:
        if requested not in names:
            raise DataFormatError(str(path), 1, f"no field {requested!r} in header {names}")
        return requested
    for candidate in candidates:
        if candidate in names:
            return candidate
    raise DataFormatError(str(path), 1, f"no field among {list(candidates)} in header {names}")


class RecBoleReader(CatalogAndStreamReader):
    """Reads ``<path>.inter`` and ``<path>.item`` (``path`` = ``DIR/NAME``).

    Args:
      path: the dataset prefix, e.g. ``~/data/ml-1m/ml-1m``.
      name: dataset name (default ``recbole-<NAME>``).
      title_field: title column of ``.item`` (default: first of ``TITLE_FIELDS``).
      category_field: category column (default: first of ``CATEGORY_FIELDS``, optional).
      user_field, item_field, time_field, rating_field: ``.inter`` columns.
      skip_bad_lines: count malformed lines instead of raising.
    """

    def __init__(
        self,
        path: str | Path,
        name: str | None = None,
        title_field: str | None = None,
        category_field: str | None = None,
        user_field: str = "user_id",
        item_field: str = "item_id",
        time_field: str = "timestamp",
        rating_field: str = "rating",
        skip_bad_lines: bool = False,
    ) -> None:
        prefix = Path(path).expanduser()
        self.inter_path = prefix.with_name(prefix.name + ".inter")
        self.item_path = prefix.with_name(prefix.name + ".item")
        for required in (self.inter_path, self.item_path):
            if not required.is_file():
                raise FileNotFoundError(f"{required}: RecBole atomic file not found")
        self.name = name or f"recbole-{prefix.name}"
        self.title_field = title_field
        self.category_field = category_field
        self.inter_fields = (user_field, item_field, time_field, rating_field)
        self.policy = BadLinePolicy(skip_bad_lines)

    def source_digest(self) -> str:
        """SHA-256 over both files' hashes and the field choices."""
        payload = [file_sha256(self.inter_path), file_sha256(self.item_path)]
        payload += [self.title_field, self.category_field, *self.inter_fields]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()

    def read_catalog(self) -> dict[str, Item]:
        """All items of the ``.item`` file (first row wins for a repeated id)."""
        names = header_names(self.item_path)
        item_field = _pick_field(self.item_path, names, self.inter_fields[1], ())
        title_field = _pick_field(self.item_path, names, self.title_field, TITLE_FIELDS)
        category_field = None
        if self.category_field is not None or any(c in names for c in CATEGORY_FIELDS):
            category_field = _pick_field(
                self.item_path, names, self.category_field, CATEGORY_FIELDS
            )
        catalog: dict[str, Item] = {}
        for _, row in iter_atomic_rows(self.item_path, self.policy):
            item_id = row[item_field].strip()
            if not item_id or item_id in catalog:
                continue
            categories = tuple(row[category_field].split()) if category_field else ()
            attributes = {
                key: row[field].strip()
                for field, key in ATTRIBUTE_FIELDS.items()
                if field in row and row[field].strip()
            }
            catalog[item_id] = Item(item_id, row[title_field], categories, attributes)
        return catalog

    def iter_interactions(self) -> Iterator[Interaction]:
        """Stream the ``.inter`` file; bad ids or numbers go to the bad-line policy."""
        user_field, item_field, time_field, rating_field = self.inter_fields
        names = header_names(self.inter_path)
        for field in (user_field, item_field, time_field):
            _pick_field(self.inter_path, names, field, ())
        has_rating = rating_field in names
        for line_number, row in iter_atomic_rows(self.inter_path, self.policy):
            user_id, item_id = row[user_field].strip(), row[item_field].strip()
            try:
                timestamp = int(float(row[time_field]))
                rating = float(row[rating_field]) if has_rating and row[rating_field] else None
            except (ValueError, OverflowError) as error:  # OverflowError: inf
                self.policy.reject(self.inter_path, line_number, f"bad number: {error}")
                continue
            if not user_id or not item_id:
                self.policy.reject(self.inter_path, line_number, "empty user or item id")
                continue
            yield Interaction(user_id, item_id, timestamp, rating)
