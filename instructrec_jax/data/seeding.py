"""Seeded, platform-independent hashing: the source of every random choice in the data layer.

Python's ``hash`` is salted per process, so it is never used; BLAKE2b of the UTF-8 text
is stable across runs, machines and Python versions.
"""

from __future__ import annotations

import hashlib


def seeded_hash(seed: int, *parts: str) -> int:
    """A 64-bit unsigned integer determined by ``seed`` and the string ``parts``."""
    hasher = hashlib.blake2b(digest_size=8)
    hasher.update(str(seed).encode("utf-8"))
    for part in parts:
        hasher.update(b"\x1f")
        hasher.update(part.encode("utf-8"))
    return int.from_bytes(hasher.digest(), "big")
