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


class SentencePieceFileCounter:
    """Counts SentencePiece ids of a text (no EOS) with a model file, without TensorFlow.

    Same count as ``instructrec_jax.tasks.vocab.SentencePieceCounter`` for the same model.
    Pickles as its path (the processor is reloaded), so worker processes can use it.
    """

    def __init__(self, model_path: str) -> None:
        import sentencepiece

        self.model_path = str(model_path)
        self.name = f"sentencepiece:{self.model_path}"
        self._processor = sentencepiece.SentencePieceProcessor(model_file=self.model_path)

    def count(self, text: str) -> int:
        """Number of SentencePiece ids of ``text``."""
        return len(self._processor.encode(text))

    def __getstate__(self) -> dict[str, str]:
        return {"model_path": self.model_path}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["model_path"])  # type: ignore[misc]
