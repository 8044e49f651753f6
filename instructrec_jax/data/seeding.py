"""Seeded, platform-independent hashing: the source of every random choice in the data layer.

Python's ``hash`` is salted per process, so it is never used; BLAKE2b of the UTF-8 text
is stable across runs, machines and Python versions.
"""

from __future__ import annotations

import hashlib


def seeded_hash(seed: int, *parts: str) -> int:
    """A 64-bit unsigned integer determined by ``seed`` and the string ``parts``."""
    text = "\x1f".join((str(seed), *parts))
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
