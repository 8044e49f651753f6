"""``SASRecScorer``: a trained SASRec that scores candidate lists and the whole catalog.

Trained on every user's ``items[:-2]`` (never on a validation or test target), checked on
the validation split with the shared ranking metrics (1 positive + the dataset's fixed
negatives), and the parameters of the best check are kept; the same parameters then score
the test split, whose histories include the validation item. Training, scoring,
``top_items`` and saving are :class:`EmbeddingScorer`'s; saved as ``sasrec_params.msgpack``,
``sasrec.json`` and ``interacted.json``.
"""

from __future__ import annotations

from instructrec_jax.evaluation.baselines.embedding_scorer import INTERACTED_FILE
from instructrec_jax.evaluation.baselines.sasrec_config import SASRecConfig
from instructrec_jax.evaluation.baselines.sasrec_model import SASRec
from instructrec_jax.evaluation.baselines.sequential_scorer import SequentialScorer

PARAMS_FILE = "sasrec_params.msgpack"
META_FILE = "sasrec.json"
__all__ = ["INTERACTED_FILE", "META_FILE", "PARAMS_FILE", "SASRecScorer"]


class SASRecScorer(SequentialScorer):
    """Scores candidates by SASRec's dot product between the history state and each item.

    ``config`` is resolved (``max_length`` set).
    """

    name = "sasrec"
    display_name = "SASRec"
    config_class = SASRecConfig
    model_class = SASRec
    config: SASRecConfig
