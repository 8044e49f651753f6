"""Evaluation outputs: metrics JSON, Markdown tables in the paper's Table 6 layout, a chart.

Table 6 of the paper has one row per (task, model) and the columns HR@1 HR@3 HR@5 NDCG@3
NDCG@5; we add HR@10, NDCG@10 and MRR, write one table per candidate protocol, put the
baselines beside InstructRec under each scenario and instruction type, and bold the best
value of each column within a group. HR@k with k at or above a row's candidate count is 1 for
every model, so the tables show it as ``-`` (``metrics.json`` keeps every value). A row with
bootstrap intervals over users (:mod:`instructrec_jax.evaluation.intervals`) shows each value
as ``mean [low, high]``; the chart draws them as error bars.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

from instructrec_jax.atomic_files import write_json_atomic

TABLE_COLUMNS: tuple[str, ...] = (
    "HR@1",
    "HR@3",
    "HR@5",
    "NDCG@3",
    "NDCG@5",
    "HR@10",
    "NDCG@10",
    "MRR",
)
# The ``full_catalog`` protocol's columns; the cost column is never bolded.
CATALOG_COLUMNS: tuple[str, ...] = (
    "HR@5",
    "NDCG@5",
    "HR@10",
    "NDCG@10",
    "HR@20",
    "NDCG@20",
    "s/user",
)
NOT_BOLDED: frozenset[str] = frozenset({"s/user"})


@dataclasses.dataclass(frozen=True)
class ResultRow:
    """Test metrics of one model on one (scenario, instruction type, protocol).

    Attributes:
      scenario: ``sequential``, ``personalized_search`` or ``product_search``.
      instruction_type: e.g. ``p1_i0_t3``.
      protocol: one of :data:`instructrec_jax.evaluation.protocols.PROTOCOLS`.
      model: the scorer's name.
      template_id: the template chosen on validation ("" for baselines).
      num_examples: test examples averaged over.
      metrics: HR@k, NDCG@k, MRR.
      validation: per template id, the validation value of the selection metric.
      num_candidates: candidates per test example (None: unknown, every cutoff shown).
      intervals: per metric, the 95% bootstrap interval ``[low, high]`` over users.
      ranks: the positive's 1-based rank per test example, in ``user_ids`` order (what
        paired tests between models on the same users read).
      user_ids: the user of each test example.
    """

    scenario: str
    instruction_type: str
    protocol: str
    model: str
    template_id: str
    num_examples: int
    metrics: dict[str, float]
    validation: dict[str, float] = dataclasses.field(default_factory=dict)
    num_candidates: int | None = None
    intervals: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    ranks: list[int] = dataclasses.field(default_factory=list)
    user_ids: list[str] = dataclasses.field(default_factory=list)

    def cell(self, column: str, digits: int = 4) -> str:
        """``column``'s value as text, with its interval when there is one."""
        text = f"{self.metrics[column]:.{digits}f}"
        if column in self.intervals:
            low, high = self.intervals[column]
            text += f" [{low:.3f}, {high:.3f}]"
        return text

    def shown(self, column: str) -> bool:
        """Whether ``column`` carries information for this row (not a trivial HR@k = 1)."""
        if column not in self.metrics:
            return False
        name, _, cutoff = column.partition("@")
        return not (
            name == "HR" and self.num_candidates is not None and int(cutoff) >= self.num_candidates
        )


def write_metrics_json(rows: Sequence[ResultRow], path: str | Path, settings: dict) -> Path:
    """``{"settings": ..., "results": [row, ...]}`` written atomically."""
    payload = {"settings": settings, "results": [dataclasses.asdict(row) for row in rows]}
    write_json_atomic(path, payload)
    return Path(path)


def _group_key(row: ResultRow) -> tuple[str, str]:
    return (row.scenario, row.instruction_type)


def markdown_table(rows: Sequence[ResultRow], protocol: str) -> str:
    """One Markdown table for ``protocol``: rows = scenario/type x model, best in bold."""
    selected = [row for row in rows if row.protocol == protocol]
    if not selected:
        raise ValueError(f"no results for protocol {protocol!r}")
    columns = CATALOG_COLUMNS if protocol == "full_catalog" else TABLE_COLUMNS
    header = ["Scenario", "Instruction", "Model", *columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * len(columns)) + "|",
    ]
    groups = itertools.groupby(sorted(selected, key=_group_key), key=_group_key)
    for (scenario, instruction_type), members in groups:
        members = list(members)
        best = {
            column: max(
                (m.metrics[column] for m in members if m.shown(column)), default=float("-inf")
            )
            for column in columns
        }
        for member in members:
            model = member.model + (f" ({member.template_id})" if member.template_id else "")
            cells = []
            for column in columns:
                if not member.shown(column):
                    cells.append("-")
                    continue
                text = member.cell(column)
                cells.append(
                    f"**{text}**"
                    if len(members) > 1
                    and column not in NOT_BOLDED
                    and member.metrics[column] == best[column]
                    else text
                )
            lines.append(
                f"| {scenario} | {instruction_type} | {model} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"


def write_markdown(
    rows: Sequence[ResultRow],
    path: str | Path,
    diagnostics: Mapping[str, Mapping[str, object]] | None = None,
) -> Path:
    """All protocols' tables, each under a heading, in one Markdown file; ``diagnostics``
    (model -> counters, e.g. the chat ranker's unparseable answers) are listed after them."""
    protocols = sorted({row.protocol for row in rows}, key=_protocol_order)
    parts = ["# InstructRec evaluation\n"]
    for protocol in protocols:
        count = max(row.num_examples for row in rows if row.protocol == protocol)
        parts.append(f"\n## Protocol `{protocol}` (up to {count} test users)\n\n")
        if any(row.intervals for row in rows if row.protocol == protocol):
            parts.append("Values: mean [95% bootstrap interval over users].\n\n")
        parts.append(markdown_table(rows, protocol))
    if diagnostics:
        parts.append("\n## Diagnostics\n\n")
        for model, counters in sorted(diagnostics.items()):
            text = ", ".join(f"{name} {value}" for name, value in counters.items())
            parts.append(f"- {model}: {text}\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts))
    return path


def _protocol_order(protocol: str) -> tuple[int, str]:
    order = ("random", "hard", "full100", "grouped100", "full_catalog")
    return (order.index(protocol) if protocol in order else len(order), protocol)


def _interval_errors(
    rows: Sequence[ResultRow], metric: str
) -> tuple[list[float], list[list[float]]]:
    """Values and matplotlib ``xerr`` [2, rows] (distances to the interval's ends)."""
    values = [row.metrics.get(metric, 0.0) for row in rows]
    errors: list[list[float]] = [[], []]
    for row, value in zip(rows, values):
        low, high = row.intervals.get(metric, (value, value))
        errors[0].append(max(value - low, 0.0))
        errors[1].append(max(high - value, 0.0))
    return values, errors


def write_chart(rows: Sequence[ResultRow], path: str | Path, metric: str = "NDCG@5") -> Path:
    """Horizontal grouped bars of ``metric`` with 95% interval error bars (PNG).

    One panel per protocol; one group of bars per (scenario, instruction type), labelled on
    the y axis so long names never overlap; one bar per model, named in the legend.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = sorted({row.protocol for row in rows}, key=_protocol_order)
    if not protocols:
        raise ValueError("no results to plot")
    groups_per_panel = max(len({_group_key(r) for r in rows if r.protocol == p}) for p in protocols)
    models_all = sorted({row.model for row in rows})
    height = 1.2 + 0.28 * groups_per_panel * max(len(models_all), 1)
    figure, axes = plt.subplots(
        1, len(protocols), figsize=(6.5 * len(protocols), height), squeeze=False
    )
    for axis, protocol in zip(axes[0], protocols):
        selected = [row for row in rows if row.protocol == protocol]
        groups = sorted({_group_key(row) for row in selected})
        models = sorted({row.model for row in selected})
        width = 0.8 / max(len(models), 1)
        for m, model in enumerate(models):
            present = [
                (g, r)
                for g, group in enumerate(groups)
                for r in selected
                if r.model == model and _group_key(r) == group
            ]
            values, errors = _interval_errors([r for _, r in present], metric)
            positions = [g - 0.4 + width * (m + 0.5) for g, _ in present]
            axis.barh(positions, values, height=width, xerr=errors, capsize=2, label=model)
        axis.set_yticks(range(len(groups)))
        axis.set_yticklabels([f"{s}\n{t}" for s, t in groups], fontsize=8)
        axis.invert_yaxis()
        axis.set_xlim(0.0, 1.0)
        axis.set_xlabel(f"{metric} (error bars: 95% bootstrap interval over users)", fontsize=8)
        axis.set_title(f"protocol: {protocol}")
        axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
