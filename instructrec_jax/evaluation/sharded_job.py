"""One evaluation run's work: candidate sets per (scenario, split, protocol), and the
positives' ranks computed shard by shard.

Each shard's ranks are saved atomically, so an interrupted run resumes from its finished
shards (:mod:`instructrec_jax.evaluation.shards`); with several processes each scores the
shards it owns and all gather every rank (:mod:`instructrec_jax.evaluation.hosts`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample, SplitName
from instructrec_jax.evaluation import protocols as protocols_lib
from instructrec_jax.evaluation.candidate_lists import CandidateListScorer
from instructrec_jax.evaluation.full_catalog import FULL_CATALOG
from instructrec_jax.evaluation.hosts import Hosts
from instructrec_jax.evaluation.scenarios import Scenario, scenario_examples
from instructrec_jax.evaluation.shards import ShardKey, ShardStore

if TYPE_CHECKING:
    from instructrec_jax.evaluation.runner import EvaluationConfig


class ShardedJob:
    """One evaluation run's candidate sets and positive ranks.

    Args:
      dataset: the processed dataset.
      config: the run's ``EvaluationConfig``.
      store: where finished shards' ranks are kept (resuming reloads them).
      retriever: proposes hard negatives (protocol ``hard``), or None.
      progress: advanced by one per shard scored or reloaded.
      hosts: this process's place among the job's processes.
    """

    def __init__(
        self,
        dataset: ProcessedDataset,
        config: EvaluationConfig,
        store: ShardStore,
        retriever: protocols_lib.Retriever | None,
        progress: tqdm,
        hosts: Hosts | None = None,
    ) -> None:
        self.dataset = dataset
        self.config = config
        self.store = store
        self.retriever = retriever
        self.progress = progress
        self.hosts = hosts or Hosts()
        self._candidates: dict[tuple[str, str, str], list[EvalExample]] = {}
        # Protocols with candidate lists (``full_catalog`` has none: ``full_catalog.py``).
        self.protocols = tuple(p for p in config.protocols if p != FULL_CATALOG)

    def examples(self, scenario: Scenario, split: SplitName, protocol: str) -> list[EvalExample]:
        """The scenario's examples with the protocol's candidates (cached)."""
        key = (scenario.name, split, protocol)
        if key not in self._candidates:
            cap = (
                self.config.max_test_examples if split == "test" else self.config.max_valid_examples
            )
            base = scenario_examples(self.dataset, scenario, split, cap)
            self._candidates[key] = self._with_protocol(base, protocol)
        return self._candidates[key]

    @property
    def report_key_split(self) -> str:
        """The ``split`` of reported shards' keys (validation rows must not share the keys of
        the template-selection shards, which hold other users)."""
        return "test" if self.config.report_split == "test" else "valid_report"

    def report_examples(self, scenario: Scenario, protocol: str) -> list[EvalExample]:
        """The examples the rows are computed on (``config.report_split``)."""
        if self.config.report_split == "test":
            return self.examples(scenario, "test", protocol)
        key = (scenario.name, "report_valid", protocol)
        if key not in self._candidates:
            self._candidates[key] = self._with_protocol(
                report_examples(self.dataset, scenario, self.config), protocol
            )
        return self._candidates[key]

    def _with_protocol(self, examples: list[EvalExample], protocol: str) -> list[EvalExample]:
        if protocol == "random":
            return examples
        if protocol == "hard":
            if self.retriever is None:
                raise ValueError("protocol 'hard' needs a retriever (e.g. the SASRec baseline)")
            return protocols_lib.with_hard_negatives(
                self.dataset, examples, self.retriever, self.config.hard_negatives
            )
        return protocols_lib.with_sampled_negatives(
            self.dataset, examples, self.config.extended_negatives, self.config.seed
        )

    def ranks(
        self,
        scorer: CandidateListScorer,
        key: ShardKey,
        examples: Sequence[EvalExample],
    ) -> np.ndarray:
        """Positive ranks for ``examples``, shard by shard, reusing finished shards.

        With several processes, this process scores (or reloads) only the shards it owns
        and the others' ranks are gathered; every process returns all ranks.
        """
        size = self.config.shard_size
        parts: list[np.ndarray | None] = []
        sizes = []
        for index, start in enumerate(range(0, len(examples), size)):
            shard = examples[start : start + size]
            sizes.append(len(shard))
            if not self.hosts.owns(index):
                parts.append(None)
                continue
            shard_key = dataclasses.replace(key, shard_index=index)
            users = [e.user_id for e in shard]
            ranks = self.store.load(shard_key, users)
            if ranks is None:
                ranks = self._rank(scorer, shard, key.protocol)
                self.store.save(shard_key, users, ranks)
            parts.append(ranks)
            self.progress.update(1)
        if not parts:
            return np.zeros((0,), dtype=np.int64)
        return self.hosts.gather_ranks(parts, sizes)

    def _rank(
        self, scorer: CandidateListScorer, examples: Sequence[EvalExample], protocol: str
    ) -> np.ndarray:
        if protocol == "grouped100":
            return protocols_lib.grouped_positive_ranks(
                scorer, examples, self.config.group_size, self.config.seed
            )
        return protocols_lib.direct_positive_ranks(scorer, examples)

    def shards(self, count: int) -> int:
        """How many of the shards of ``count`` examples this process scores."""
        total = -(-count // self.config.shard_size)
        return len(range(self.hosts.index, total, self.hosts.count))


def report_examples(
    dataset: ProcessedDataset, scenario: Scenario, config: EvaluationConfig
) -> list[EvalExample]:
    """The scenario's reported examples (``random`` candidates): the first
    ``max_test_examples`` test users, or with ``report_split='valid'`` the validation users
    after the first ``max_valid_examples`` (those choose the templates)."""
    if config.report_split == "test":
        return scenario_examples(dataset, scenario, "test", config.max_test_examples)
    valid = scenario_examples(dataset, scenario, "valid")[config.max_valid_examples or 0 :]
    return valid if config.max_test_examples is None else valid[: config.max_test_examples]
