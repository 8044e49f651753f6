"""The ablation's two figures (PNG), both with 95% bootstrap intervals as error bars.

- instruction diversity (the paper's Figure 3): a metric against the number of tasks
  (family x instruction type) in the training mixture, one line per evaluated
  (scenario, type, protocol);
- held-out generalization (the paper's held-out ⟨P1, I1, T3⟩ study): on the rows of a
  held-out type X, the arm trained without X beside the reference trained with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from instructrec_jax.ablation.report import ArmCell, Cell


@dataclasses.dataclass(frozen=True)
class DiversityPoint:
    """One arm on the diversity curve: its number of training instruction types."""

    arm: str
    num_types: int
    cells: dict[Cell, ArmCell]


@dataclasses.dataclass(frozen=True)
class HeldOutPair:
    """Type ``held_out`` evaluated on ``cell``: trained without it vs with it."""

    arm: str
    held_out: str
    cell: Cell
    without: ArmCell
    with_: ArmCell


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _error(cell: ArmCell, metric: str) -> tuple[float, list[float]]:
    value = cell.metrics[metric]
    low, high = cell.intervals[metric]
    return value, [max(value - low, 0.0), max(high - value, 0.0)]


def write_diversity_chart(points: Sequence[DiversityPoint], metric: str, path: Path) -> Path:
    """Metric vs number of training instruction types, error bars = 95% intervals."""
    if not points:
        raise ValueError("no ladder or all-types arms: nothing for the diversity curve")
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7.0, 4.5))
    points = sorted(points, key=lambda p: p.num_types)
    cells = sorted({cell for point in points for cell in point.cells})
    for cell in cells:
        present = [p for p in points if cell in p.cells]
        xs = [p.num_types for p in present]
        values, errors = zip(*(_error(p.cells[cell], metric) for p in present))
        axis.errorbar(
            xs,
            values,
            yerr=list(zip(*errors)),
            marker="o",
            capsize=3,
            label=f"{cell[0]} / {cell[1]} ({cell[2]})",
        )
    axis.set_xscale("log", base=2)
    ticks = sorted({p.num_types for p in points})
    axis.set_xticks(ticks)
    axis.set_xticklabels([str(t) for t in ticks])
    axis.set_xlabel("tasks (family x instruction type) in the training mixture")
    axis.set_ylabel(f"{metric} (95% bootstrap interval over users)")
    axis.set_title("Instruction diversity")
    axis.legend(fontsize=7, loc="best")
    return _save(figure, plt, path)


def write_held_out_chart(pairs: Sequence[HeldOutPair], metric: str, path: Path) -> Path:
    """Horizontal bars: per held-out type and cell, trained without vs with it."""
    if not pairs:
        raise ValueError("no arm holds out an evaluated instruction type")
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7.5, 1.2 + 0.9 * len(pairs)))
    labels = []
    for index, pair in enumerate(pairs):
        for offset, (cell, name) in enumerate(
            ((pair.without, f"trained without {pair.held_out}"), (pair.with_, "trained with it"))
        ):
            value, error = _error(cell, metric)
            axis.barh(
                index + (offset - 0.5) * 0.4,
                value,
                height=0.4,
                xerr=[[error[0]], [error[1]]],
                capsize=3,
                color=("tab:orange", "tab:blue")[offset],
                label=name if index == 0 else None,
            )
        labels.append(f"{pair.arm}\n{pair.cell[0]} / {pair.cell[1]} ({pair.cell[2]})")
    axis.set_yticks(range(len(pairs)))
    axis.set_yticklabels(labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlim(0.0, 1.0)
    axis.set_xlabel(f"{metric} on the held-out type (95% bootstrap interval over users)")
    axis.set_title("Held-out instruction type")
    axis.legend(fontsize=7, loc="lower right")
    return _save(figure, plt, path)


def _save(figure: Any, plt: Any, path: Path) -> Path:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
