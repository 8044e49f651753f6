"""Texts -> fixed-width rows of SentencePiece ids, for the text towers of TEM and DSSM.

The vocabulary is the project's SentencePiece model (``tasks.vocab.get_vocabulary``: the
checkpoint's vocabulary in an evaluation job), so the baselines read text as InstructRec
does; no downloaded encoder. Id 0 is padding in the T5 layout; no EOS is appended.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from instructrec_jax.tasks.vocab import PAD_ID, get_vocabulary


class TextTokens:
    """Encodes texts as int32 rows of SentencePiece ids, cut or padded to a width.

    Attributes:
      path: the SentencePiece model file.
      vocab_size: ids of the vocabulary (pieces plus extra ids): the token embedding rows.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        vocabulary = get_vocabulary(path)
        self.path = os.fspath(path)
        self.vocab_size = int(vocabulary.vocab_size)
        self._processor = vocabulary.tokenizer
        self._cache: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int]:
        """SentencePiece ids of ``text`` (no EOS), memoized."""
        ids = self._cache.get(text)
        if ids is None:
            ids = list(self._processor.encode(text))
            self._cache[text] = ids
        return ids

    def encode(self, texts: Sequence[str], width: int) -> np.ndarray:
        """Int32 [len(texts), width]: each text's first ``width`` ids, padded with 0."""
        rows = np.full((len(texts), width), PAD_ID, dtype=np.int32)
        for row, text in enumerate(texts):
            ids = self.ids(text)[:width]
            rows[row, : len(ids)] = ids
        return rows
