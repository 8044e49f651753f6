"""The zero-shot LLM row (the paper's GPT-3.5): a chat model ranks the same candidates.

For every example the ranker renders the very instruction InstructRec reads (same
template, teacher annotation, seeded candidate order and labels ``(A)``, ``(B)``, ...),
appends a request for the labels best first, and sends it to an OpenAI-compatible
endpoint through :class:`~instructrec_jax.chat_client.ChatClient` (sqlite cache, retries,
key from an environment variable, never logged). :func:`~instructrec_jax.evaluation.
ranking_parser.parse_ranking` maps the answer back to candidates.

Scores: the j-th candidate the answer names scores ``n - j`` (n candidates); candidates
it does not name score 0. An unparseable answer (names none) therefore scores every
candidate 0: a tie, which the metrics break *against* the positive (it ranks last, as in
:mod:`instructrec_jax.evaluation.metrics`). Such answers are never dropped: ``counts``
tallies answers, unparseable ones and partial ones (naming some but not all candidates),
and the evaluation report prints them (:meth:`ChatRanker.diagnostics`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

import numpy as np

from instructrec_jax.chat_client import ChatClient, ChatConfig, Messages
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.instructrec_scorer import InstructionRenderer, rank_templates
from instructrec_jax.evaluation.ranking_parser import parse_ranking
from instructrec_jax.instructions.codes import CodeCombination, TaskForm

SYSTEM_PROMPT = (
    "You are a recommender system. Read the request and the labelled candidates, then rank "
    "every candidate from the best fit to the worst."
)
ANSWER_REQUEST = (
    "Answer with the candidate labels only, best first, separated by commas, for example: "
    "(C), (A), (B)."
)


@dataclasses.dataclass
class AnswerCounts:
    """Answers parsed by this process: all, unparseable (no candidate named) and partial."""

    answers: int = 0
    unparseable: int = 0
    partial: int = 0


@dataclasses.dataclass(eq=False)
class ChatRanker:
    """A :class:`~instructrec_jax.evaluation.runner.TemplatedScorer` asking a chat model.

    Attributes:
      client: the chat endpoint client.
      renderer: catalog, teacher, templates and rendering settings (InstructRec's: seed of
        the display order, token budget by ``counter``).
      name: the row's name in reports.
      instruction_type, template_id: the bound template (None: unbound; bind with
        :meth:`with_template`).
      counts: answer counts, shared by the rankers :meth:`with_template` binds (with the
        lock that guards them).
    """

    client: ChatClient
    renderer: InstructionRenderer
    name: str = "ChatLLM zero-shot"
    instruction_type: str | None = None
    template_id: str | None = None
    counts: AnswerCounts = dataclasses.field(default_factory=AnswerCounts)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def template_ids(self, instruction_type: str, family: str | None = None) -> list[str]:
        """The first plain T3 template of ``family`` for the type: no selection on
        validation (each template tried would cost one paid call per validation user)."""
        templates = self.renderer.templates
        ids = [
            t
            for t in rank_templates(templates, instruction_type, family)
            if templates[t].task_form is TaskForm.T3
        ]
        return ids[:1]

    def with_template(self, instruction_type: str, template_id: str) -> ChatRanker:
        """A ranker sharing this one's client and counts, bound to a T3 template."""
        if self.renderer.templates[template_id].task_form is not TaskForm.T3:
            raise ValueError(f"the chat ranker needs a T3 template, got {template_id!r}")
        return dataclasses.replace(self, instruction_type=instruction_type, template_id=template_id)

    def messages(self, instruction: str) -> Messages:
        """The chat request for one rendered instruction."""
        return (("system", SYSTEM_PROMPT), ("user", f"{instruction}\n{ANSWER_REQUEST}"))

    def score(self, examples: Sequence[EvalExample]) -> np.ndarray:
        """Scores [num_examples, num_candidates] in ``candidates`` order."""
        return self.score_lists(examples, [example.candidates for example in examples])

    def score_lists(
        self, examples: Sequence[EvalExample], candidate_lists: Sequence[Sequence[str]]
    ) -> np.ndarray:
        """Scores [num_examples, n] in ``candidate_lists`` order (see the module docstring)."""
        if self.instruction_type is None or self.template_id is None:
            raise ValueError("bind a template first (with_template)")
        if not examples:
            return np.zeros((0, 0), dtype=np.float64)
        combination = CodeCombination.parse(self.instruction_type)
        texts, shown_lists = self.renderer.texts(
            self.template_id, combination, examples, candidate_lists
        )
        answers = self.client.answer_all([self.messages(text) for text in texts])
        out = np.zeros((len(examples), len(candidate_lists[0])), dtype=np.float64)
        catalog = self.renderer.catalog
        for row, (answer, shown, wanted) in enumerate(zip(answers, shown_lists, candidate_lists)):
            ranking = parse_ranking(answer, [catalog[item].title for item in shown])
            self._count(len(ranking), len(shown))
            score_of = {shown[p]: float(len(shown) - j) for j, p in enumerate(ranking)}
            out[row] = [score_of.get(item, 0.0) for item in wanted]
        return out

    def _count(self, named: int, shown: int) -> None:
        with self.lock:
            self.counts.answers += 1
            self.counts.unparseable += named == 0
            self.counts.partial += 0 < named < shown

    def diagnostics(self) -> dict[str, int]:
        """Answer counts for the report (answers parsed by this process)."""
        return dataclasses.asdict(self.counts)


def make_chat_ranker(
    config: ChatConfig, renderer: InstructionRenderer, name: str | None = None
) -> ChatRanker:
    """A chat ranker for ``config``'s endpoint, named ``chat:<model>`` by default."""
    return ChatRanker(ChatClient(config), renderer, name or f"chat:{config.model}")
