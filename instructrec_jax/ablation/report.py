"""The ablation's numbers: per arm x (scenario, type, protocol) x metric, mean and 95%
interval over users, and a paired test of each arm against the reference on the same users.

Rows come from each run's ``eval/metrics.json`` (:mod:`instructrec_jax.evaluation.reports`),
which keeps the positive's rank per user. Seeds of one arm are combined per user (the mean
of the user's metric over seeds) before the bootstrap over users, so an interval covers the
users' sampling, with seed noise averaged within each user.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from instructrec_jax.evaluation.intervals import PairedTest, metric_intervals, paired_test
from instructrec_jax.evaluation.metrics import per_user_metrics
from instructrec_jax.evaluation.reports import ResultRow
from instructrec_jax.evaluation.runner import METRIC_CUTOFFS

INSTRUCTREC_MODEL = "InstructRec"
Cell = tuple[str, str, str]  # (scenario, instruction_type, protocol)


@dataclasses.dataclass(frozen=True)
class ArmCell:
    """One arm on one (scenario, instruction type, protocol).

    Attributes:
      per_user: metric -> per-user values [users], averaged over the arm's seeds.
      user_ids: the users, in ``per_user`` order.
      metrics: metric -> mean over users.
      intervals: metric -> [low, high], 95% bootstrap over users.
      num_seeds: seeds averaged.
    """

    per_user: dict[str, np.ndarray]
    user_ids: list[str]
    metrics: dict[str, float]
    intervals: dict[str, list[float]]
    num_seeds: int


def load_rows(path: str | Path) -> list[ResultRow]:
    """The result rows of an evaluation's ``metrics.json``."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
        return [ResultRow(**row) for row in payload["results"]]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not an evaluation metrics.json ({error})") from None


def _key(row: ResultRow) -> Cell:
    return (row.scenario, row.instruction_type, row.protocol)


def combine_seeds(seed_rows: Sequence[ResultRow], resamples: int, seed: int = 0) -> ArmCell:
    """One cell from the same cell's rows of several seeds (same users, same order)."""
    users = seed_rows[0].user_ids
    for row in seed_rows:
        if not row.ranks:
            raise ValueError(f"{row.model} {_key(row)}: metrics.json has no per-user ranks")
        if row.user_ids != users:
            raise ValueError(f"{_key(row)}: seeds were evaluated on different users")
    stacked = [per_user_metrics(row.ranks, METRIC_CUTOFFS) for row in seed_rows]
    per_user = {name: np.mean([s[name] for s in stacked], axis=0) for name in stacked[0]}
    return ArmCell(
        per_user=per_user,
        user_ids=list(users),
        metrics={name: float(values.mean()) for name, values in per_user.items()},
        intervals=metric_intervals(per_user, resamples, seed),
        num_seeds=len(seed_rows),
    )


def arm_cells(
    rows_by_seed: Sequence[Sequence[ResultRow]], model: str, resamples: int
) -> dict[Cell, ArmCell]:
    """Cells of ``model``'s rows, seeds combined (a cell missing in any seed is left out)."""
    by_cell: dict[Cell, list[ResultRow]] = {}
    for rows in rows_by_seed:
        for row in rows:
            if row.model == model:
                by_cell.setdefault(_key(row), []).append(row)
    return {
        cell: combine_seeds(rows, resamples)
        for cell, rows in by_cell.items()
        if len(rows) == len(rows_by_seed)
    }


def paired_tests(
    cells: Mapping[str, Mapping[Cell, ArmCell]],
    reference: str,
    metrics: Sequence[str],
    resamples: int,
) -> dict[str, dict[Cell, dict[str, PairedTest]]]:
    """Arm -> cell -> metric -> test of (arm - reference) on the users both were scored on."""
    out: dict[str, dict[Cell, dict[str, PairedTest]]] = {}
    for arm, arm_cells_ in cells.items():
        if arm == reference:
            continue
        for cell, ours in arm_cells_.items():
            theirs = cells[reference].get(cell)
            if theirs is None:
                continue
            if ours.user_ids != theirs.user_ids:
                raise ValueError(f"{arm} vs {reference} on {cell}: different users")
            out.setdefault(arm, {})[cell] = {
                metric: paired_test(ours.per_user[metric], theirs.per_user[metric], resamples)
                for metric in metrics
            }
    return out


def _interval_text(value: float, interval: Sequence[float]) -> str:
    return f"{value:.4f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def markdown_table(cells: Mapping[str, Mapping[Cell, ArmCell]], metrics: Sequence[str]) -> str:
    """Arm x (scenario, type, protocol) x metric: ``mean [95% interval]``."""
    header = ["Arm", "Scenario", "Instruction", "Protocol", *metrics]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 4 + ["---:"] * len(metrics)) + "|",
    ]
    for arm, arm_cells_ in cells.items():
        for (scenario, instruction_type, protocol), cell in sorted(arm_cells_.items()):
            values = [_interval_text(cell.metrics[m], cell.intervals[m]) for m in metrics]
            lines.append(
                f"| {arm} | {scenario} | {instruction_type} | {protocol} | "
                + " | ".join(values)
                + " |"
            )
    return "\n".join(lines) + "\n"


def markdown_paired(
    tests: Mapping[str, Mapping[Cell, Mapping[str, PairedTest]]], reference: str
) -> str:
    """Arm - reference per cell and metric: difference [95% interval], sign-flip p."""
    lines = [
        "| Arm | Scenario | Instruction | Protocol | Metric | Arm - "
        f"{reference} [95% interval] | p (sign flip) |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for arm, by_cell in tests.items():
        for (scenario, instruction_type, protocol), by_metric in sorted(by_cell.items()):
            for metric, test in by_metric.items():
                mark = " *" if test.significant() else ""
                lines.append(
                    f"| {arm} | {scenario} | {instruction_type} | {protocol} | {metric} | "
                    f"{test.mean_difference:+.4f} [{test.interval[0]:+.3f}, "
                    f"{test.interval[1]:+.3f}]{mark} | {test.p_value:.3f} |"
                )
    return "\n".join(lines) + "\n"


def to_json(
    cells: Mapping[str, Mapping[Cell, ArmCell]],
    tests: Mapping[str, Mapping[Cell, Mapping[str, PairedTest]]],
) -> dict:
    """JSON-able summary (means, intervals, users, seeds; paired tests)."""

    def cell_name(cell: Cell) -> str:
        return "/".join(cell)

    return {
        "arms": {
            arm: {
                cell_name(cell): {
                    "metrics": value.metrics,
                    "intervals": value.intervals,
                    "num_users": len(value.user_ids),
                    "num_seeds": value.num_seeds,
                }
                for cell, value in by_cell.items()
            }
            for arm, by_cell in cells.items()
        },
        "paired_tests": {
            arm: {
                cell_name(cell): {m: dataclasses.asdict(t) for m, t in by_metric.items()}
                for cell, by_metric in by_cell.items()
            }
            for arm, by_cell in tests.items()
        },
    }
