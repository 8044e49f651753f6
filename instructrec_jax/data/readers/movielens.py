"""MovieLens-100K, taken from the ``recbole==1.2.1`` wheel on PyPI (RecBole not installed).

``fetch_ml100k`` runs ``python -m pip download --no-deps recbole==1.2.1`` into a temporary
folder, extracts only ``recbole/dataset_example/ml-100k/ml-100k.{inter,item,user}``,
checks each file against a pinned SHA-256 and moves it into
``<data dir>/raw/ml-100k/`` with an atomic rename, so a crash mid-download never leaves a
partial file under the final name. The files are then read by ``RecBoleReader``.

Raw counts: 943 users, 1,682 items, 100,000 ratings; after the 5-core filter 943 users
and 1,349 items remain. Item 267's title is the placeholder "unkonwn"; it has 9 ratings
and is kept as is, because the published 1,349 count includes it. Some films are
listed twice under two ids with the same title; negatives never share a title with an
item the user interacted with (see ``instructrec_jax.data.negatives``). Titles keep
RecBole's text except that a trailing article is moved to the front ("Usual Suspects,
The" -> "The Usual Suspects"); genres become category labels and the release year the
``year`` attribute.

Timestamp ties: about 76% of ml-100k ratings share their (user, timestamp) with another
rating of the same user (users rated in bursts), so the ordering of tied ratings decides
many validation and test targets. The order is a seeded hash of (seed, user, item), never
the item id (see ``instructrec_jax.data.ordering``); ``stats["tied_interaction_fraction"]``
reports the share after filtering.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from instructrec_jax.data.paths import data_dir
from instructrec_jax.data.readers.lines import file_sha256
from instructrec_jax.data.readers.recbole import RecBoleReader
from instructrec_jax.data.types import RawDataset

RECBOLE_VERSION = "1.2.1"
WHEEL_MEMBER_DIR = "recbole/dataset_example/ml-100k/"
ML100K_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$"
)


def readable_title(title: str) -> str:
    """Move MovieLens' trailing article to the front: "Birdcage, The" -> "The Birdcage"."""
    match = _TRAILING_ARTICLE.match(title.strip())
    if not match:
        return title
    article = match["article"]
    separator = "" if article.endswith("'") else " "
    return f"{article}{separator}{match['body']}"


def _files_present(folder: Path) -> bool:
    return all(
        (folder / name).is_file() and file_sha256(folder / name) == digest
        for name, digest in ML100K_SHA256.items()
    )


def _download_wheel(into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
    command += [f"recbole=={RECBOLE_VERSION}", "-d", str(into)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob(f"recbole-{RECBOLE_VERSION}-*.whl"))
    if result.returncode != 0 or not wheels:
        raise RuntimeError(
            f"`{' '.join(command)}` failed (exit {result.returncode}): {result.stderr.strip()}"
        )
    return wheels[0]


def fetch_ml100k(cache_dir: str | Path | None = None) -> Path:
    """Make sure the three verified ml-100k files exist; returns their folder.

    Args:
      cache_dir: data root (default ``$INSTRUCTREC_DATA_DIR`` or ``~/.cache/instructrec``).
    """
    folder = data_dir(cache_dir) / "raw" / "ml-100k"
    if _files_present(folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as temporary:
        wheel = _download_wheel(Path(temporary))
        with zipfile.ZipFile(wheel) as archive:
            for name, expected in ML100K_SHA256.items():
                content = archive.read(WHEEL_MEMBER_DIR + name)
                actual = hashlib.sha256(content).hexdigest()
                if actual != expected:
                    raise RuntimeError(f"{wheel}!{name}: sha256 {actual}, expected {expected}")
                staged = Path(temporary) / name
                staged.write_bytes(content)
                os.replace(staged, folder / name)
    return folder


class MovieLens100KReader:
    """The ``ml-100k`` raw dataset (fetched on first ``read``)."""

    name = "ml-100k"

    def __init__(self, cache_dir: str | Path | None = None, skip_bad_lines: bool = False) -> None:
        self.cache_dir = cache_dir
        self.skip_bad_lines = skip_bad_lines

    def source_digest(self) -> str:
        """Digest of the pinned file hashes: known without downloading anything."""
        payload = json.dumps(["recbole", RECBOLE_VERSION, ML100K_SHA256], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def read(self) -> RawDataset:
        """Fetch (if needed) and read the files; titles made readable."""
        folder = fetch_ml100k(self.cache_dir)
        reader = RecBoleReader(
            folder / "ml-100k",
            name=self.name,
            title_field="movie_title",
            category_field="class",
            skip_bad_lines=self.skip_bad_lines,
        )
        raw = reader.read()
        items = {
            item_id: dataclasses.replace(item, title=readable_title(item.title))
            for item_id, item in raw.items.items()
        }
        return dataclasses.replace(raw, items=items, source_digest=self.source_digest())
