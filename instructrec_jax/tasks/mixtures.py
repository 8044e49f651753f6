"""Which training tasks go into which mixture, and at what rate (plain Python, no SeqIO).

Mixtures of one dataset (names in ``naming``):

- ``all``: every training task.
- one per family (``seqrec``, ``search``, ``psearch``) that has training tasks.
- ``all_but_<type>`` per held-out instruction type: every training task except those of
  that type (in any family). Only that exact type is held out, as in the paper's study of
  ⟨P1, I1, T3⟩: a type that adds a code, such as ``p1p2_i1_t3`` (the same request with a
  stated preference), is another instruction type and stays in the mixture. To hold a
  whole scenario out, hold out each of its types (``held_out_types``). Besides the
  ``held_out_types``, every type named in ``leave_one_out_types`` (or every type, with
  :data:`ALL_TYPES`) gets its ``all_but_<type>`` mixture, so a gin file can name any type's
  leave-one-out arm.
- ``all_but_<family>`` (``all_but_seqrec``, ``all_but_search``, ``all_but_psearch``): every
  training task outside one family (leave one family out), where that leaves any task.
  Together with the per-family mixtures this sets up "train on one family, evaluate on
  another": train on ``<family>``, evaluate every scenario.
- ``ladder_<n>`` for n = 1, 2, 4, ... and finally the total: the first n tasks of the
  ladder order, for the instruction-diversity ablation. The ladder never contains a
  held-out type (the ablation evaluates on it). Default order: plain types before the
  diversity strategies (turnaround, relatedness, cot); then by task form, reranking (t3)
  first, then matching (t2), pointwise (t0), pairwise (t1); then families in
  ``records.FAMILIES`` order; then the type name. So the ladder starts at the core
  reranking tasks and adds the more diverse formats later.
- custom mixtures (``custom_mixtures``, e.g. from gin): a name and its member tasks
  (``family/type`` keys, or bare types that one family has), registered as
  ``instructrec_<dataset>_<name>``; a name that a generated mixture already has is an error.

Rates: ``"examples"`` = the task's training record count (example-proportional mixing),
``"uniform"`` = 1 for every task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from instructrec_jax.instructions.records import FAMILIES
from instructrec_jax.tasks import naming

RATE_KINDS: tuple[str, ...] = ("examples", "uniform")
ALL_TYPES = "all"  # leave_one_out_types: every instruction type that has training tasks
RateChoice = str | Callable[[], str]


@dataclasses.dataclass(frozen=True)
class TrainingTask:
    """A registered task with a non-empty train split."""

    name: str
    family: str
    instruction_type: str
    num_train_records: int

    @property
    def key(self) -> str:
        """``"<family>/<instruction_type>"`` as in the manifest."""
        return f"{self.family}/{self.instruction_type}"


def check_rate_kind(kind: str) -> str:
    """Return ``kind`` if it is one of ``RATE_KINDS``, else raise naming the choices."""
    if kind not in RATE_KINDS:
        raise ValueError(f"mixture rate must be one of {RATE_KINDS}, got {kind!r}")
    return kind


def rate_value(kind: str, num_train_records: int) -> float:
    """Mixing rate of a task with ``num_train_records`` training records."""
    return float(num_train_records) if check_rate_kind(kind) == "examples" else 1.0


class TaskRate:
    """A SeqIO mixture rate (``rate(task) -> float``) resolved when the mixture is read.

    ``choice`` is a rate kind or a zero-argument callable returning one (e.g. a
    gin-configurable function), so the kind can be changed after registration.
    """

    def __init__(self, choice: RateChoice, num_train_records: int) -> None:
        if not callable(choice):
            check_rate_kind(choice)
        self._choice = choice
        self._num_train_records = num_train_records

    def __call__(self, task: Any = None) -> float:
        kind = self._choice() if callable(self._choice) else self._choice
        return rate_value(kind, self._num_train_records)


def _family_rank(family: str) -> int:
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


TASK_FORM_ORDER: tuple[str, ...] = ("t3", "t2", "t0", "t1")


def _ladder_sort_key(task: TrainingTask) -> tuple[int, int, int, str]:
    parts = task.instruction_type.split("_")
    has_strategy = len(parts) > 3
    form = parts[2] if len(parts) > 2 else ""
    form_rank = TASK_FORM_ORDER.index(form) if form in TASK_FORM_ORDER else len(TASK_FORM_ORDER)
    return (int(has_strategy), form_rank, _family_rank(task.family), task.instruction_type)


def default_ladder_order(tasks: Iterable[TrainingTask]) -> list[str]:
    """Keys in the default ladder order (see the module docstring)."""
    return [task.key for task in sorted(tasks, key=_ladder_sort_key)]


def resolve_ladder_order(
    ladder_order: Sequence[str], tasks: Sequence[TrainingTask]
) -> list[TrainingTask]:
    """Map ladder (or custom mixture) entries (``family/type`` keys, or a bare type that one
    family has) to tasks."""
    by_key = {task.key: task for task in tasks}
    resolved: list[TrainingTask] = []
    for entry in ladder_order:
        if entry in by_key:
            match = by_key[entry]
        else:
            candidates = [task for task in tasks if task.instruction_type == entry]
            if len(candidates) != 1:
                raise ValueError(
                    f"ladder entry {entry!r} matches {len(candidates)} training tasks; use a "
                    f"'family/type' key, one of {sorted(by_key)}"
                )
            match = candidates[0]
        if match in resolved:
            raise ValueError(f"ladder entry {entry!r} repeats task {match.key!r}")
        resolved.append(match)
    return resolved


def ladder_sizes(total: int) -> list[int]:
    """1, 2, 4, ... below ``total``, then ``total`` (empty when ``total`` is 0)."""
    sizes: list[int] = []
    size = 1
    while size < total:
        sizes.append(size)
        size *= 2
    if total > 0:
        sizes.append(total)
    return sizes


def plan_mixtures(
    dataset: str,
    tasks: Sequence[TrainingTask],
    held_out_types: Sequence[str] = (),
    ladder_order: Sequence[str] | None = None,
    leave_one_out_types: Sequence[str] | str = (),
    custom_mixtures: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, list[TrainingTask]]:
    """Mixture name -> member tasks, for every mixture described in the module docstring.

    Args:
      dataset: dataset name (``ml-100k``).
      tasks: the training tasks.
      held_out_types: types kept out of the ladder; each gets an ``all_but_`` mixture.
      ladder_order: ladder keys; default :func:`default_ladder_order`.
      leave_one_out_types: further types that get an ``all_but_`` mixture (not kept out of
        the ladder); :data:`ALL_TYPES` for every type.
      custom_mixtures: mixture name (without the dataset prefix) -> member entries.

    Held-out types that no training task has get no ``all_but_`` mixture (nothing to hold
    out). A ``ladder_order`` naming a held-out type is an error.
    """
    plans: dict[str, list[TrainingTask]] = {}
    if not tasks:
        return plans
    plans[naming.all_mixture_name(dataset)] = list(tasks)
    for family in FAMILIES:
        members = [task for task in tasks if task.family == family]
        if members:
            plans[naming.family_mixture_name(dataset, family)] = members
    for family in FAMILIES:
        rest = [task for task in tasks if task.family != family]
        if rest and len(rest) < len(tasks):
            plans[naming.leave_one_family_out_mixture_name(dataset, family)] = rest
    present_types = sorted({task.instruction_type for task in tasks})
    if leave_one_out_types == ALL_TYPES:
        leave_one_out_types = present_types
    elif isinstance(leave_one_out_types, str):
        raise ValueError(
            f"leave_one_out_types must be a list of types or {ALL_TYPES!r}, "
            f"got {leave_one_out_types!r}"
        )
    for held_out in dict.fromkeys([*held_out_types, *leave_one_out_types]):
        if held_out in present_types:
            plans[naming.leave_one_out_mixture_name(dataset, held_out)] = [
                task for task in tasks if task.instruction_type != held_out
            ]
    ladder_pool = [task for task in tasks if task.instruction_type not in held_out_types]
    if ladder_order is None:
        order = resolve_ladder_order(default_ladder_order(ladder_pool), ladder_pool)
    else:
        order = resolve_ladder_order(ladder_order, tasks)
        held = [task.key for task in order if task.instruction_type in held_out_types]
        if held:
            raise ValueError(f"ladder_order names held-out tasks {held}")
    for size in ladder_sizes(len(order)):
        plans[naming.ladder_mixture_name(dataset, size)] = order[:size]
    for name, entries in (custom_mixtures or {}).items():
        mixture_name = naming.custom_mixture_name(dataset, name)
        if mixture_name in plans:
            raise ValueError(f"custom mixture {name!r} is already a generated mixture's name")
        if not entries:
            raise ValueError(f"custom mixture {name!r} names no tasks")
        try:
            plans[mixture_name] = resolve_ladder_order(entries, tasks)
        except ValueError as error:
            raise ValueError(f"custom mixture {name!r}: {error}") from None
    return plans


def expected_proportions(members: Sequence[TrainingTask], kind: str) -> Mapping[str, float]:
    """Task name -> share of a mixture's examples under rate ``kind`` (sums to 1)."""
    rates = {task.name: rate_value(kind, task.num_train_records) for task in members}
    total = sum(rates.values())
    return {name: rate / total for name, rate in rates.items()}
