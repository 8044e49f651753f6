"""Title and text cleaning shared by every reader."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]{0,200}>")


def clean_text(text: str | None) -> str:
    """Decode HTML entities (twice, for double-escaped ``&amp;amp;``), drop HTML tags and
    collapse whitespace. Unicode is kept as is. ``None`` becomes ``""``."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(html.unescape(text))
    if "<" in text:
        text = _TAG.sub(" ", text)
    return " ".join(text.split())
