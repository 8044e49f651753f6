"""Typed codes of the instruction format: preference, intention, task form, strategy, context.

An instruction *type* is a code combination plus a strategy. Its name is
``<p>_<i>_<t>[_<strategy>]`` with ``p`` in {p0, p1, p2, p1p2}, ``i`` in {i0, i1, i2},
``t`` in {t0, t1, t2, t3} and the strategy suffix absent for plain instructions, e.g.
``p1_i0_t3``, ``p1p2_i0_t2``, ``p1_i0_t2_cot``, ``p0_i2_t2_turnaround``.
"""

from __future__ import annotations

import dataclasses
import enum
import re


class Preference(enum.Enum):
    """Preference codes: P0 none, P1 implicit (history titles), P2 explicit (a statement)."""

    P0 = "p0"
    P1 = "p1"
    P2 = "p2"


class Intention(enum.Enum):
    """Intention codes: I0 none, I1 vague (a need in words), I2 specific (category keywords)."""

    I0 = "i0"
    I1 = "i1"
    I2 = "i2"


class TaskForm(enum.Enum):
    """Task forms: T0 pointwise Yes/No, T1 pairwise, T2 matching (generate), T3 reranking."""

    T0 = "t0"
    T1 = "t1"
    T2 = "t2"
    T3 = "t3"


class Strategy(enum.Enum):
    """Diversity strategies; PLAIN has no suffix in the instruction type name."""

    PLAIN = "plain"
    TURNAROUND = "turnaround"
    RELATEDNESS = "relatedness"
    COT = "cot"


@dataclasses.dataclass(frozen=True)
class Context:
    """Optional situation of a request (defined by the paper, unused in its experiments).

    Every field is free text; empty fields are not rendered.
    """

    time: str = ""
    place: str = ""
    occasion: str = ""

    def is_empty(self) -> bool:
        """True when no field is set."""
        return not (self.time or self.place or self.occasion)


_PREFERENCE_NAMES = {"p0": (), "p1": ("p1",), "p2": ("p2",), "p1p2": ("p1", "p2")}
_COMBINATION_RE = re.compile(r"^(p0|p1|p2|p1p2)_(i0|i1|i2)_(t0|t1|t2|t3)$")


@dataclasses.dataclass(frozen=True)
class CodeCombination:
    """A set of preference codes (empty = P0), one intention code and one task form.

    ``name`` (``p1p2_i0_t3``-style) is derived once at construction.
    """

    preferences: frozenset[Preference]
    intention: Intention
    task_form: TaskForm
    name: str = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        p_name = "".join(p.value for p in sorted(self.preferences, key=lambda p: p.value))
        name = f"{p_name or 'p0'}_{self.intention.value}_{self.task_form.value}"
        object.__setattr__(self, "name", name)

    @classmethod
    def parse(cls, name: str) -> CodeCombination:
        """Parse ``p1p2_i0_t3``-style names; raises ValueError on anything else."""
        match = _COMBINATION_RE.match(name)
        if match is None:
            raise ValueError(
                f"bad code combination {name!r}: expected <p>_<i>_<t> with p in "
                "p0|p1|p2|p1p2, i in i0|i1|i2, t in t0|t1|t2|t3"
            )
        p_name, i_name, t_name = match.groups()
        return cls(
            preferences=frozenset(Preference(p) for p in _PREFERENCE_NAMES[p_name]),
            intention=Intention(i_name),
            task_form=TaskForm(t_name),
        )

    @property
    def has_history(self) -> bool:
        """P1: the user's history titles are part of the instruction."""
        return Preference.P1 in self.preferences

    @property
    def has_explicit_preference(self) -> bool:
        """P2: an explicit preference statement is part of the instruction."""
        return Preference.P2 in self.preferences

    @property
    def has_intention(self) -> bool:
        """I1 or I2."""
        return self.intention is not Intention.I0


def instruction_type_name(combination: CodeCombination, strategy: Strategy) -> str:
    """The instruction type: combination name plus ``_<strategy>`` unless plain."""
    if strategy is Strategy.PLAIN:
        return combination.name
    return f"{combination.name}_{strategy.value}"
