"""Build the records of one work unit: a chunk of training examples or of an eval split.

Every random choice is drawn from ``random.Random(seeded_hash(seed, ...))`` keyed by the
example's global index (training) or ids (evaluation), so a unit's records depend only on
the dataset, the configuration and the seed: never on which process renders them.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from instructrec_jax.data.negatives import CatalogNegativeSampler
from instructrec_jax.data.seeding import seeded_hash
from instructrec_jax.data.types import EvalExample, Item, TrainExample
from instructrec_jax.instructions.codes import CodeCombination, Intention, TaskForm
from instructrec_jax.instructions.records import InstructionRecord
from instructrec_jax.instructions.render import (
    RenderInput,
    build_record,
    render,
    render_rank_records,
    shuffled_candidates,
)
from instructrec_jax.instructions.stats import RenderStats
from instructrec_jax.instructions.teachers import AnnotationRequest, Teacher
from instructrec_jax.instructions.templates import Template
from instructrec_jax.instructions.tokens import TokenCounter


class NegativeSampler(Protocol):
    """What the builders need from a dataset to draw negatives for a user."""

    def sample_negatives(
        self, user_id: str, n: int, seed: int, exclude: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """``n`` distinct items the user never interacted with (seeded)."""
        ...


@dataclasses.dataclass(frozen=True)
class BuildContext:
    """Everything the builders share (sent once to each worker process).

    Attributes:
      catalog: item id -> Item.
      sampler: draws a user's negatives (the ProcessedDataset).
      item_split: item id -> "train" | "valid" | "test" (product search).
      item_reviews: item id -> one review of it (product-search queries).
      train_pools: family -> (template, combination) pairs to sample training records from.
      eval_templates: family -> ids of the plain T3 templates rendered for valid/test.
      per_example: family -> records per training example.
      teacher, counter, max_input_tokens, seed: as in ``GenerateConfig``.
      num_candidates: candidates of T3 records (1 positive + negatives).
    """

    catalog: Mapping[str, Item]
    sampler: NegativeSampler
    item_split: Mapping[str, str]
    item_reviews: Mapping[str, str]
    train_pools: Mapping[str, tuple[tuple[Template, CodeCombination], ...]]
    eval_templates: Mapping[str, tuple[str, ...]]
    templates: Mapping[str, Template]
    per_example: Mapping[str, int]
    teacher: Teacher
    counter: TokenCounter
    max_input_tokens: int
    seed: int
    num_candidates: int


def _shown_items(
    context: BuildContext,
    form: TaskForm,
    example: TrainExample,
    rng: random.Random,
    negative_seed: int,
) -> tuple[str, ...]:
    """Items shown by a training record of task form ``form``."""
    if form is TaskForm.T2:
        return ()
    if form is TaskForm.T0:
        if rng.random() < 0.5:
            return (example.target,)
        return context.sampler.sample_negatives(example.user_id, 1, negative_seed)
    count = 2 if form is TaskForm.T1 else context.num_candidates
    negatives = context.sampler.sample_negatives(example.user_id, count - 1, negative_seed)
    order = [example.target, *negatives]
    rng.shuffle(order)
    return tuple(order)


def _record(
    context: BuildContext,
    template: Template,
    combination: CodeCombination,
    data: RenderInput,
    split: str,
    user_id: str,
    stats: RenderStats,
) -> InstructionRecord:
    """One rendered record of ``split``, counted in ``stats``."""
    rendered = render(
        template, combination, context.catalog, data, context.counter, context.max_input_tokens
    )
    record = build_record(template, combination, rendered, data, context.catalog, split, user_id)
    stats.add(record, rendered.truncated, rendered.within_budget)
    return record


def train_records(
    context: BuildContext, examples: Sequence[TrainExample], first_index: int, stats: RenderStats
) -> Iterator[InstructionRecord]:
    """Training records for ``examples`` (global indices start at ``first_index``).

    Per example and family, ``per_example[family]`` (template, combination) pairs drawn
    uniformly from the family's pool. Records with an intention (I1/I2: a query about the
    target, as in product search and personalized search) are only kept for targets in
    the train part of the item split: the product-search queries of valid/test items come
    from the same reviews, so those items and their queries stay unseen in training.
    """
    requests = [AnnotationRequest(e.history, e.target, e.review, context.catalog) for e in examples]
    annotations = context.teacher.annotate_batch(requests)
    for offset, (example, annotation) in enumerate(zip(examples, annotations)):
        index = str(first_index + offset)
        rng = random.Random(seeded_hash(context.seed, "train", index))
        held_out = context.item_split.get(example.target) != "train"
        for family in sorted(context.per_example):
            pool = context.train_pools.get(family, ())
            if not pool:
                continue
            if family == "product_search" and held_out:
                continue
            for draw in range(context.per_example[family]):
                template, combination = pool[rng.randrange(len(pool))]
                if held_out and combination.intention is not Intention.I0:
                    continue
                negative_seed = seeded_hash(context.seed, "negatives", index, family, str(draw))
                shown = _shown_items(context, combination.task_form, example, rng, negative_seed)
                data = RenderInput(example.history, example.target, annotation, shown)
                yield _record(context, template, combination, data, "train", example.user_id, stats)


def user_eval_records(
    context: BuildContext, examples: Sequence[EvalExample], stats: RenderStats
) -> Iterator[InstructionRecord]:
    """Rank-form records of the recommendation and personalized-search eval templates."""
    template_ids = [
        template_id
        for family in ("recommendation", "personalized_search")
        for template_id in context.eval_templates.get(family, ())
    ]
    yield from render_rank_records(
        context.catalog,
        examples,
        template_ids,
        context.teacher,
        context.seed,
        context.counter,
        context.max_input_tokens,
        templates=context.templates,
        stats=stats,
    )


def product_search_eval_records(
    context: BuildContext, split: str, item_ids: Sequence[str], stats: RenderStats
) -> Iterator[InstructionRecord]:
    """Rank-form product-search records for the items of one item-split part.

    Query = the item's I1 (from one of its reviews, else its attributes) or I2; candidates
    = the item plus ``num_candidates - 1`` other catalog items drawn with a seed. Only
    combinations without a user (P0) apply: there is no history or stated preference.
    """
    template_ids = context.eval_templates.get("product_search", ())
    if not template_ids:
        return
    titles = CatalogNegativeSampler(context.catalog)
    catalog_ids = titles.item_ids
    requests = [
        AnnotationRequest((), item_id, context.item_reviews.get(item_id), context.catalog)
        for item_id in item_ids
    ]
    annotations = context.teacher.annotate_batch(requests)
    for item_id, annotation in zip(item_ids, annotations):
        rng = random.Random(seeded_hash(context.seed, "product_search", split, item_id))
        # Candidates are ranked by title: an item with the target's title is no negative.
        blocked = titles.forbidden((item_id,))
        allowed = len(catalog_ids) - len(blocked)
        if allowed < context.num_candidates - 1:
            raise ValueError(
                f"product search item {item_id!r}: {context.num_candidates - 1} negatives "
                f"needed but only {allowed} catalog items have another title"
            )
        others: list[str] = []
        while len(others) < context.num_candidates - 1:
            drawn = catalog_ids[rng.randrange(len(catalog_ids))]
            if drawn not in blocked and drawn not in others:
                others.append(drawn)
        shown = shuffled_candidates((item_id, *others), context.seed, split, "", item_id)
        data = RenderInput((), item_id, annotation, shown)
        for template_id in template_ids:
            template = context.templates[template_id]
            for combination in template.combinations:
                if combination.has_history or combination.has_explicit_preference:
                    continue
                yield _record(context, template, combination, data, split, "", stats)
