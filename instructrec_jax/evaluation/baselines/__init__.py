"""Recommendation baselines scored on exactly the candidates InstructRec ranks.

Every baseline implements ``instructrec_jax.evaluation.scorer.CandidateScorer``: a
``name`` and ``score(examples) -> float array [num_examples, num_candidates]`` whose column
j scores ``examples[i].candidates[j]`` (positive first). The evaluation code feeds the
same ``EvalExample``s to InstructRec and to these, so the numbers are comparable.

- ``RandomScorer(seed)``: seeded uniform scores (a chance reference).
- ``PopularityScorer.fit(dataset)``: training-part interaction counts, seeded tie-breaks.
- ``SASRecScorer.fit(dataset, SASRecConfig(), seed)``: SASRec (Kang & McAuley 2018) in
  flax, trained on the training parts, early-stopped on the validation split; also
  ``top_items`` (full-catalog top-k, for hard negatives) and ``save``/``load``.
- ``GRU4RecScorer.fit(dataset, GRU4RecConfig(), seed)``: GRU4Rec (Hidasi et al. 2016) with
  RecBole's defaults, the same training data, early stopping, ``top_items`` and files.
- ``BERT4RecScorer.fit(dataset, BERT4RecConfig(), seed)``: BERT4Rec (Sun et al. 2019), Cloze
  objective, RecBole's defaults.
- ``BPRScorer.fit(dataset, BPRConfig(), seed)``: BPR-MF (Rendle et al. 2009), one sampled
  negative per positive.
- ``TEMScorer.fit(dataset, TEMConfig(), seed, vocabulary=path)``: TEM (Bi et al. 2020) for
  personalized search and ``DSSMScorer`` (Huang et al. 2013), a two-tower text model for
  product search (also a hard-negative retriever); both read the instructions' queries
  through the project's SentencePiece vocabulary and score per instruction type
  (``for_instruction_type``).
- ``make_baseline(name, dataset, seed, **kwargs)``: any of the above by name.

Adding your own baseline: write a class with a ``name`` attribute and a ``score`` method
following the contract above (the metrics rank ties pessimistically, so break ties
yourself if your scores can tie), then register a factory so the evaluation entry point
can build it by name::

    class LastCategoryScorer:
        name = "last-category"

        def __init__(self, catalog):
            self.catalog = catalog

        def score(self, examples):
            rows = []
            for example in examples:
                liked = set(self.catalog[example.history[-1]].categories)
                rows.append([len(liked & set(self.catalog[c].categories))
                             for c in example.candidates])
            return np.asarray(rows, dtype=np.float64)

    register_baseline("last-category", lambda dataset, seed: LastCategoryScorer(dataset.catalog))
    scorer = make_baseline("last-category", dataset, seed=0)
"""

from instructrec_jax.evaluation.baselines.bert4rec import BERT4RecConfig, BERT4RecScorer
from instructrec_jax.evaluation.baselines.bpr import BPRConfig, BPRScorer
from instructrec_jax.evaluation.baselines.dssm import DSSMConfig, DSSMScorer
from instructrec_jax.evaluation.baselines.embedding_scorer import EmbeddingScorer
from instructrec_jax.evaluation.baselines.gru4rec import GRU4RecConfig, GRU4RecScorer
from instructrec_jax.evaluation.baselines.item_index import ItemIndex
from instructrec_jax.evaluation.baselines.popularity import PopularityScorer
from instructrec_jax.evaluation.baselines.random_scorer import RandomScorer
from instructrec_jax.evaluation.baselines.registry import (
    baseline_names,
    make_baseline,
    register_baseline,
    trained_class,
)
from instructrec_jax.evaluation.baselines.sasrec import SASRecScorer
from instructrec_jax.evaluation.baselines.sasrec_config import SASRecConfig
from instructrec_jax.evaluation.baselines.tem import TEMConfig, TEMScorer
from instructrec_jax.evaluation.baselines.training_config import TrainingConfig

__all__ = [
    "BERT4RecConfig",
    "BERT4RecScorer",
    "BPRConfig",
    "BPRScorer",
    "DSSMConfig",
    "DSSMScorer",
    "EmbeddingScorer",
    "GRU4RecConfig",
    "GRU4RecScorer",
    "ItemIndex",
    "PopularityScorer",
    "RandomScorer",
    "SASRecConfig",
    "SASRecScorer",
    "TEMConfig",
    "TEMScorer",
    "TrainingConfig",
    "baseline_names",
    "make_baseline",
    "register_baseline",
    "trained_class",
]
