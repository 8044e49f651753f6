"""Run every arm (resuming), then collect every arm's evaluation into one report.

``run_ablation`` trains and evaluates each (arm, seed) that is not done
(:mod:`instructrec_jax.ablation.arms`), in gin order; a killed job rerun picks up where it
stopped. With ``collect_only`` nothing is trained: arms that ran elsewhere (e.g. on TPU VMs
from :mod:`instructrec_jax.ablation.launch`, their MODEL_DIRs copied under the arms folder)
are read from their ``eval/metrics.json``; arms without one are listed as missing.

The report goes to ``<work_dir>/report/``: ``ablation.md`` (table with 95% intervals, paired
tests against the reference, both charts), ``ablation.json``, ``diversity.png``,
``held_out.png``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from instructrec_jax.ablation import arms as arms_lib
from instructrec_jax.ablation import charts
from instructrec_jax.ablation import report as report_lib
from instructrec_jax.ablation.config import AblationConfig
from instructrec_jax.atomic_files import write_json_atomic
from instructrec_jax.tasks import naming

logger = logging.getLogger(__name__)
BASELINE_PREFIX = "baseline: "


@dataclasses.dataclass(frozen=True)
class AblationResult:
    """What the job wrote and which runs it trained now or found missing."""

    markdown_path: Path
    json_path: Path
    diversity_chart: Path | None
    held_out_chart: Path | None
    trained: list[str]
    missing: list[str]


def _run_name(run: arms_lib.ArmRun) -> str:
    return f"{run.arm.name}/seed_{run.seed}"


def run_ablation(
    config: AblationConfig,
    collect_only: bool = False,
    arms_root: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> AblationResult:
    """Train/evaluate what is not done (unless ``collect_only``), then write the report."""
    runs = arms_lib.arm_runs(config, arms_root)
    trained = []
    if not collect_only:
        from instructrec_jax.ablation.workspace import build_workspace

        workspace = build_workspace(config)
        for run in runs:
            if run.arm.mixture not in workspace.mixture_sizes:
                raise ValueError(
                    f"arm {run.arm.name!r}: mixture {run.arm.mixture!r} is not registered; "
                    "`python -m instructrec_jax.tasks list` shows the mixtures"
                )
        for index, run in enumerate(runs, 1):
            log(f"== arm {index}/{len(runs)}: {_run_name(run)} ({run.arm.mixture})")
            if arms_lib.run_arm(run, config, workspace):
                trained.append(_run_name(run))
            else:
                log("   done before (same fingerprint), skipped")
    return write_report(config, runs, trained, log)


def _num_types(run: arms_lib.ArmRun, dataset: str) -> int | None:
    """Instruction types the arm trained on, for the diversity curve (ladder or ``all``)."""
    if run.arm.ladder_size is not None:
        return run.arm.ladder_size
    if run.arm.mixture != naming.all_mixture_name(dataset):
        return None
    marker = arms_lib.read_marker(run.model_dir) or {}
    return marker.get("settings", {}).get("num_tasks")


def write_report(
    config: AblationConfig,
    runs: list[arms_lib.ArmRun],
    trained: list[str],
    log: Callable[[str], None] = print,
) -> AblationResult:
    """Collect every run's rows and write table, paired tests and charts."""
    rows: dict[str, list[list[report_lib.ResultRow]]] = {}
    missing = []
    for run in runs:
        if run.metrics_path.is_file():
            rows.setdefault(run.arm.name, []).append(report_lib.load_rows(run.metrics_path))
        else:
            missing.append(_run_name(run))
    if missing:
        log(f"missing (no {arms_lib.EVAL_DIR}/metrics.json): {', '.join(missing)}")
    complete = {
        name for name in rows if len(rows[name]) == len(config.seeds)
    }  # an arm counts once every seed is in
    if config.reference not in complete:
        raise ValueError(f"the reference arm {config.reference!r} has no complete evaluation")
    resamples = config.bootstrap_resamples
    cells = {
        name: report_lib.arm_cells(rows[name], report_lib.INSTRUCTREC_MODEL, resamples)
        for name in config.arms
        if name in complete
    }
    reference_rows = rows[config.reference][0]
    for model in sorted({r.model for r in reference_rows} - {report_lib.INSTRUCTREC_MODEL}):
        cells[BASELINE_PREFIX + model] = report_lib.arm_cells([reference_rows], model, resamples)
    arm_only = {name: value for name, value in cells.items() if name in config.arms}
    # Baselines too: each baseline minus the reference arm, on the same users.
    tests = report_lib.paired_tests(cells, config.reference, config.report_metrics, resamples)
    out_dir = Path(config.work_dir).resolve() / "report"
    lead = config.report_metrics[0]
    by_arm = {run.arm.name: run for run in runs}
    diversity = [
        charts.DiversityPoint(name, n, cells[name])
        for name in arm_only
        if (n := _num_types(by_arm[name], config.dataset)) is not None
    ]
    held_out = _held_out_pairs(config, arm_only, by_arm)
    diversity_path = _chart(
        charts.write_diversity_chart, diversity, lead, out_dir / "diversity.png"
    )
    held_out_path = _chart(charts.write_held_out_chart, held_out, lead, out_dir / "held_out.png")
    markdown = _markdown(config, cells, tests, diversity_path, held_out_path, missing)
    markdown_path = out_dir / "ablation.md"
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(markdown)
    json_path = out_dir / "ablation.json"
    payload = report_lib.to_json(cells, tests)
    payload.update(reference=config.reference, seeds=list(config.seeds), missing=missing)
    write_json_atomic(json_path, payload)
    log(markdown)
    return AblationResult(markdown_path, json_path, diversity_path, held_out_path, trained, missing)


def _held_out_pairs(
    config: AblationConfig,
    cells: dict[str, dict[report_lib.Cell, report_lib.ArmCell]],
    by_arm: dict[str, arms_lib.ArmRun],
) -> list[charts.HeldOutPair]:
    reference = cells[config.reference]
    pairs = []
    for name, arm_cells in cells.items():
        held = by_arm[name].arm.held_out_type
        if held is None or name == config.reference:
            continue
        for cell in sorted(arm_cells):
            if cell[1] == held and cell in reference:
                pairs.append(charts.HeldOutPair(name, held, cell, arm_cells[cell], reference[cell]))
    return pairs


def _chart(
    write: Callable[[Sequence[Any], str, Path], Path], data: Sequence[Any], metric: str, path: Path
) -> Path | None:
    """Write a chart of ``data``, or remove a stale one when there is nothing to plot."""
    if not data:
        path.unlink(missing_ok=True)
        return None
    return write(data, metric, path)


def _markdown(
    config: AblationConfig,
    cells: dict,
    tests: dict,
    diversity_path: Path | None,
    held_out_path: Path | None,
    missing: list[str],
) -> str:
    parts = [
        "# Ablation\n\n",
        f"Dataset `{config.dataset}`, seeds {list(config.seeds)}, reference arm "
        f"`{config.reference}`. Values: mean [95% bootstrap interval over users, "
        f"{config.bootstrap_resamples} resamples]; seeds are averaged per user first.\n\n",
    ]
    if missing:
        parts.append(f"Missing runs (not in the table): {', '.join(missing)}.\n\n")
    parts.append(report_lib.markdown_table(cells, config.report_metrics))
    parts.append(
        f"\n## Paired tests against `{config.reference}` (same users)\n\n"
        "Difference of per-user metrics, paired bootstrap interval (* = excludes 0) and "
        "two-sided sign-flip permutation p-value.\n\n"
    )
    parts.append(report_lib.markdown_paired(tests, config.reference))
    for title, path, absent in (
        ("Instruction diversity", diversity_path, "no ladder or all-types arm"),
        ("Held-out instruction type", held_out_path, "no arm holds out an evaluated type"),
    ):
        parts.append(f"\n## {title}\n\n")
        parts.append(f"![{title}]({path.name})\n" if path else f"(none: {absent})\n")
    return "".join(parts)
