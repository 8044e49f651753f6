"""Where the data layer caches raw downloads and processed datasets."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "INSTRUCTREC_DATA_DIR"
DEFAULT_DATA_DIR = Path("~/.cache/instructrec")


def data_dir(override: str | Path | None = None) -> Path:
    """``override`` if given, else ``$INSTRUCTREC_DATA_DIR``, else ``~/.cache/instructrec``."""
    chosen = override or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()
