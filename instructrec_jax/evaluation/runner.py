"""The offline evaluation job: protocols x scenarios x rankers -> metrics, tables, chart.

``run_evaluation`` is the plain-Python entry point (the demo and ``evaluate.py`` call it).
For every scenario and instruction type, InstructRec's template is chosen on validation
(``random`` protocol, best ``selection_metric``) and then evaluated on test under every
requested protocol; each baseline is evaluated once per scenario and protocol on the very
same candidate sets (once per instruction type for those that read its query, TEM and
DSSM: ``InstructionTypeScorer``). Work is cut into shards whose positive ranks are saved
atomically, so an interrupted run resumes (see :mod:`instructrec_jax.evaluation.shards`).
With several processes, each scores its share of the shards and process 0 writes the
reports (:mod:`instructrec_jax.evaluation.hosts`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample, SplitName
from instructrec_jax.evaluation import full_catalog, reports
from instructrec_jax.evaluation import protocols as protocols_lib
from instructrec_jax.evaluation.candidate_lists import CandidateListScorer, as_list_scorer
from instructrec_jax.evaluation.hosts import Hosts
from instructrec_jax.evaluation.intervals import metric_intervals
from instructrec_jax.evaluation.metrics import metric_names, metrics_from_ranks, per_user_metrics
from instructrec_jax.evaluation.scenarios import Scenario, get_scenario, scenario_examples
from instructrec_jax.evaluation.scorer import CandidateScorer, InstructionTypeScorer
from instructrec_jax.evaluation.sharded_job import ShardedJob, report_examples
from instructrec_jax.evaluation.shards import ShardKey, ShardStore

logger = logging.getLogger(__name__)

METRIC_CUTOFFS: tuple[int, ...] = (1, 3, 5, 10)
REPORT_SPLITS: tuple[SplitName, ...] = ("test", "valid")


class TemplatedScorer(Protocol):
    """A ranker whose instruction template is a choice (InstructRec)."""

    name: str

    def template_ids(self, instruction_type: str, family: str | None = None) -> Sequence[str]:
        """Templates of ``family`` (None: any) that can render ``instruction_type``."""
        ...

    def with_template(self, instruction_type: str, template_id: str) -> CandidateListScorer:
        """The ranker bound to one template."""
        ...


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """What to evaluate and how.

    Attributes:
      scenarios: names from :data:`instructrec_jax.evaluation.scenarios.SCENARIOS`.
      protocols: names from :data:`instructrec_jax.evaluation.protocols.PROTOCOLS`.
      max_test_examples: cap on test users per scenario (None: all).
      max_valid_examples: cap on validation users used to choose templates.
      shard_size: examples per resumable unit of work.
      selection_metric: validation metric that picks the template (one of
        ``metric_names(METRIC_CUTOFFS)``: HR@1/3/5/10, NDCG@3/5/10, MRR).
      seed: seeds extra negatives, group shuffles and candidate display order.
      group_size: group size of ``grouped100``.
      extended_negatives: negatives of ``full100`` / ``grouped100``.
      hard_negatives: negatives of ``hard``.
      chart_metric: metric plotted in the PNG (same names as ``selection_metric``).
      bootstrap_resamples: resamples of users behind each row's 95% intervals (seeded by
        ``seed``).
      report_split: split the rows are computed on. ``test`` (the default, the paper's
        protocol) reports test users; ``valid`` reports validation users *other than* the
        first ``max_valid_examples`` that choose the templates (then at most
        ``max_test_examples`` of them), for choosing a recipe without reading test.
    """

    scenarios: tuple[str, ...] = ("sequential", "personalized_search", "product_search")
    protocols: tuple[str, ...] = ("random",)
    max_test_examples: int | None = None
    max_valid_examples: int | None = 256
    shard_size: int = 64
    selection_metric: str = "NDCG@5"
    seed: int = 0
    group_size: int = 10
    extended_negatives: int = 99
    hard_negatives: int = 9
    chart_metric: str = "NDCG@5"
    bootstrap_resamples: int = 1000
    report_split: SplitName = "test"

    def __post_init__(self) -> None:
        if self.report_split not in REPORT_SPLITS:
            raise ValueError(
                f"report_split must be one of {REPORT_SPLITS}, got {self.report_split!r}"
            )
        if self.bootstrap_resamples < 1:
            raise ValueError(f"bootstrap_resamples must be >= 1, got {self.bootstrap_resamples}")
        for name in self.scenarios:
            get_scenario(name)
        unknown = [p for p in self.protocols if p not in protocols_lib.PROTOCOLS]
        if unknown:
            raise ValueError(f"unknown protocols {unknown}; known: {protocols_lib.PROTOCOLS}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")
        known = metric_names(METRIC_CUTOFFS)
        for field in ("selection_metric", "chart_metric"):
            if getattr(self, field) not in known:
                raise ValueError(
                    f"{field} {getattr(self, field)!r} is not computed; choose one of "
                    f"{', '.join(known)}"
                )


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """Rows of test metrics and the files written."""

    rows: list[reports.ResultRow]
    metrics_path: Path
    table_path: Path
    chart_path: Path


def _row(
    scenario: Scenario,
    instruction_type: str,
    protocol: str,
    model: str,
    template_id: str,
    examples: Sequence[EvalExample],
    ranks: np.ndarray,
    config: EvaluationConfig,
    validation: dict[str, float] | None = None,
) -> reports.ResultRow:
    """One table row: the metrics of ``ranks`` [len(examples)] of ``examples``, their
    bootstrap intervals over users, and the per-user ranks (for paired tests)."""
    per_user = per_user_metrics(ranks, METRIC_CUTOFFS)
    return reports.ResultRow(
        scenario=scenario.name,
        instruction_type=instruction_type,
        protocol=protocol,
        model=model,
        template_id=template_id,
        num_examples=len(ranks),
        metrics={name: float(values.mean()) for name, values in per_user.items()},
        validation=validation or {},
        num_candidates=max((len(e.candidates) for e in examples), default=None),
        intervals=metric_intervals(per_user, config.bootstrap_resamples, config.seed),
        ranks=[int(rank) for rank in ranks],
        user_ids=[example.user_id for example in examples],
    )


def _choose_template(
    job: ShardedJob, scenario: Scenario, instruction_type: str, ranker: TemplatedScorer
) -> tuple[str, dict[str, float]]:
    """Best template of the scenario's family on validation (``random`` protocol); ties go
    to the first id."""
    template_ids = list(ranker.template_ids(instruction_type, scenario.family))
    if not template_ids:
        raise ValueError(
            f"{ranker.name}: no {scenario.family} template ranks for {instruction_type!r}"
        )
    examples = job.examples(scenario, "valid", "random")
    if not examples:
        logger.warning(
            "%s has no validation examples; using template %s", scenario.name, template_ids[0]
        )
        return template_ids[0], {}
    scores: dict[str, float] = {}
    for template_id in template_ids:
        scorer = ranker.with_template(instruction_type, template_id)
        key = ShardKey(
            scenario.name, instruction_type, "random", ranker.name, template_id, "valid", 0
        )
        ranks = job.ranks(scorer, key, examples)
        scores[template_id] = metrics_from_ranks(ranks, METRIC_CUTOFFS)[job.config.selection_metric]
    best = max(template_ids, key=lambda t: (scores[t], -template_ids.index(t)))
    return best, scores


def _evaluate_templated(
    job: ShardedJob, scenario: Scenario, ranker: TemplatedScorer
) -> list[reports.ResultRow]:
    rows: list[reports.ResultRow] = []
    if not job.protocols:
        return rows
    for instruction_type in scenario.instruction_types:
        template_id, validation = _choose_template(job, scenario, instruction_type, ranker)
        scorer = ranker.with_template(instruction_type, template_id)
        for protocol in job.protocols:
            examples = job.report_examples(scenario, protocol)
            key = ShardKey(
                scenario.name,
                instruction_type,
                protocol,
                ranker.name,
                template_id,
                job.report_key_split,
                0,
            )
            ranks = job.ranks(scorer, key, examples)
            rows.append(
                _row(
                    scenario,
                    instruction_type,
                    protocol,
                    ranker.name,
                    template_id,
                    examples,
                    ranks,
                    job.config,
                    validation,
                )
            )
    return rows


def _evaluate_baseline(
    job: ShardedJob, scenario: Scenario, baseline: CandidateScorer | CandidateListScorer
) -> list[reports.ResultRow]:
    """Rows of a baseline: scored once per instruction type if it reads the type's query
    (``InstructionTypeScorer``), else once for the scenario's every type."""
    if isinstance(baseline, InstructionTypeScorer):
        return [
            row
            for instruction_type in scenario.instruction_types
            for row in _baseline_rows(
                job,
                scenario,
                baseline.for_instruction_type(instruction_type),
                (instruction_type,),
                instruction_type,
            )
        ]
    return _baseline_rows(job, scenario, baseline, scenario.instruction_types, "any")


def _baseline_rows(
    job: ShardedJob,
    scenario: Scenario,
    baseline: CandidateScorer | CandidateListScorer,
    instruction_types: Sequence[str],
    key_type: str,
) -> list[reports.ResultRow]:
    """One scoring of ``baseline`` per protocol, reported under ``instruction_types`` and
    cached under the instruction type ``key_type``."""
    scorer = as_list_scorer(baseline)
    rows = []
    for protocol in job.protocols:
        examples = job.report_examples(scenario, protocol)
        key = ShardKey(scenario.name, key_type, protocol, scorer.name, "", job.report_key_split, 0)
        ranks = job.ranks(scorer, key, examples)
        rows.extend(
            _row(scenario, instruction_type, protocol, scorer.name, "", examples, ranks, job.config)
            for instruction_type in instruction_types
        )
    return rows


def _scorings(scenario: Scenario, baselines: Sequence[Any]) -> int:
    """How many times the baselines are scored per protocol in ``scenario``."""
    per_type = sum(isinstance(b, InstructionTypeScorer) for b in baselines)
    return len(baselines) - per_type + per_type * len(scenario.instruction_types)


def _total_shards(
    job: ShardedJob, templated: Sequence[TemplatedScorer], baselines: Sequence[Any]
) -> int:
    total = 0
    for name in job.config.scenarios:
        scenario = get_scenario(name)
        test = job.shards(len(report_examples(job.dataset, scenario, job.config)))
        valid = job.shards(
            len(scenario_examples(job.dataset, scenario, "valid", job.config.max_valid_examples))
        )
        per_protocol = test * len(job.protocols)
        total += per_protocol * _scorings(scenario, baselines)
        for ranker in templated if job.protocols else ():
            for instruction_type in scenario.instruction_types:
                templates = ranker.template_ids(instruction_type, scenario.family)
                total += valid * len(templates) + per_protocol
    return total


def model_identity(model: Any) -> dict[str, str | None]:
    """``name`` and, for a trained model, its optional ``fingerprint`` attribute (a digest of
    its parameters, e.g. ``SASRecScorer.fingerprint``): what its results are cached under."""
    return {"name": model.name, "fingerprint": getattr(model, "fingerprint", None)}


def _shard_digest(
    dataset: ProcessedDataset,
    config: EvaluationConfig,
    baselines: Sequence[Any],
    retriever: protocols_lib.Retriever | None,
    run_settings: Mapping[str, Any] | None,
) -> str:
    """Digest of everything that changes a shard's ranks for the same users (retraining a
    baseline or the retriever changes its fingerprint, so nothing of it is reused)."""
    identity = {
        "dataset": dataset.fingerprint,
        "seed": config.seed,
        "group_size": config.group_size,
        "extended_negatives": config.extended_negatives,
        "hard_negatives": config.hard_negatives,
        "baselines": [model_identity(baseline) for baseline in baselines],
        "retriever": None if retriever is None else model_identity(retriever),
        "run": dict(run_settings or {}),
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_evaluation(
    dataset: ProcessedDataset,
    output_dir: str | Path,
    instructrec: TemplatedScorer | None = None,
    baselines: Sequence[CandidateScorer | CandidateListScorer] = (),
    config: EvaluationConfig | None = None,
    retriever: protocols_lib.Retriever | None = None,
    progress: bool = True,
    run_settings: Mapping[str, Any] | None = None,
    zero_shot: Sequence[TemplatedScorer] = (),
    catalog_rankers: Sequence[full_catalog.CatalogRanker] = (),
    hosts: Hosts | None = None,
) -> EvaluationResult:
    """Evaluate InstructRec (template chosen on validation) and baselines on test.

    Writes ``metrics.json``, ``results.md`` (Table 6 layout, one table per protocol),
    ``chart.png`` and ``shards/`` (resumable partial results) under ``output_dir``.
    With several processes (``hosts``, default :meth:`Hosts.current`), every process
    calls this with the same arguments: each scores its share of the shards (and keeps
    them under its ``output_dir``), all get every row, and only process 0 writes the
    reports; the ``full_catalog`` protocol is computed by every process.

    Args:
      dataset: the processed dataset (examples, catalog, item split, negatives).
      output_dir: where results go; rerunning with the same directory resumes.
      instructrec: the templated ranker (e.g. ``InstructRecScorer``), or None.
      baselines: other rankers, scored on the same candidate sets.
      config: scenarios, protocols, caps, seeds.
      retriever: proposes hard negatives (needed for protocol ``hard``).
      progress: show a progress bar over shards.
      run_settings: JSON-able description of what produced the scores (checkpoint path,
        dtype, vocabulary, ...). Shards live under ``shards/<digest>/`` where the digest
        covers these, the config's seeds and negative counts and the dataset fingerprint,
        and the baselines' and retriever's names and fingerprints (:func:`model_identity`),
        so a run with other settings or retrained baselines never reuses them.
      zero_shot: more templated rankers evaluated like ``instructrec`` (a checkpoint we did
        not fine-tune, a chat LLM); each needs its own ``name``. Rankers with a
        ``diagnostics()`` method (answer counts of the chat ranker) have its result written
        to ``metrics.json`` (``settings.diagnostics``) and ``results.md``.
      catalog_rankers: rankers of the ``full_catalog`` protocol (InstructRec generating,
        SASRec ranking everything), needed when it is requested.
      hosts: this process's place among the job's processes (default: JAX's).
    """
    config = config or EvaluationConfig()
    hosts = hosts or Hosts.current()
    templated = [ranker for ranker in (instructrec, *zero_shot) if ranker is not None]
    if not templated and not baselines:
        raise ValueError("nothing to evaluate: give instructrec and/or baselines")
    if full_catalog.FULL_CATALOG in config.protocols and config.report_split != "test":
        raise ValueError("protocol 'full_catalog' reports test users only (report_split='test')")
    if full_catalog.FULL_CATALOG in config.protocols and not catalog_rankers:
        raise ValueError("protocol 'full_catalog' needs catalog_rankers (generator, SASRec)")
    if "hard" in config.protocols and retriever is None:
        raise ValueError("protocol 'hard' needs a retriever (e.g. the SASRec baseline)")
    output_dir = Path(output_dir)
    store = ShardStore(
        output_dir / "shards" / _shard_digest(dataset, config, baselines, retriever, run_settings)
    )
    bar = tqdm(total=0, desc="evaluation shards", unit="shard", disable=not progress or hosts.index)
    job = ShardedJob(dataset, config, store, retriever, bar, hosts)
    bar.total = _total_shards(job, templated, baselines)
    rows: list[reports.ResultRow] = []
    try:
        for name in config.scenarios:
            scenario = get_scenario(name)
            if not report_examples(dataset, scenario, config):
                logger.warning("scenario %s has no %s examples; skipped", name, config.report_split)
                continue
            for ranker in templated:
                rows.extend(_evaluate_templated(job, scenario, ranker))
            for baseline in baselines:
                rows.extend(_evaluate_baseline(job, scenario, baseline))
    finally:
        bar.close()
    if full_catalog.FULL_CATALOG in config.protocols:
        rows.extend(
            full_catalog.catalog_rows(
                dataset, config.scenarios, catalog_rankers, config.max_test_examples
            )
        )
    if not rows:
        raise ValueError("no scenario had test examples; nothing was evaluated")
    settings = {
        "run": dict(run_settings or {}),
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "config": dataclasses.asdict(config),
        "models": sorted({row.model for row in rows}),
    }
    diagnostics = {
        model.name: model.diagnostics()
        for model in (*templated, *baselines)
        if callable(getattr(model, "diagnostics", None))
    }
    if diagnostics:
        settings["diagnostics"] = diagnostics
    paths = (output_dir / "metrics.json", output_dir / "results.md", output_dir / "chart.png")
    if hosts.is_writer:
        reports.write_metrics_json(rows, paths[0], settings)
        reports.write_markdown(rows, paths[1], diagnostics)
        reports.write_chart(rows, paths[2], config.chart_metric)
    hosts.barrier("evaluation reports written")
    return EvaluationResult(
        rows=rows, metrics_path=paths[0], table_path=paths[1], chart_path=paths[2]
    )
