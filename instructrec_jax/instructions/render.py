"""Render one template for one example: fill the slots, fit the token budget, build targets.

Slot values: history titles joined with "; " (oldest first, most recent last), the
teacher's explicit preference and intentions, candidates labelled "(A) ... (B) ..."
(numbered "(1) ..." beyond 26), the target title. The budget is enforced by dropping the
oldest history items (binary search over how many to drop); the task text, the query and
the candidates are never cut. If even a single history item does not fit, the record keeps
that item and is marked ``within_budget=False`` (counted in the statistics).
"""

from __future__ import annotations

import dataclasses
import random
import string
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

from instructrec_jax.data.seeding import seeded_hash
from instructrec_jax.data.types import EvalExample, Item
from instructrec_jax.instructions.codes import (
    CodeCombination,
    Context,
    Intention,
    Strategy,
    TaskForm,
)
from instructrec_jax.instructions.records import InstructionRecord
from instructrec_jax.instructions.stats import RenderStats
from instructrec_jax.instructions.teachers import Annotation, AnnotationRequest, Teacher
from instructrec_jax.instructions.templates import TargetKind, Template, load_templates
from instructrec_jax.instructions.tokens import TokenCounter, WhitespaceCounter

HISTORY_SEPARATOR = "; "
RECENT_HISTORY_IN_TARGETS = 3  # titles a relatedness / turn-around target lists
DEFAULT_MAX_INPUT_TOKENS = 512


@dataclasses.dataclass(frozen=True)
class RenderInput:
    """Everything one rendering needs about an example.

    Attributes:
      history: history item ids, oldest first (already truncated to ``max_history``).
      target: the target item id.
      annotation: the teacher's P2 / I1 / I2 for this example.
      shown: item ids shown as candidates, in display order: all candidates (T3), the one
        item asked about (T0), the two options (T1); empty for T2.
      context: optional situation, rendered as a leading sentence when not empty.
    """

    history: tuple[str, ...]
    target: str
    annotation: Annotation
    shown: tuple[str, ...] = ()
    context: Context | None = None


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A rendered instruction and what the budget did to it.

    Attributes:
      inputs, targets: the texts.
      history_kept: history items left in ``inputs`` (0 when the template shows none).
      truncated: True when older history items were dropped to fit the budget.
      within_budget: the final ``inputs`` fits ``max_input_tokens``.
    """

    inputs: str
    targets: str
    history_kept: int
    truncated: bool
    within_budget: bool


def candidate_label(index: int, count: int) -> str:
    """``(A)``..``(Z)`` for up to 26 candidates, else ``(1)``, ``(2)``, ..."""
    if count <= len(string.ascii_uppercase):
        return f"({string.ascii_uppercase[index]})"
    return f"({index + 1})"


def format_candidates(titles: Sequence[str]) -> str:
    """Labelled candidate list, e.g. ``(A) Heat (1995) (B) Fargo (1996)``."""
    return " ".join(f"{candidate_label(i, len(titles))} {title}" for i, title in enumerate(titles))


def intention_text(annotation: Annotation, combination: CodeCombination) -> str:
    """The vague (I1) or specific (I2) intention; empty for I0."""
    if combination.intention is Intention.I1:
        return annotation.vague_intention
    if combination.intention is Intention.I2:
        return annotation.specific_intention
    return ""


def context_sentence(context: Context | None) -> str:
    """``Context: time: ...; place: ...; occasion: ...`` or "" when absent/empty."""
    if context is None or context.is_empty():
        return ""
    fields = [
        f"{name}: {value}"
        for name, value in (
            ("time", context.time),
            ("place", context.place),
            ("occasion", context.occasion),
        )
        if value
    ]
    return "Context: " + "; ".join(fields) + "."


def target_text(
    template: Template,
    combination: CodeCombination,
    catalog: Mapping[str, Item],
    data: RenderInput,
) -> str:
    """The decoder target for a template's target kind (see ``TargetKind``)."""
    title = catalog[data.target].title
    recent = HISTORY_SEPARATOR.join(
        catalog[item_id].title for item_id in data.history[-RECENT_HISTORY_IN_TARGETS:]
    )
    kind = template.target
    if kind is TargetKind.ITEM or kind is TargetKind.PREFERRED_OPTION:
        return title
    if kind is TargetKind.YES_NO:
        return "Yes" if data.shown[0] == data.target else "No"
    if kind is TargetKind.PREFERENCE:
        return data.annotation.explicit_preference
    if kind is TargetKind.QUERY:
        return intention_text(data.annotation, combination)
    if kind is TargetKind.REASONING_THEN_ITEM:
        preference = data.annotation.explicit_preference
        return f'These choices sound like someone who says "{preference}". Next pick: {title}'
    if kind is TargetKind.HISTORY:
        return recent
    if kind is TargetKind.QUERY_THEN_ITEM:
        return f'Next search: "{intention_text(data.annotation, combination)}". Item: {title}'
    if kind is TargetKind.HISTORY_THEN_ITEM:
        return f"Earlier items: {recent}. Next item: {title}"
    raise ValueError(f"template {template.id}: unhandled target kind {kind}")


def _slot_values(
    combination: CodeCombination, catalog: Mapping[str, Item], data: RenderInput
) -> dict[str, str]:
    shown_titles = [catalog[item_id].title for item_id in data.shown]
    values = {
        "preference": data.annotation.explicit_preference,
        "intention": intention_text(data.annotation, combination),
        "target_title": catalog[data.target].title,
        "candidates": format_candidates(shown_titles),
    }
    if len(shown_titles) == 1:
        values["candidate"] = shown_titles[0]
    if len(shown_titles) == 2:
        values["option_a"], values["option_b"] = shown_titles
    return values


def render(
    template: Template,
    combination: CodeCombination,
    catalog: Mapping[str, Item],
    data: RenderInput,
    counter: TokenCounter,
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
) -> Rendered:
    """Render ``template`` with ``combination`` for one example within the token budget."""
    if combination not in template.combinations:
        raise ValueError(f"template {template.id} does not declare {combination.name}")
    pattern = template.format_string(combination)
    prefix = context_sentence(data.context)
    values = _slot_values(combination, catalog, data)
    targets = target_text(template, combination, catalog, data)
    if "{history}" not in pattern:
        inputs = _fill(pattern, values, prefix)
        fits = counter.count(inputs) <= max_input_tokens
        return Rendered(inputs, targets, 0, truncated=False, within_budget=fits)
    titles = [catalog[item_id].title for item_id in data.history]

    def with_history(drop: int) -> str:
        values["history"] = HISTORY_SEPARATOR.join(titles[drop:])
        return _fill(pattern, values, prefix)

    inputs = with_history(0)
    if counter.count(inputs) <= max_input_tokens:
        return Rendered(inputs, targets, len(titles), truncated=False, within_budget=True)
    # Smallest number of dropped (oldest) items that fits; keep at least one item.
    low, high = 1, max(len(titles) - 1, 0)
    if low > high or counter.count(with_history(high)) > max_input_tokens:
        inputs = with_history(high)
        return Rendered(
            inputs, targets, len(titles) - high, truncated=high > 0, within_budget=False
        )
    while low < high:
        middle = (low + high) // 2
        if counter.count(with_history(middle)) <= max_input_tokens:
            high = middle
        else:
            low = middle + 1
    inputs = with_history(low)
    return Rendered(inputs, targets, len(titles) - low, truncated=True, within_budget=True)


def _fill(pattern: str, values: Mapping[str, str], prefix: str) -> str:
    """Fill the slots; the context sentence (user text) stays out of ``str.format``."""
    body = pattern.format_map(values)
    return f"{prefix} {body}" if prefix else body


def build_record(
    template: Template,
    combination: CodeCombination,
    rendered: Rendered,
    data: RenderInput,
    catalog: Mapping[str, Item],
    split: str,
    user_id: str,
) -> InstructionRecord:
    """An InstructionRecord for a rendering (candidates = the shown items, if any)."""
    shown = data.shown if template.task_form is not TaskForm.T2 else ()
    positive_index = shown.index(data.target) if data.target in shown else -1
    return InstructionRecord(
        inputs=rendered.inputs,
        targets=rendered.targets,
        instruction_type=template.instruction_type(combination),
        template_id=template.id,
        family=template.family,
        split=split,
        user_id=user_id,
        target_item_id=data.target,
        candidate_item_ids=shown,
        candidate_titles=tuple(catalog[item_id].title for item_id in shown),
        positive_index=positive_index,
    )


def shuffled_candidates(candidates: Sequence[str], seed: int, *key: str) -> tuple[str, ...]:
    """``candidates`` in a seeded order determined by ``seed`` and the ``key`` strings."""
    order = list(candidates)
    random.Random(seeded_hash(seed, "candidates", *key)).shuffle(order)
    return tuple(order)


def _templates_by_id(
    template_ids: Sequence[str], templates: Mapping[str, Template] | None, form: TaskForm
) -> list[Template]:
    templates = load_templates() if templates is None else templates
    chosen = []
    for template_id in template_ids:
        if template_id not in templates:
            raise KeyError(f"unknown template id {template_id!r}")
        template = templates[template_id]
        if template.task_form is not form or template.strategy is not Strategy.PLAIN:
            raise ValueError(
                f"template {template_id} is {template.instruction_type(template.combinations[0])}"
                f", not a plain {form.value} template"
            )
        chosen.append(template)
    return chosen


def _annotated(
    examples: Iterable[EvalExample], catalog: Mapping[str, Item], teacher: Teacher
) -> Iterator[tuple[EvalExample, Annotation]]:
    """Pairs (example, annotation), annotating in batches of ``_ANNOTATION_BATCH``."""
    batch: list[EvalExample] = []

    def flush() -> Iterator[tuple[EvalExample, Annotation]]:
        requests = [AnnotationRequest(e.history, e.target, e.review, catalog) for e in batch]
        yield from zip(batch, teacher.annotate_batch(requests))
        batch.clear()

    for example in examples:
        batch.append(example)
        if len(batch) == _ANNOTATION_BATCH:
            yield from flush()
    yield from flush()


_ANNOTATION_BATCH = 256


def render_rank_records(
    catalog: Mapping[str, Item],
    examples: Iterable[EvalExample],
    template_ids: Sequence[str],
    teacher: Teacher,
    seed: int,
    counter: TokenCounter | None = None,
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
    *,
    templates: Mapping[str, Template] | None = None,
    instruction_types: Collection[str] | None = None,
    stats: RenderStats | None = None,
) -> Iterator[InstructionRecord]:
    """Rank-form (T3) records over each example's own candidates (any number of them).

    For every example, every template id (plain T3 templates only) and every combination
    the template declares (or only those whose instruction type is in
    ``instruction_types``), one record whose candidates are ``example.candidates`` in a
    seeded order (same order for all templates of one example); ``positive_index`` points
    at ``example.target``. Truncation outcomes are added to ``stats`` when given.
    """
    counter = WhitespaceCounter() if counter is None else counter
    chosen = _templates_by_id(template_ids, templates, TaskForm.T3)
    for example, annotation in _annotated(examples, catalog, teacher):
        shown = shuffled_candidates(
            example.candidates, seed, example.split, example.user_id, example.target
        )
        data = RenderInput(example.history, example.target, annotation, shown)
        for template in chosen:
            for combination in template.combinations:
                kind = template.instruction_type(combination)
                if instruction_types is not None and kind not in instruction_types:
                    continue
                rendered = render(template, combination, catalog, data, counter, max_input_tokens)
                record = build_record(
                    template, combination, rendered, data, catalog, example.split, example.user_id
                )
                if stats is not None:
                    stats.add(record, rendered.truncated, rendered.within_budget)
                yield record


def render_pointwise(
    template: Template,
    combination: CodeCombination,
    catalog: Mapping[str, Item],
    history: tuple[str, ...],
    candidate: str,
    target: str,
    annotation: Annotation,
    counter: TokenCounter | None = None,
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
    *,
    split: str = "test",
    user_id: str = "",
) -> InstructionRecord:
    """One T0 record for a (history, candidate) pair: target "Yes" iff candidate == target.

    ``candidate_item_ids`` is ``(candidate,)``; ``positive_index`` is 0 for the target and
    -1 otherwise, so a scorer can read P("Yes") per candidate.
    """
    if template.task_form is not TaskForm.T0:
        raise ValueError(f"template {template.id} is not a pointwise (t0) template")
    counter = WhitespaceCounter() if counter is None else counter
    data = RenderInput(history, target, annotation, (candidate,))
    rendered = render(template, combination, catalog, data, counter, max_input_tokens)
    return build_record(template, combination, rendered, data, catalog, split, user_id)


def render_pointwise_records(
    catalog: Mapping[str, Item],
    examples: Iterable[EvalExample],
    template_ids: Sequence[str],
    teacher: Teacher,
    counter: TokenCounter | None = None,
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
    *,
    templates: Mapping[str, Template] | None = None,
) -> Iterator[InstructionRecord]:
    """T0 records: one per (example, template, combination, candidate), candidates in
    ``example.candidates`` order (positive first), so scores align with ``CandidateScorer``.
    """
    chosen = _templates_by_id(template_ids, templates, TaskForm.T0)
    for example, annotation in _annotated(examples, catalog, teacher):
        for template in chosen:
            for combination in template.combinations:
                for candidate in example.candidates:
                    yield render_pointwise(
                        template,
                        combination,
                        catalog,
                        example.history,
                        candidate,
                        example.target,
                        annotation,
                        counter,
                        max_input_tokens,
                        split=example.split,
                        user_id=example.user_id,
                    )
