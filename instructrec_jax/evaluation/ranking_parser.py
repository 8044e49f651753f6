"""Map an LLM's free-text ranking answer to the candidates it was shown.

The chat ranker shows candidates labelled ``(A)``, ``(B)``, ... (``render.candidate_label``)
and asks for the labels, best first. Answers vary, so :func:`parse_ranking` tries, in order:

1. labels in parentheses, ``(C) ... (A)``, in order of appearance;
2. per segment (the answer split on newlines, commas, semicolons and ``>``), after removing
   list numbering such as ``1.`` or ``2)``: a bare label (``C``, or ``3`` past 26
   candidates), an exact title (case-insensitive), a title contained in the segment, or
   the closest title by ``difflib`` similarity of at least ``fuzzy_cutoff``.

It returns the shown positions it recognised (duplicates dropped, order kept); an empty
list means the answer was unparseable.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from instructrec_jax.instructions.render import candidate_label

_PARENTHESIZED = re.compile(r"\(([A-Za-z]|\d{1,3})\)")
_SEGMENTS = re.compile(r"[\n,;]+|\s>\s")
_NUMBERING = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*])\s+")


def _labels(count: int) -> dict[str, int]:
    """Label text without parentheses (upper case) -> shown position."""
    return {candidate_label(i, count)[1:-1].upper(): i for i in range(count)}


def _unique(positions: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(positions))


def parse_ranking(answer: str, titles: Sequence[str], fuzzy_cutoff: float = 0.8) -> list[int]:
    """Shown positions (0-based, best first) named by ``answer``; [] when none is.

    Args:
      answer: the model's reply.
      titles: the candidate titles in the order they were shown (labelled A, B, ...).
      fuzzy_cutoff: minimum ``difflib`` ratio for a fuzzy title match, in [0, 1].
    """
    labels = _labels(len(titles))
    named = (labels.get(m.group(1).upper()) for m in _PARENTHESIZED.finditer(answer))
    found = [position for position in named if position is not None]
    if found:
        return _unique(found)
    folded = [title.casefold() for title in titles]
    positions: list[int] = []
    for segment in _SEGMENTS.split(answer):
        text = _NUMBERING.sub("", segment).strip().strip(".\"'*").strip()
        position = _segment_position(text, labels, folded, fuzzy_cutoff)
        if position is not None:
            positions.append(position)
    return _unique(positions)


def _segment_position(
    text: str, labels: dict[str, int], folded: Sequence[str], fuzzy_cutoff: float
) -> int | None:
    """The shown position one answer segment names, or None."""
    if not text:
        return None
    if text.upper() in labels:
        return labels[text.upper()]
    key = text.casefold()
    if key in folded:
        return folded.index(key)
    contained = [i for i, title in enumerate(folded) if title in key]
    if contained:
        return max(contained, key=lambda i: len(folded[i]))  # the most specific title
    close = difflib.get_close_matches(key, folded, n=1, cutoff=fuzzy_cutoff)
    return folded.index(close[0]) if close else None
