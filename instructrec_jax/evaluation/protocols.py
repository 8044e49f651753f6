"""Candidate protocols: which candidates each test user gets and how the positive is ranked.

- ``random``: the data layer's fixed list, 1 positive + 9 uniformly sampled negatives
  (the paper's main protocol).
- ``hard``: 1 positive + the top 9 items of a :class:`Retriever` (e.g. the SASRec
  baseline) among items the user never interacted with and that share no title with one
  (the rule of the sampled negatives, ``data.negatives``).
- ``full100``: 1 positive + 99 sampled negatives, all scored in one list (for InstructRec
  one T3 instruction listing 100 titles, which may exceed the input budget and be cut).
- ``grouped100``: the same 100 candidates shuffled (seeded) into 10 groups of 10; each
  group is scored, its best candidate kept, and the 10 winners reranked (the paper's way
  of handling 100 candidates with a 10-candidate instruction).
- ``full_catalog``: no candidate list; top-k over every catalog item (InstructRec by
  constrained generation, SASRec by full ranking), see
  :mod:`instructrec_jax.evaluation.full_catalog`.

In ``grouped100`` a positive that loses its group is given the worst rank (the number of
candidates): the final list only orders the winners, and ties go against the positive
throughout, as in :mod:`instructrec_jax.evaluation.metrics`. HR@k and NDCG@k for k <= 10
do not depend on that choice; MRR does (it is a lower bound).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from instructrec_jax.data.negatives import CatalogNegativeSampler
from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.seeding import seeded_hash
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.candidate_lists import CandidateListScorer, score_lists_checked
from instructrec_jax.evaluation.metrics import positive_ranks

PROTOCOLS: tuple[str, ...] = ("random", "hard", "full100", "grouped100", "full_catalog")


@runtime_checkable
class Retriever(Protocol):
    """Proposes hard negatives: each example's top-k catalog items its user never touched.

    ``top_items(examples, k)`` returns, for every example, ``k`` distinct item ids, best
    first, none of them in the user's sequence (history, validation and test targets).
    ``SASRecScorer`` from the baselines implements it; any function with that signature
    can be wrapped in :class:`FunctionRetriever`.
    """

    name: str

    def top_items(self, examples: Sequence[EvalExample], k: int) -> Sequence[Sequence[str]]:
        """Top-k item ids per example, excluding items the user interacted with."""
        ...


TopItemsFn = Callable[[Sequence[EvalExample], int], Sequence[Sequence[str]]]


@dataclasses.dataclass(frozen=True)
class FunctionRetriever:
    """A :class:`Retriever` from a plain function ``(examples, k) -> top-k ids per example``."""

    name: str
    function: TopItemsFn

    def top_items(self, examples: Sequence[EvalExample], k: int) -> Sequence[Sequence[str]]:
        """Delegates to ``function``."""
        return self.function(examples, k)


def interacted_items(dataset: ProcessedDataset, user_id: str) -> frozenset[str]:
    """Every item in the user's full sequence (history, validation and test targets)."""
    return frozenset(dataset.sequences[user_id].item_ids)


def with_hard_negatives(
    dataset: ProcessedDataset,
    examples: Sequence[EvalExample],
    retriever: Retriever,
    num_negatives: int = 9,
) -> list[EvalExample]:
    """Examples whose negatives are the retriever's top items the user never touched.

    Like sampled negatives, hard negatives never share a title with an item the user
    interacted with (titles are what InstructRec ranks): the retriever is asked for as many
    extra items as the most such same-title items of any example, and those are dropped.

    Raises:
      ValueError: the retriever returned a wrong count, duplicates or an item the user
        interacted with (hard negatives must never be positives in disguise).
    """
    sampler = CatalogNegativeSampler(dataset.catalog)
    interacted = [interacted_items(dataset, example.user_id) for example in examples]
    same_title = [sampler.forbidden(items) - items for items in interacted]
    wanted = num_negatives + max((len(twins) for twins in same_title), default=0)
    proposals = retriever.top_items(examples, wanted)
    if len(proposals) != len(examples):
        raise ValueError(
            f"retriever {retriever.name!r} returned {len(proposals)} lists for "
            f"{len(examples)} examples"
        )
    out = []
    for example, forbidden, twins, items in zip(examples, interacted, same_title, proposals):
        items = tuple(items)
        bad = [item for item in items if item in forbidden]
        if bad or len(set(items)) != wanted or len(items) != wanted:
            raise ValueError(
                f"retriever {retriever.name!r} gave user {example.user_id!r} {items}: need "
                f"{wanted} distinct items outside the user's interactions (bad: {bad})"
            )
        negatives = tuple(item for item in items if item not in twins)[:num_negatives]
        out.append(dataclasses.replace(example, negatives=negatives))
    return out


def with_sampled_negatives(
    dataset: ProcessedDataset,
    examples: Sequence[EvalExample],
    num_negatives: int = 99,
    seed: int = 0,
) -> list[EvalExample]:
    """Examples with ``num_negatives`` fresh uniform negatives (``sample_negatives``)."""
    return [
        dataclasses.replace(
            example, negatives=dataset.sample_negatives(example.user_id, num_negatives, seed)
        )
        for example in examples
    ]


def split_into_groups(example: EvalExample, group_size: int, seed: int) -> list[tuple[str, ...]]:
    """The example's candidates shuffled (seeded per user) and cut into equal groups."""
    candidates = list(example.candidates)
    if len(candidates) % group_size:
        raise ValueError(
            f"user {example.user_id!r}: {len(candidates)} candidates do not split into "
            f"groups of {group_size}"
        )
    random.Random(seeded_hash(seed, "groups", example.split, example.user_id)).shuffle(candidates)
    return [tuple(candidates[i : i + group_size]) for i in range(0, len(candidates), group_size)]


def direct_positive_ranks(
    scorer: CandidateListScorer, examples: Sequence[EvalExample]
) -> np.ndarray:
    """Rank [num_examples] of each positive among all of its example's candidates."""
    if not examples:
        return np.zeros((0,), dtype=np.int64)
    scores = score_lists_checked(scorer, examples, [e.candidates for e in examples])
    return positive_ranks(scores, np.zeros(len(examples), dtype=np.int64))


def _group_winners(scores: np.ndarray, groups: Sequence[str], target: str) -> str:
    """Best candidate of one group; a positive tied with a negative loses (pessimistic)."""
    if target in groups:
        target_column = groups.index(target)
        others = np.delete(scores, target_column)
        if others.size == 0 or scores[target_column] > others.max():
            return target
        return groups[int(np.delete(np.arange(len(groups)), target_column)[np.argmax(others)])]
    return groups[int(np.argmax(scores))]


def grouped_positive_ranks(
    scorer: CandidateListScorer,
    examples: Sequence[EvalExample],
    group_size: int = 10,
    seed: int = 0,
) -> np.ndarray:
    """Rank [num_examples] of each positive after group-wise selection and reranking.

    Each example's candidates are shuffled into groups of ``group_size``; every group is
    scored as one candidate list, its best item kept; the winners are scored together as
    the final list. A positive that lost its group gets rank ``len(candidates)``.
    """
    if not examples:
        return np.zeros((0,), dtype=np.int64)
    groups = [split_into_groups(example, group_size, seed) for example in examples]
    num_groups = {len(g) for g in groups}
    if len(num_groups) != 1:
        raise ValueError(f"examples have different candidate counts: groups {num_groups}")
    winners: list[list[str]] = [[] for _ in examples]
    for g in range(num_groups.pop()):
        group_lists = [example_groups[g] for example_groups in groups]
        scores = score_lists_checked(scorer, examples, group_lists)
        for i, (example, group) in enumerate(zip(examples, group_lists)):
            winners[i].append(_group_winners(scores[i], list(group), example.target))
    ranks = np.array([len(example.candidates) for example in examples], dtype=np.int64)
    survived = [i for i, example in enumerate(examples) if example.target in winners[i]]
    if survived:
        final_examples = [examples[i] for i in survived]
        final_lists = [winners[i] for i in survived]
        final_scores = score_lists_checked(scorer, final_examples, final_lists)
        positive_columns = [winners[i].index(examples[i].target) for i in survived]
        ranks[survived] = positive_ranks(final_scores, positive_columns)
    return ranks
