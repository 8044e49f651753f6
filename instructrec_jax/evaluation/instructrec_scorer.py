"""InstructRec as a ranker: render an instruction, tokenize it, score candidate titles.

:class:`InstructRecScorer` implements both :class:`~instructrec_jax.evaluation.scorer.
CandidateScorer` (an example's own candidates) and :class:`~instructrec_jax.evaluation.
candidate_lists.CandidateListScorer` (any candidate list, for grouped reranking). For every
example it asks the teacher for the annotation (P2 / I1 / I2 from the *target*), shows the
candidates in a seeded order inside the rendered T3 template, and scores each candidate's
title (EOS-terminated) by its log-likelihood with
:class:`~instructrec_jax.inference.engine.ScoringEngine` (encode once, all candidates in one
pass). Scores come back in the caller's candidate order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from instructrec_jax.data.types import EvalExample, Item
from instructrec_jax.inference.buckets import EOS_ID
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.instructions.codes import CodeCombination, Strategy, TaskForm
from instructrec_jax.instructions.render import RenderInput, render, shuffled_candidates
from instructrec_jax.instructions.teachers import AnnotationRequest, Teacher
from instructrec_jax.instructions.templates import Template
from instructrec_jax.instructions.tokens import TokenCounter, WhitespaceCounter


class TextTokenizer(Protocol):
    """Text -> token ids without EOS (``seqio.SentencePieceVocabulary`` fits)."""

    def encode(self, s: str) -> Sequence[int]:
        """Token ids of ``s``."""
        ...


def rank_templates(templates: Mapping[str, Template], instruction_type: str) -> list[str]:
    """Ids of the plain T3 templates that render ``instruction_type``, in id order."""
    return [
        template_id
        for template_id, template in templates.items()
        if template.task_form is TaskForm.T3
        and template.strategy is Strategy.PLAIN
        and any(template.instruction_type(c) == instruction_type for c in template.combinations)
    ]


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """How instructions are rendered and tokenized.

    Attributes:
      seed: seeds the displayed candidate order.
      max_input_tokens: instruction budget including EOS. The renderer drops the oldest
        history items to fit; an instruction that still does not fit (e.g. 100 candidate
        titles in one ``full100`` instruction) is cut at the end.
      max_target_tokens: candidate title tokens kept (EOS included).
      counter: the renderer's token counter (use the model's SentencePiece counter).
    """

    seed: int = 0
    max_input_tokens: int = 512
    max_target_tokens: int = 64
    counter: TokenCounter = dataclasses.field(default_factory=WhitespaceCounter)


class InstructRecScorer:
    """Likelihood ranking of candidate titles under one template and instruction type.

    Args:
      engine: scores token-level candidates for token-level instructions.
      tokenizer: the model's vocabulary.
      catalog: item id -> Item.
      teacher: writes P2 / I1 / I2 (the same teacher that generated the training data).
      templates: template id -> Template (``load_templates()``).
      instruction_type: e.g. ``p1_i0_t3``.
      template_id: a plain T3 template that renders ``instruction_type``.
      settings: rendering and tokenization settings.
      name: the ranker's name in reports.
    """

    def __init__(
        self,
        engine: ScoringEngine,
        tokenizer: TextTokenizer,
        catalog: Mapping[str, Item],
        teacher: Teacher,
        templates: Mapping[str, Template],
        instruction_type: str,
        template_id: str,
        settings: RenderSettings | None = None,
        name: str = "InstructRec",
    ) -> None:
        if template_id not in rank_templates(templates, instruction_type):
            raise ValueError(
                f"template {template_id!r} is not a plain T3 template of {instruction_type!r}; "
                f"choose one of {rank_templates(templates, instruction_type)}"
            )
        self.engine = engine
        self.tokenizer = tokenizer
        self.catalog = catalog
        self.teacher = teacher
        self.templates = templates
        self.instruction_type = instruction_type
        self.template_id = template_id
        self.template = templates[template_id]
        self.combination = CodeCombination.parse(instruction_type)
        self.settings = settings or RenderSettings()
        self.name = name
        self._title_tokens: dict[str, list[int]] = {}

    def template_ids(self, instruction_type: str) -> list[str]:
        """Templates this scorer can be rebound to for ``instruction_type``."""
        return rank_templates(self.templates, instruction_type)

    def with_template(self, instruction_type: str, template_id: str) -> InstructRecScorer:
        """A scorer sharing this one's engine and caches, bound to another template."""
        other = InstructRecScorer(
            self.engine,
            self.tokenizer,
            self.catalog,
            self.teacher,
            self.templates,
            instruction_type,
            template_id,
            self.settings,
            self.name,
        )
        other._title_tokens = self._title_tokens
        return other

    def score(self, examples: Sequence[EvalExample]) -> np.ndarray:
        """Log-likelihoods [num_examples, num_candidates] in ``candidates`` order."""
        return self.score_lists(examples, [example.candidates for example in examples])

    def score_lists(
        self, examples: Sequence[EvalExample], candidate_lists: Sequence[Sequence[str]]
    ) -> np.ndarray:
        """Log-likelihoods [num_examples, n] in ``candidate_lists`` order."""
        if not examples:
            return np.zeros((0, 0), dtype=np.float64)
        instructions, shown_lists = self.render_instructions(examples, candidate_lists)
        targets = [[self._title(item_id) for item_id in shown] for shown in shown_lists]
        shown_scores = self.engine.score(instructions, targets)
        out = np.zeros(shown_scores.shape, dtype=np.float64)
        for row, (shown, wanted) in enumerate(zip(shown_lists, candidate_lists)):
            column = {item_id: j for j, item_id in enumerate(shown)}
            out[row] = shown_scores[row, [column[item_id] for item_id in wanted]]
        return out

    def render_instructions(
        self, examples: Sequence[EvalExample], candidate_lists: Sequence[Sequence[str]]
    ) -> tuple[list[list[int]], list[tuple[str, ...]]]:
        """Token ids of each rendered instruction and the candidate order it shows."""
        requests = [
            AnnotationRequest(e.history, e.target, e.review, self.catalog) for e in examples
        ]
        annotations = self.teacher.annotate_batch(requests)
        instructions, shown_lists = [], []
        for example, annotation, candidates in zip(examples, annotations, candidate_lists):
            if len(set(candidates)) != len(candidates):
                raise ValueError(f"user {example.user_id!r}: duplicate candidates {candidates}")
            shown = shuffled_candidates(
                candidates, self.settings.seed, example.split, example.user_id, example.target
            )
            data = RenderInput(example.history, example.target, annotation, shown)
            # One token of the budget is EOS, so the renderer drops history, not the tail.
            rendered = render(
                self.template,
                self.combination,
                self.catalog,
                data,
                self.settings.counter,
                self.settings.max_input_tokens - 1,
            )
            tokens = list(self.tokenizer.encode(rendered.inputs))
            instructions.append([*tokens[: self.settings.max_input_tokens - 1], EOS_ID])
            shown_lists.append(shown)
        return instructions, shown_lists

    def _title(self, item_id: str) -> list[int]:
        tokens = self._title_tokens.get(item_id)
        if tokens is None:
            encoded = list(self.tokenizer.encode(self.catalog[item_id].title))
            tokens = [*encoded[: self.settings.max_target_tokens - 1], EOS_ID]
            self._title_tokens[item_id] = tokens
        return tokens
