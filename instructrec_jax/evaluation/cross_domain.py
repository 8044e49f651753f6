"""The cross-domain protocol: a model trained on dataset A, evaluated zero-shot on B.

The paper trains on Games and tests on CDs (Table 6, last block), beside the untuned
Flan-T5. Here it is an ordinary evaluation job whose ``DATASET`` is the target B while
``CHECKPOINT_PATH`` *and* ``VOCABULARY`` are the source A's: the model only knows A's
SentencePiece pieces, so B's instructions and titles are tokenized with A's vocabulary
(B's own vocabulary would map ids to pieces the model never saw). Nothing is rebuilt
from B. :func:`vocabulary_coverage` measures how well A's pieces cover B's titles (the
share of unknown pieces), written to the report as a diagnostic. The untuned model is a
``zero_shot_checkpoints`` row scored on the very same target candidates
(``gin/runs/cross_domain.gin``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol


class UnknownAwareTokenizer(Protocol):
    """A tokenizer with an unknown-piece id (``seqio.SentencePieceVocabulary``)."""

    @property
    def unk_id(self) -> int | None:
        """Id of the unknown piece."""
        ...

    def encode(self, s: str) -> Sequence[int]:
        """Token ids of ``s``."""
        ...


def vocabulary_coverage(texts: Iterable[str], tokenizer: UnknownAwareTokenizer) -> dict[str, float]:
    """Pieces and unknown pieces of ``texts`` under ``tokenizer``.

    Returns:
      ``{"texts", "pieces", "unknown_pieces", "unknown_share"}`` (share in [0, 1]).
    """
    unk = tokenizer.unk_id
    count = pieces = unknown = 0
    for text in texts:
        ids = list(tokenizer.encode(text))
        count += 1
        pieces += len(ids)
        unknown += sum(1 for i in ids if i == unk)
    return {
        "texts": count,
        "pieces": pieces,
        "unknown_pieces": unknown,
        "unknown_share": unknown / pieces if pieces else 0.0,
    }


def cross_domain_name(base: str, source_dataset: str | None) -> str:
    """The row name of a model trained on ``source_dataset`` (unchanged when None)."""
    return f"{base} (trained on {source_dataset})" if source_dataset else base
