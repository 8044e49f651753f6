"""InstructRec as a ranker: render an instruction, tokenize it, score candidate titles.

With a T0 (pointwise) instruction type the ranker instead renders one "will the user
like X?" instruction per candidate and scores it by the log-odds log p(Yes) - log p(No) at
the first decoder step, which ranks as p(Yes) over {Yes, No} does without its float32
saturation (:class:`~instructrec_jax.inference.pointwise.PointwiseScorer`).

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
from instructrec_jax.inference.pointwise import PointwiseScorer
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


RANKING_FORMS = (TaskForm.T0, TaskForm.T3)


def rank_templates(
    templates: Mapping[str, Template], instruction_type: str, family: str | None = None
) -> list[str]:
    """Ids of the plain T3 / T0 templates that render ``instruction_type``, in id order.

    Args:
      templates: template id -> Template.
      instruction_type: e.g. ``p1p2_i0_t3``.
      family: keep only templates of this family (``records.FAMILIES``); None keeps all.
        ``p1p2_i0_t3`` is rendered by recommendation (A) and personalized-search (C)
        templates alike, and the paper selects the best template within a family.
    """
    return [
        template_id
        for template_id, template in templates.items()
        if template.task_form in RANKING_FORMS
        and template.strategy is Strategy.PLAIN
        and (family is None or template.family == family)
        and any(template.instruction_type(c) == instruction_type for c in template.combinations)
    ]


def answer_token_ids(tokenizer: TextTokenizer, answers: Sequence[str] = ("Yes", "No")) -> list[int]:
    """First token id of each answer word (for pointwise T0 scoring); they must differ."""
    ids = []
    for answer in answers:
        tokens = list(tokenizer.encode(answer))
        if not tokens:
            raise ValueError(f"the vocabulary encodes {answer!r} as no tokens")
        ids.append(int(tokens[0]))
    if len(set(ids)) != len(ids):
        raise ValueError(f"answers {answers} share their first token ids {ids}")
    return ids


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


@dataclasses.dataclass(frozen=True)
class InstructionRenderer:
    """Renders the instructions of the rankers that read one (InstructRec scoring or
    generating, a chat model), so that they all read the same text for an example.

    Attributes:
      catalog: item id -> Item.
      teacher: writes P2 / I1 / I2 (the same teacher that generated the training data).
      templates: template id -> Template (``load_templates()``).
      settings: rendering and tokenization settings.
    """

    catalog: Mapping[str, Item]
    teacher: Teacher
    templates: Mapping[str, Template]
    settings: RenderSettings = dataclasses.field(default_factory=RenderSettings)

    def texts(
        self,
        template_id: str,
        combination: CodeCombination,
        examples: Sequence[EvalExample],
        candidate_lists: Sequence[Sequence[str]],
    ) -> tuple[list[str], list[tuple[str, ...]]]:
        """Instruction texts and the candidate order each shows, within the token budget.

        T3: one instruction per example showing all its candidates (seeded display order).
        T0: one instruction per (example, candidate), flattened example-major, each showing
        one. The teacher annotates each example (P2 / I1 / I2 from the target). The renderer
        drops the oldest history items to fit ``settings.max_input_tokens`` - 1 (EOS)
        tokens as counted by ``settings.counter``.
        """
        template, settings = self.templates[template_id], self.settings
        requests = [
            AnnotationRequest(e.history, e.target, e.review, self.catalog) for e in examples
        ]
        annotations = self.teacher.annotate_batch(requests)
        texts, shown_lists = [], []
        for example, annotation, candidates in zip(examples, annotations, candidate_lists):
            if len(set(candidates)) != len(candidates):
                raise ValueError(f"user {example.user_id!r}: duplicate candidates {candidates}")
            if combination.task_form is TaskForm.T0:
                shown_each = [(candidate,) for candidate in candidates]
            else:
                shown_each = [
                    shuffled_candidates(
                        candidates, settings.seed, example.split, example.user_id, example.target
                    )
                ]
            for shown in shown_each:
                data = RenderInput(example.history, example.target, annotation, shown)
                rendered = render(
                    template,
                    combination,
                    self.catalog,
                    data,
                    settings.counter,
                    settings.max_input_tokens - 1,
                )
                texts.append(rendered.inputs)
                shown_lists.append(shown)
        return texts, shown_lists

    def token_ids(self, tokenizer: TextTokenizer, texts: Sequence[str]) -> list[list[int]]:
        """EOS-terminated token ids of each text, cut to ``settings.max_input_tokens``."""
        budget = self.settings.max_input_tokens - 1  # one token of the budget is EOS
        return [[*list(tokenizer.encode(text))[:budget], EOS_ID] for text in texts]


class InstructRecScorer:
    """Likelihood ranking of candidate titles under one template and instruction type.

    Args:
      engine: scores token-level candidates for token-level instructions.
      tokenizer: the model's vocabulary.
      renderer: catalog, teacher, templates and rendering settings.
      instruction_type: e.g. ``p1_i0_t3``.
      template_id: a plain T3 template that renders ``instruction_type``.
      name: the ranker's name in reports.
    """

    def __init__(
        self,
        engine: ScoringEngine,
        tokenizer: TextTokenizer,
        renderer: InstructionRenderer,
        instruction_type: str,
        template_id: str,
        name: str = "InstructRec",
    ) -> None:
        choices = rank_templates(renderer.templates, instruction_type)
        if template_id not in choices:
            raise ValueError(
                f"template {template_id!r} is not a plain T3/T0 template of {instruction_type!r}; "
                f"choose one of {choices}"
            )
        self.engine = engine
        self.tokenizer = tokenizer
        self.renderer = renderer
        self.instruction_type = instruction_type
        self.template_id = template_id
        self.combination = CodeCombination.parse(instruction_type)
        self.name = name
        self._title_tokens: dict[str, list[int]] = {}
        self._pointwise: list[PointwiseScorer] = []  # built on first T0 use, shared by copies

    def template_ids(self, instruction_type: str, family: str | None = None) -> list[str]:
        """Templates of ``family`` (None: any) this scorer can be rebound to for
        ``instruction_type``."""
        return rank_templates(self.renderer.templates, instruction_type, family)

    def with_template(self, instruction_type: str, template_id: str) -> InstructRecScorer:
        """A scorer sharing this one's engine and caches, bound to another template."""
        other = InstructRecScorer(
            self.engine, self.tokenizer, self.renderer, instruction_type, template_id, self.name
        )
        other._title_tokens = self._title_tokens
        other._pointwise = self._pointwise
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
        if self.combination.task_form is TaskForm.T0:
            return self._score_pointwise(examples, candidate_lists)
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
        """Token ids of each rendered instruction and the candidate order it shows.

        T3: one instruction per example showing all its candidates (seeded order). T0: one
        instruction per (example, candidate), flattened example-major, each showing one.
        """
        texts, shown_lists = self.render_texts(examples, candidate_lists)
        return self.renderer.token_ids(self.tokenizer, texts), shown_lists

    def render_texts(
        self, examples: Sequence[EvalExample], candidate_lists: Sequence[Sequence[str]]
    ) -> tuple[list[str], list[tuple[str, ...]]]:
        """Rendered instruction texts and the candidate order each shows (see
        :meth:`InstructionRenderer.texts`)."""
        return self.renderer.texts(self.template_id, self.combination, examples, candidate_lists)

    def _score_pointwise(
        self, examples: Sequence[EvalExample], candidate_lists: Sequence[Sequence[str]]
    ) -> np.ndarray:
        """Yes-vs-No log-odds [num_examples, n] of one T0 instruction per candidate."""
        widths = {len(candidates) for candidates in candidate_lists}
        if len(widths) != 1:
            raise ValueError(f"candidate lists have different lengths {widths}")
        if not self._pointwise:
            yes_id, no_id = answer_token_ids(self.tokenizer)
            engine = self.engine
            self._pointwise.append(
                PointwiseScorer(
                    engine.model, engine.params, yes_id, no_id, engine.buckets, engine.partitioner
                )
            )
        instructions, _ = self.render_instructions(examples, candidate_lists)
        log_odds = self._pointwise[0].score(instructions)
        return log_odds.reshape(len(examples), widths.pop()).astype(np.float64)

    def _title(self, item_id: str) -> list[int]:
        tokens = self._title_tokens.get(item_id)
        if tokens is None:
            encoded = list(self.tokenizer.encode(self.renderer.catalog[item_id].title))
            tokens = [*encoded[: self.renderer.settings.max_target_tokens - 1], EOS_ID]
            self._title_tokens[item_id] = tokens
        return tokens
