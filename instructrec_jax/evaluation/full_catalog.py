"""The ``full_catalog`` protocol: top-k over every catalog item, no candidate list.

InstructRec *generates*: the scenario's matching (T2) instruction is rendered (the first
plain T2 template of the scenario's family for the type, e.g. ``p1_i0_t2`` for the
sequential ``p1_i0_t3``; no selection on validation) and a beam search constrained to the
catalog's title trie (:class:`~instructrec_jax.inference.generation.ConstrainedGenerator`)
returns ``beam_size`` >= k titles, best first, so no answer is out of the catalog. Items
sharing a title are listed together in id order. SASRec *scores* every catalog item and
sorts (:class:`SASRecCatalogRanker`).

Both exclude the example's history items (items the user already interacted with before
the target) from their list, and nothing else: the target is always rankable. A positive
outside a model's top ``k`` list counts as a miss (rank ``k + 1``), so HR@k and NDCG@k at
``CUTOFFS`` are exact; MRR is not reported. Generated beams that were history items are
dropped, so a generative list can be shorter than k (counted as misses). Only scenarios with
a user history make sense here (``sequential``, ``personalized_search``).

Cost: ``s/user`` is the wall-clock seconds per test user of producing the lists (rendering,
generation or scoring, on this process's devices). The protocol is not sharded or resumed:
the cost is measured on every run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.instructrec_scorer import InstructionRenderer, TextTokenizer
from instructrec_jax.evaluation.metrics import metrics_from_ranks
from instructrec_jax.evaluation.reports import ResultRow
from instructrec_jax.evaluation.scenarios import get_scenario, scenario_examples
from instructrec_jax.inference.generation import ConstrainedGenerator
from instructrec_jax.instructions.codes import CodeCombination, Strategy, TaskForm
from instructrec_jax.instructions.templates import Template

FULL_CATALOG = "full_catalog"
CUTOFFS: tuple[int, ...] = (5, 10, 20)
COST_COLUMN = "s/user"
SCENARIOS_WITH_HISTORY: tuple[str, ...] = ("sequential", "personalized_search")


@runtime_checkable
class CatalogRanker(Protocol):
    """Ranks the whole catalog for each example: top ``k`` item ids, best first, none of
    them in the example's history."""

    name: str

    def rank_catalog(
        self, examples: Sequence[EvalExample], family: str, instruction_type: str, k: int
    ) -> list[tuple[str, ...]]:
        """Up to ``k`` item ids per example (instruction type of the T3 scenario)."""
        ...

    def template_for(self, family: str, instruction_type: str) -> str:
        """The template id the ranking uses ("" when the ranker reads no instruction)."""
        ...


def matching_type(instruction_type: str) -> str:
    """The T2 (generate an item) type of a T3 ranking type: ``p1_i1_t3`` -> ``p1_i1_t2``."""
    if not instruction_type.endswith("_t3"):
        raise ValueError(
            f"full-catalog generation needs a T3 scenario type, not {instruction_type}"
        )
    return instruction_type[: -len("t3")] + "t2"


def matching_template(templates: Mapping[str, Template], family: str, instruction_type: str) -> str:
    """The first (by id order) plain T2 template of ``family`` rendering the T2 type."""
    wanted = matching_type(instruction_type)
    for template_id, template in templates.items():
        if (
            template.task_form is TaskForm.T2
            and template.strategy is Strategy.PLAIN
            and template.family == family
            and any(template.instruction_type(c) == wanted for c in template.combinations)
        ):
            return template_id
    raise ValueError(f"no plain T2 template of family {family!r} renders {wanted!r}")


def _without_history(items: Sequence[str], example: EvalExample, k: int) -> tuple[str, ...]:
    history = set(example.history)
    return tuple(dict.fromkeys(i for i in items if i not in history))[:k]


@dataclasses.dataclass(frozen=True)
class GenerativeCatalogRanker:
    """InstructRec by trie-constrained beam search (see the module docstring).

    Attributes:
      generator: beam search over the catalog's title trie (``job.make_title_trie``).
      tokenizer: the model's vocabulary.
      renderer: catalog, teacher, templates and rendering settings (InstructRec's).
      beam_size: beams kept; must be at least the largest cutoff asked for.
      name: the row's name.
    """

    generator: ConstrainedGenerator
    tokenizer: TextTokenizer
    renderer: InstructionRenderer
    beam_size: int = 20
    name: str = "InstructRec"

    def template_for(self, family: str, instruction_type: str) -> str:
        """The T2 template rendered for the scenario type."""
        return matching_template(self.renderer.templates, family, instruction_type)

    def rank_catalog(
        self, examples: Sequence[EvalExample], family: str, instruction_type: str, k: int
    ) -> list[tuple[str, ...]]:
        """Top ``k`` generated items per example, history items dropped."""
        if self.beam_size < k:
            raise ValueError(f"beam_size {self.beam_size} is below the cutoff {k}")
        texts, _ = self.renderer.texts(
            self.template_for(family, instruction_type),
            CodeCombination.parse(matching_type(instruction_type)),
            examples,
            [()] * len(examples),
        )
        instructions = self.renderer.token_ids(self.tokenizer, texts)
        generations = self.generator.generate(instructions, self.beam_size)
        return [
            _without_history([item for g in row for item in g.item_ids], example, k)
            for row, example in zip(generations, examples)
        ]


class FullRankingScorer(Protocol):
    """A model that ranks the whole catalog (``SASRecScorer``)."""

    name: str

    def top_items(
        self, examples: Sequence[EvalExample], k: int, exclude_interacted: bool = True
    ) -> list[tuple[str, ...]]:
        """Top ``k`` item ids per example, best first."""
        ...


class SASRecCatalogRanker:
    """SASRec's full ranking: every catalog item scored, history items removed.

    Args:
      scorer: a trained ``SASRecScorer`` (anything with its ``top_items(examples, k,
        exclude_interacted)``).
    """

    def __init__(self, scorer: FullRankingScorer) -> None:
        self.scorer = scorer
        self.name = scorer.name

    def template_for(self, family: str, instruction_type: str) -> str:
        """SASRec reads no instruction."""
        return ""

    def rank_catalog(
        self, examples: Sequence[EvalExample], family: str, instruction_type: str, k: int
    ) -> list[tuple[str, ...]]:
        """Top ``k`` items per example outside its history (held-out items stay rankable)."""
        if not examples:
            return []
        wanted = k + max(len(set(e.history)) for e in examples)
        lists = self.scorer.top_items(examples, wanted, exclude_interacted=False)
        return [_without_history(items, e, k) for items, e in zip(lists, examples)]


def catalog_ranks(
    lists: Sequence[Sequence[str]], examples: Sequence[EvalExample], k: int
) -> np.ndarray:
    """1-based rank [num_examples] of each target in its list; ``k + 1`` when absent."""
    return np.array(
        [
            list(items).index(e.target) + 1 if e.target in items else k + 1
            for items, e in zip(lists, examples)
        ],
        dtype=np.int64,
    )


def evaluate_catalog_ranker(
    ranker: CatalogRanker,
    examples: Sequence[EvalExample],
    family: str,
    instruction_type: str,
    cutoffs: Sequence[int] = CUTOFFS,
) -> dict[str, float]:
    """HR@k / NDCG@k at ``cutoffs`` and the cost ``s/user`` of one ranker on ``examples``."""
    k = max(cutoffs)
    started = time.perf_counter()
    lists = ranker.rank_catalog(examples, family, instruction_type, k)
    seconds = time.perf_counter() - started
    if len(lists) != len(examples):
        raise ValueError(f"{ranker.name}: {len(lists)} lists for {len(examples)} examples")
    metrics = metrics_from_ranks(catalog_ranks(lists, examples, k), cutoffs)
    metrics = {name: value for name, value in metrics.items() if name != "MRR"}
    metrics[COST_COLUMN] = seconds / len(examples)
    return metrics


def catalog_rows(
    dataset: ProcessedDataset,
    scenarios: Sequence[str],
    rankers: Sequence[CatalogRanker],
    max_test_examples: int | None = None,
    cutoffs: Sequence[int] = CUTOFFS,
) -> list[ResultRow]:
    """``full_catalog`` rows of every ranker on the same test users of each scenario.

    Scenarios without a history (product search) are skipped. A ranker that reads no
    instruction (``template_for`` is "") is run once per scenario and its row repeated
    for every instruction type, like the baselines of the candidate protocols.
    """
    rows = []
    for name in scenarios:
        if name not in SCENARIOS_WITH_HISTORY:
            continue
        scenario = get_scenario(name)
        examples = scenario_examples(dataset, scenario, "test", max_test_examples)
        if not examples:
            continue
        for ranker in rankers:
            shared: dict[str, float] | None = None
            for instruction_type in scenario.instruction_types:
                template_id = ranker.template_for(scenario.family, instruction_type)
                if template_id or shared is None:
                    metrics = evaluate_catalog_ranker(
                        ranker, examples, scenario.family, instruction_type, cutoffs
                    )
                    shared = None if template_id else metrics
                rows.append(
                    ResultRow(
                        scenario=name,
                        instruction_type=instruction_type,
                        protocol=FULL_CATALOG,
                        model=ranker.name,
                        template_id=template_id,
                        num_examples=len(examples),
                        metrics=dict(shared or metrics),
                        num_candidates=len(dataset.catalog),
                    )
                )
    return rows
