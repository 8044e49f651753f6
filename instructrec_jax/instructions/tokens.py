"""Token counting for the input budget (Flan-T5 reads at most 512 tokens by default)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens a text becomes. ``name`` is written to the manifest."""

    name: str

    def count(self, text: str) -> int:
        """Number of tokens of ``text``."""
        ...


class WhitespaceCounter:
    """Counts whitespace-separated words: a fast lower bound of SentencePiece counts."""

    name = "whitespace"

    def count(self, text: str) -> int:
        """Number of whitespace-separated words."""
        return len(text.split())


def counter_name(counter: object) -> str:
    """The counter's ``name`` attribute, else its class name (for the manifest)."""
    return str(getattr(counter, "name", type(counter).__name__))


class NamedCounter:
    """Gives any object with ``count`` a manifest ``name`` (e.g. ``sentencepiece:<path>``)."""

    def __init__(self, name: str, counter: object) -> None:
        self.name = name
        self._counter = counter

    def count(self, text: str) -> int:
        """Delegates to the wrapped counter."""
        return int(self._counter.count(text))  # type: ignore[attr-defined]
