"""Instruction templates: loading and validation of ``tasks/templates/*.toml``.

A template file holds ``[[template]]`` tables (and optionally a file-level ``family``)::

    family = "recommendation"

    [[template]]
    id = "A7"
    strategy = "plain"              # plain | turnaround | relatedness | cot
    target = "item"                 # see TargetKind
    combinations = ["p1_i0_t3", "p1p2_i0_t3"]
    summary = "history (+ preference) -> pick one candidate"
    text = "... {history} ... [[They put it this way: {preference}.]] ... {candidates}"

``{slot}`` marks a value filled at render time (see ``SLOTS``). ``[[ ... ]]`` is an optional
segment, kept only for the combinations that provide every slot inside it; that is how
one template serves ``<P1,(P2),...>`` with and without the explicit preference.

Validation (errors name the file and the template id): unknown keys, slots, strategies,
targets or families; a combination that does not provide a slot used outside an optional
segment; a combination whose codes need a slot that the text never uses; a target kind that
does not fit the task form or strategy; duplicate ids across files.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib.resources
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tomllib

from instructrec_jax.instructions.codes import (
    CodeCombination,
    Strategy,
    TaskForm,
    instruction_type_name,
)
from instructrec_jax.instructions.records import FAMILIES


class TemplateError(ValueError):
    """A template file is malformed; the message names the file and the template id."""


class TargetKind(enum.Enum):
    """What the decoder must produce for a template."""

    ITEM = "item"  # the target item's title (T2, T3)
    YES_NO = "yes_no"  # T0
    PREFERRED_OPTION = "preferred_option"  # T1: title of the preferred of two
    PREFERENCE = "preference"  # turn-around: the explicit preference text
    QUERY = "query"  # turn-around: the intention (query) text
    REASONING_THEN_ITEM = "reasoning_then_item"  # CoT
    HISTORY = "history"  # relatedness: the most recent history titles
    QUERY_THEN_ITEM = "query_then_item"  # relatedness: next query, then the item
    HISTORY_THEN_ITEM = "history_then_item"  # turn-around: past items, then the next item


SLOTS: frozenset[str] = frozenset(
    {
        "history",  # P1: history titles, oldest first
        "preference",  # P2: explicit preference text
        "intention",  # I1 / I2: vague or specific intention text
        "candidates",  # T3: labelled candidate titles
        "candidate",  # T0: the one item asked about
        "option_a",  # T1: first option
        "option_b",  # T1: second option
        "target_title",  # the target item shown in the input (turn-around, relatedness)
    }
)

# Slots that a target kind consumes: the value is the output, so it must not be an input.
_OUTPUT_SLOTS: dict[TargetKind, frozenset[str]] = {
    TargetKind.PREFERENCE: frozenset({"preference"}),
    TargetKind.QUERY: frozenset({"intention"}),
    TargetKind.HISTORY: frozenset({"history"}),
    TargetKind.QUERY_THEN_ITEM: frozenset({"intention"}),
    TargetKind.HISTORY_THEN_ITEM: frozenset({"history"}),
}
_SHOWS_TARGET_ITEM = frozenset({TargetKind.PREFERENCE, TargetKind.QUERY, TargetKind.HISTORY})
_TASK_FORM_SLOTS: dict[TaskForm, frozenset[str]] = {
    TaskForm.T0: frozenset({"candidate"}),
    TaskForm.T1: frozenset({"option_a", "option_b"}),
    TaskForm.T2: frozenset(),
    TaskForm.T3: frozenset({"candidates"}),
}
_ALLOWED_TARGETS: dict[tuple[Strategy, TaskForm], frozenset[TargetKind]] = {
    (Strategy.PLAIN, TaskForm.T0): frozenset({TargetKind.YES_NO}),
    (Strategy.PLAIN, TaskForm.T1): frozenset({TargetKind.PREFERRED_OPTION}),
    (Strategy.PLAIN, TaskForm.T2): frozenset({TargetKind.ITEM}),
    (Strategy.PLAIN, TaskForm.T3): frozenset({TargetKind.ITEM}),
    (Strategy.COT, TaskForm.T2): frozenset({TargetKind.REASONING_THEN_ITEM}),
    (Strategy.TURNAROUND, TaskForm.T2): frozenset(
        {TargetKind.PREFERENCE, TargetKind.QUERY, TargetKind.HISTORY_THEN_ITEM}
    ),
    (Strategy.RELATEDNESS, TaskForm.T2): frozenset(
        {TargetKind.HISTORY, TargetKind.QUERY_THEN_ITEM}
    ),
}
_TEMPLATE_KEYS = frozenset(
    {"id", "family", "strategy", "target", "combinations", "summary", "text"}
)
_SLOT_RE = re.compile(r"\{([^{}]*)\}")
_OPTIONAL_RE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)


def available_slots(combination: CodeCombination, target: TargetKind) -> frozenset[str]:
    """Slots whose values a (combination, target kind) provides as inputs."""
    slots: set[str] = set(_TASK_FORM_SLOTS[combination.task_form])
    if combination.has_history:
        slots.add("history")
    if combination.has_explicit_preference:
        slots.add("preference")
    if combination.has_intention:
        slots.add("intention")
    if target in _SHOWS_TARGET_ITEM:
        slots.add("target_title")
    return frozenset(slots - _OUTPUT_SLOTS.get(target, frozenset()))


@dataclasses.dataclass(frozen=True)
class Template:
    """One validated instruction template.

    Attributes:
      id: ``A1``..``A17``, ``B1``..``B9``, ``C1``..``C13``, ``D1``.. (pairwise extras).
      family: one of ``records.FAMILIES``.
      strategy: plain, turn-around, relatedness or CoT.
      target: what the decoder produces.
      combinations: the code combinations the template can render.
      text: the raw template text with ``{slot}`` and ``[[optional]]`` segments.
      slots: every slot the text uses.
      summary: one line describing the template.
      source: the file it came from.
    """

    id: str
    family: str
    strategy: Strategy
    target: TargetKind
    combinations: tuple[CodeCombination, ...]
    text: str
    slots: frozenset[str]
    summary: str
    source: str
    _formats: dict[str, str] = dataclasses.field(
        init=False, compare=False, repr=False, hash=False, default_factory=dict
    )
    _types: dict[str, str] = dataclasses.field(
        init=False, compare=False, repr=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for combination in self.combinations:
            self._formats[combination.name] = _format_string(self, combination)
            self._types[combination.name] = instruction_type_name(combination, self.strategy)

    @property
    def task_form(self) -> TaskForm:
        """The task form shared by every combination."""
        return self.combinations[0].task_form

    def instruction_type(self, combination: CodeCombination) -> str:
        """The instruction type name of this template rendered with ``combination``."""
        return self._types[combination.name]

    def format_string(self, combination: CodeCombination) -> str:
        """``str.format`` text for one combination: optional segments resolved."""
        return self._formats[combination.name]


def _format_string(template: Template, combination: CodeCombination) -> str:
    provided = available_slots(combination, template.target)

    def keep_or_drop(match: re.Match[str]) -> str:
        inner = match.group(1)
        return inner if set(_SLOT_RE.findall(inner)) <= provided else ""

    resolved = _OPTIONAL_RE.sub(keep_or_drop, template.text)
    return " ".join(resolved.split())


def _error(source: str, template_id: str, message: str) -> TemplateError:
    return TemplateError(f"{source}: template {template_id}: {message}")


def _parse_enum(enum_type: Any, value: Any, source: str, template_id: str, key: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise _error(source, template_id, f"{key}={value!r} is not one of {allowed}") from None


def _check_text(text: str, source: str, template_id: str) -> tuple[frozenset[str], frozenset[str]]:
    """Return (slots outside optional segments, slots inside them); check syntax."""
    if "[[" in _OPTIONAL_RE.sub("", text) or "]]" in _OPTIONAL_RE.sub("", text):
        raise _error(source, template_id, "unbalanced [[ ]] optional segment")
    optional_slots: set[str] = set()
    for inner in _OPTIONAL_RE.findall(text):
        if "[[" in inner:
            raise _error(source, template_id, "nested [[ ]] optional segments")
        inner_slots = set(_SLOT_RE.findall(inner))
        if not inner_slots:
            raise _error(source, template_id, f"optional segment without a slot: [[{inner}]]")
        optional_slots |= inner_slots
    required_slots = set(_SLOT_RE.findall(_OPTIONAL_RE.sub("", text)))
    for slot in sorted(required_slots | optional_slots):
        if slot not in SLOTS:
            raise _error(source, template_id, f"unknown slot {{{slot}}}; known: {sorted(SLOTS)}")
    stripped = _SLOT_RE.sub("", text)
    if "{" in stripped or "}" in stripped:
        raise _error(source, template_id, "stray brace outside a {slot}")
    return frozenset(required_slots), frozenset(optional_slots)


def _parse_template(table: dict[str, Any], file_family: str | None, source: str) -> Template:
    template_id = str(table.get("id", "<no id>"))
    if "id" not in table:
        raise _error(source, template_id, "missing key 'id'")
    unknown = set(table) - _TEMPLATE_KEYS
    if unknown:
        raise _error(source, template_id, f"unknown keys {sorted(unknown)}")
    for key in ("strategy", "target", "combinations", "text"):
        if key not in table:
            raise _error(source, template_id, f"missing key {key!r}")
    family = table.get("family", file_family)
    if family not in FAMILIES:
        raise _error(source, template_id, f"family {family!r} is not one of {FAMILIES}")
    strategy = _parse_enum(Strategy, table["strategy"], source, template_id, "strategy")
    target = _parse_enum(TargetKind, table["target"], source, template_id, "target")
    if not table["combinations"]:
        raise _error(source, template_id, "no combinations")
    try:
        combinations = tuple(CodeCombination.parse(name) for name in table["combinations"])
    except ValueError as exc:
        raise _error(source, template_id, str(exc)) from None
    task_forms = {c.task_form for c in combinations}
    if len(task_forms) != 1:
        raise _error(source, template_id, "combinations mix task forms")
    allowed_targets = _ALLOWED_TARGETS.get((strategy, combinations[0].task_form), frozenset())
    if target not in allowed_targets:
        raise _error(
            source,
            template_id,
            f"target {target.value!r} does not fit strategy {strategy.value!r} with task form "
            f"{combinations[0].task_form.value!r}",
        )
    text = str(table["text"])
    required_slots, optional_slots = _check_text(text, source, template_id)
    for combination in combinations:
        provided = available_slots(combination, target)
        not_provided = required_slots - provided
        if not_provided:
            raise _error(
                source,
                template_id,
                f"slot(s) {sorted(not_provided)} not provided by combination {combination.name}",
            )
        if not provided & (required_slots | optional_slots):
            raise _error(source, template_id, f"combination {combination.name} fills no slot")
        # The target item may be shown by a turn-around template but need not be.
        missing = provided - required_slots - optional_slots - {"target_title"}
        if missing:
            raise _error(
                source,
                template_id,
                f"missing slot(s) {sorted(missing)} needed by combination {combination.name}",
            )
    return Template(
        id=template_id,
        family=family,
        strategy=strategy,
        target=target,
        combinations=combinations,
        text=text,
        slots=required_slots | optional_slots,
        summary=str(table.get("summary", "")),
        source=source,
    )


def parse_template_file(text: str, source: str) -> list[Template]:
    """Parse and validate one TOML template file's text (``source`` names it in errors)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{source}: invalid TOML: {exc}") from None
    unknown = set(document) - {"family", "template"}
    if unknown:
        raise TemplateError(f"{source}: unknown top-level keys {sorted(unknown)}")
    tables = document.get("template", [])
    if not isinstance(tables, list) or not tables:
        raise TemplateError(f"{source}: expected at least one [[template]] table")
    return [_parse_template(table, document.get("family"), source) for table in tables]


def id_sort_key(template_id: str) -> tuple[str, int, str]:
    """Natural order of template ids: A2 before A10."""
    match = re.match(r"^([A-Za-z]+)(\d+)$", template_id)
    if match is None:
        return (template_id, 0, template_id)
    return (match.group(1), int(match.group(2)), template_id)


def collect_templates(files: Iterable[tuple[str, str]]) -> dict[str, Template]:
    """Validate ``(source name, TOML text)`` pairs into one id -> Template dict (id order)."""
    templates: dict[str, Template] = {}
    for source, text in files:
        for template in parse_template_file(text, source):
            if template.id in templates:
                raise _error(
                    source,
                    template.id,
                    f"duplicate id (already defined in {templates[template.id].source})",
                )
            templates[template.id] = template
    return {tid: templates[tid] for tid in sorted(templates, key=id_sort_key)}


def load_templates(directory: str | Path | None = None) -> dict[str, Template]:
    """Load and validate every ``*.toml`` file of ``directory``.

    Default: the packaged ``instructrec_jax_tasks/templates``. Returns id -> Template in
    natural id order (A1, A2, ..., A17, B1, ...).
    """
    if directory is None:
        return dict(_packaged_templates())
    paths = sorted(Path(directory).glob("*.toml"))
    if not paths:
        raise TemplateError(f"{directory}: no *.toml template files")
    return collect_templates((str(path), path.read_text(encoding="utf-8")) for path in paths)


def packaged_templates_dir() -> Path:
    """The ``templates`` folder of the installed ``instructrec_jax_tasks`` package.

    Looks through the package's ``__path__`` (an editable install can expose it as a
    namespace package, which ``importlib.resources.files`` cannot read) and falls back to
    ``importlib.resources`` for a regular install.
    """
    import instructrec_jax_tasks

    for entry in list(getattr(instructrec_jax_tasks, "__path__", [])):
        candidate = Path(entry) / "templates"
        if candidate.is_dir():
            return candidate
    return Path(str(importlib.resources.files("instructrec_jax_tasks") / "templates"))


@functools.lru_cache(maxsize=1)
def _packaged_templates() -> tuple[tuple[str, Template], ...]:
    root = packaged_templates_dir()
    files = sorted(root.glob("*.toml"))
    if not files:
        raise TemplateError(f"{root}: no *.toml template files")
    loaded = collect_templates(
        (f"templates/{path.name}", path.read_text(encoding="utf-8")) for path in files
    )
    return tuple(loaded.items())
