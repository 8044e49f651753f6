"""Streaming line readers with one policy for malformed lines (raise, or skip and count)."""

from __future__ import annotations

import abc
import dataclasses
import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Generic, TypeVar

from instructrec_jax.data.errors import DataFormatError
from instructrec_jax.data.types import Interaction, Item, RawDataset

_CHUNK_BYTES = 1 << 20

T = TypeVar("T")


@dataclasses.dataclass
class BadLinePolicy:
    """What to do with a malformed line.

    Attributes:
      skip_bad_lines: False raises ``DataFormatError`` naming file and line; True counts it.
      counts: skipped lines per file path (shared with ``RawDataset.bad_lines``).
    """

    skip_bad_lines: bool = False
    counts: MutableMapping[str, int] = dataclasses.field(default_factory=dict)

    def reject(self, path: Path, line_number: int, reason: str) -> None:
        """Raise, or count the line as skipped."""
        if not self.skip_bad_lines:
            raise DataFormatError(str(path), line_number, reason)
        self.counts[str(path)] = self.counts.get(str(path), 0) + 1


def iter_lines(path: Path, policy: BadLinePolicy) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) of a text file, streaming.

    ``.gz`` files are decompressed on the fly; a UTF-8 byte-order mark at the start of the
    file is dropped. A line that is not UTF-8 goes to
    ``policy``; a truncated or corrupt gzip stream is always an error (nothing after it
    can be read) naming the file and the line where it stopped. Blank lines are skipped.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    line_number = 0
    try:
        with opener(path, "rb") as handle:
            for line_number, raw_line in enumerate(handle, start=1):
                try:
                    # A byte-order mark (editors on Windows write one) is not data.
                    encoding = "utf-8-sig" if line_number == 1 else "utf-8"
                    line = raw_line.decode(encoding).rstrip("\r\n")
                except UnicodeDecodeError as error:
                    policy.reject(path, line_number, f"not UTF-8: {error}")
                    continue
                if line.strip():
                    yield line_number, line
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataFormatError(
            str(path), line_number + 1, f"corrupt or truncated gzip data: {error}"
        ) from error


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()


class ReiterableStream(Generic[T]):
    """An iterable that calls a generator function anew on each ``iter()``, so a raw
    dataset's interactions can be streamed more than once (bad-line counts add up)."""

    def __init__(self, make_iterator: Callable[[], Iterator[T]]) -> None:
        self._make_iterator = make_iterator

    def __iter__(self) -> Iterator[T]:
        return self._make_iterator()


class CatalogAndStreamReader(abc.ABC):
    """Base of readers that read the catalog at once and stream the interactions.

    Subclasses set ``name`` and ``policy`` and implement the three methods below; ``read``
    is shared.
    """

    name: str
    policy: BadLinePolicy

    @abc.abstractmethod
    def source_digest(self) -> str:
        """Identifies the raw inputs (for cache fingerprints)."""

    @abc.abstractmethod
    def read_catalog(self) -> dict[str, Item]:
        """Item id -> item, read now."""

    @abc.abstractmethod
    def iter_interactions(self) -> Iterator[Interaction]:
        """One pass over the interactions, streaming."""

    def read(self) -> RawDataset:
        """The catalog (read now) and a re-iterable, streaming interaction source."""
        return RawDataset(
            name=self.name,
            items=self.read_catalog(),
            interactions=ReiterableStream(self.iter_interactions),
            source_digest=self.source_digest(),
            bad_lines=self.policy.counts,
        )
