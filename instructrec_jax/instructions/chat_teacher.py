"""A teacher backed by any OpenAI-compatible chat-completions endpoint.

As in the paper, the model role-plays the user: it states the user's taste from the
history titles (P2) and the need behind the target item from the user's review (I1). I2
needs no model (category labels joined). HTTP, retries, the sqlite answer cache and key
handling live in :mod:`instructrec_jax.chat_client` (shared with the chat ranker);
``dry_run`` prints the prompts that would be sent and returns how many calls remain.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from instructrec_jax.chat_client import ChatClient, ChatConfig, ChatError, Messages
from instructrec_jax.instructions.teachers import (
    Annotation,
    AnnotationRequest,
    specific_intention,
)

# The teacher's names for the shared client's error and settings.
ChatTeacherError = ChatError
ChatTeacherConfig = ChatConfig

_SYSTEM = (
    "You are playing the part of an ordinary customer of an online store. Answer in the "
    "first person, briefly and naturally, as that customer would. Never name specific "
    "product titles in your answer."
)


def preference_messages(request: AnnotationRequest) -> Messages:
    """The P2 prompt: the user states their taste from their history titles."""
    titles = "; ".join(request.catalog[item_id].title for item_id in request.history)
    prompt = (
        f"These are the items you picked recently, oldest first: {titles}. In one "
        "sentence, tell a store assistant what kind of items you like, so they can "
        "suggest new ones to you."
    )
    return (("system", _SYSTEM), ("user", prompt))


def intention_messages(request: AnnotationRequest) -> Messages:
    """The I1 prompt: the need behind the target, from the review (else its labels)."""
    target = request.catalog[request.target]
    labels = ", ".join(target.categories) or "unlabelled"
    if request.review:
        evidence = f'You bought an item ({labels}) and wrote this review: "{request.review}".'
    else:
        evidence = f"You bought an item described by these labels: {labels}."
    prompt = (
        f"{evidence} In a few words, say what you were looking for before you found it, "
        "as you would ask a shop assistant (for example: something my son will enjoy). Do "
        "not mention the item's name."
    )
    return (("system", _SYSTEM), ("user", prompt))


class ChatTeacher:
    """Teacher that asks a chat-completions endpoint (see the module docstring).

    ``calls_made`` counts HTTP requests (retries included) made by this instance.
    """

    process_safe = False

    def __init__(self, config: ChatTeacherConfig) -> None:
        self.config = config
        self.name = f"chat:{config.model}"
        self._client = ChatClient(config)

    @property
    def calls_made(self) -> int:
        """HTTP requests made by this teacher (retries included)."""
        return self._client.calls_made

    # -- Teacher protocol -------------------------------------------------------------
    def annotate(self, request: AnnotationRequest) -> Annotation:
        """One annotation (two cached chat calls, one per text)."""
        return self.annotate_batch([request])[0]

    def annotate_batch(self, requests: Sequence[AnnotationRequest]) -> list[Annotation]:
        """Annotations aligned with ``requests``; uncached prompts are sent concurrently."""
        prompts = [self._prompts(request) for request in requests]
        conversations = list({m: None for pair in prompts for m in pair if m})
        answers = dict(zip(conversations, self._client.answer_all(conversations)))
        return [
            Annotation(
                explicit_preference=answers[preference] if preference else "",
                vague_intention=answers[intention],
                specific_intention=specific_intention(request.catalog[request.target]),
            )
            for request, (preference, intention) in zip(requests, prompts)
        ]

    def dry_run(
        self, requests: Sequence[AnnotationRequest], out: TextIO = sys.stdout, show: int = 3
    ) -> int:
        """Print up to ``show`` uncached prompts and the number of calls still needed."""
        needed: dict[str, Messages] = {}
        for pair in map(self._prompts, requests):
            for messages in pair:
                if messages and self._client.cached(messages) is None:
                    needed.setdefault(self._client.key(messages), messages)
        for messages in list(needed.values())[:show]:
            out.write("\n".join(f"[{role}] {content}" for role, content in messages) + "\n\n")
        out.write(f"{len(needed)} chat calls needed for {len(requests)} examples\n")
        return len(needed)

    def close(self) -> None:
        """Close the cache."""
        self._client.close()

    def _prompts(self, request: AnnotationRequest) -> tuple[Messages | None, Messages]:
        preference = preference_messages(request) if request.history else None
        return preference, intention_messages(request)
