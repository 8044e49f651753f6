"""A teacher backed by any OpenAI-compatible chat-completions endpoint.

Works with OpenAI, vLLM, Ollama, llama.cpp servers and similar: ``POST
<base_url>/chat/completions`` with ``{"model", "messages", "temperature", "max_tokens"}``.
As in the paper, the model role-plays the user: it states the user's taste from the
history titles (P2) and the need behind the target item from the user's review (I1). I2
needs no model (category labels joined).

- Bounded concurrency (a thread pool of ``concurrency`` workers, stdlib ``urllib``).
- Retries with exponential backoff on 429 / 5xx / timeouts; ``Retry-After`` is honoured.
- An sqlite cache keyed by (model, messages): each answer is committed as soon as it
  arrives, so a rerun never pays twice and a crash loses nothing already answered.
- ``dry_run`` prints the prompts that would be sent and returns how many calls remain.
- The API key is read from an environment variable and never appears in logs or errors.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.client import HTTPException
from pathlib import Path
from typing import Any, TextIO

from instructrec_jax.instructions.teachers import (
    Annotation,
    AnnotationRequest,
    specific_intention,
)

logger = logging.getLogger(__name__)

Messages = tuple[tuple[str, str], ...]  # ((role, content), ...)

_SYSTEM = (
    "You are playing the part of an ordinary customer of an online store. Answer in the "
    "first person, briefly and naturally, as that customer would. Never name specific "
    "product titles in your answer."
)


class ChatTeacherError(RuntimeError):
    """The endpoint failed or answered something unusable (the key is never included)."""


@dataclasses.dataclass(frozen=True)
class ChatTeacherConfig:
    """Endpoint and behaviour.

    Attributes:
      base_url: e.g. ``https://api.openai.com/v1`` or ``http://localhost:8000/v1``.
      model: model name sent to the endpoint.
      api_key_env: environment variable holding the key (unset: no Authorization header,
        fine for local servers).
      cache_path: sqlite file of answers.
      concurrency: parallel requests.
      timeout_s: per-request timeout in seconds.
      max_retries: retries after the first attempt (429, 5xx, timeouts).
      backoff_s, max_backoff_s: first backoff and cap, seconds (doubles per retry).
      temperature, max_tokens: sampling settings sent to the endpoint.
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    cache_path: str = "teacher_cache.sqlite"
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    temperature: float = 0.0
    max_tokens: int = 96
    dry_run: bool = False


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


def cache_key(model: str, messages: Messages) -> str:
    """Hex SHA-256 of the model and the messages."""
    payload = json.dumps({"model": model, "messages": messages}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class AnswerCache:
    """sqlite table (key -> answer), committed per answer, safe across threads."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        with self._lock:
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS answers "
                "(key TEXT PRIMARY KEY, model TEXT, messages TEXT, answer TEXT)"
            )
            self._connection.commit()

    def get(self, key: str) -> str | None:
        """The cached answer or None."""
        with self._lock:
            row = self._connection.execute(
                "SELECT answer FROM answers WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, model: str, messages: Messages, answer: str) -> None:
        """Store and commit one answer."""
        with self._lock:
            self._connection.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                (key, model, json.dumps(messages), answer),
            )
            self._connection.commit()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._connection.close()


class ChatTeacher:
    """Teacher that asks a chat-completions endpoint (see the module docstring).

    ``calls_made`` counts HTTP requests (retries included) made by this instance.
    """

    process_safe = False

    def __init__(self, config: ChatTeacherConfig) -> None:
        self.config = config
        self.name = f"chat:{config.model}"
        self.calls_made = 0
        self._count_lock = threading.Lock()
        self._cache = AnswerCache(config.cache_path)

    # -- Teacher protocol -------------------------------------------------------------
    def annotate(self, request: AnnotationRequest) -> Annotation:
        """One annotation (two cached chat calls, one per text)."""
        return self.annotate_batch([request])[0]

    def annotate_batch(self, requests: Sequence[AnnotationRequest]) -> list[Annotation]:
        """Annotations aligned with ``requests``; uncached prompts are sent concurrently."""
        prompts = [self._prompts(request) for request in requests]
        unique = {cache_key(self.config.model, m): m for pair in prompts for m in pair if m}
        answers = {key: self._cache.get(key) for key in unique}
        missing = {key: unique[key] for key, answer in answers.items() if answer is None}
        if missing and self.config.dry_run:
            raise ChatTeacherError(
                f"dry run: {len(missing)} uncached calls needed; use dry_run() to list them"
            )
        with concurrent.futures.ThreadPoolExecutor(max(1, self.config.concurrency)) as pool:
            futures = {pool.submit(self._answer, key, m): key for key, m in missing.items()}
            try:
                for future in concurrent.futures.as_completed(futures):
                    answers[futures[future]] = future.result()
            except ChatTeacherError:
                # A final error (a refused key, retries used up): send no further request.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        annotations = []
        for request, (preference, intention) in zip(requests, prompts):
            annotations.append(
                Annotation(
                    explicit_preference=self._lookup(answers, preference),
                    vague_intention=self._lookup(answers, intention),
                    specific_intention=specific_intention(request.catalog[request.target]),
                )
            )
        return annotations

    def dry_run(
        self, requests: Sequence[AnnotationRequest], out: TextIO = sys.stdout, show: int = 3
    ) -> int:
        """Print up to ``show`` uncached prompts and the number of calls still needed."""
        needed: dict[str, Messages] = {}
        for pair in map(self._prompts, requests):
            for messages in pair:
                key = cache_key(self.config.model, messages) if messages else ""
                if messages and key not in needed and self._cache.get(key) is None:
                    needed[key] = messages
        for messages in list(needed.values())[:show]:
            out.write("\n".join(f"[{role}] {content}" for role, content in messages) + "\n\n")
        out.write(f"{len(needed)} chat calls needed for {len(requests)} examples\n")
        return len(needed)

    def close(self) -> None:
        """Close the cache."""
        self._cache.close()

    # -- internals -----------------------------------------------------------------------
    def _prompts(self, request: AnnotationRequest) -> tuple[Messages | None, Messages]:
        preference = preference_messages(request) if request.history else None
        return preference, intention_messages(request)

    def _lookup(self, answers: dict[str, str | None], messages: Messages | None) -> str:
        if messages is None:
            return ""
        answer = answers[cache_key(self.config.model, messages)]
        assert answer is not None
        return answer

    def _answer(self, key: str, messages: Messages) -> str:
        answer = self._post_with_retries(messages)
        self._cache.put(key, self.config.model, messages, answer)
        return answer

    def _redact(self, text: str) -> str:
        key = os.environ.get(self.config.api_key_env, "")
        return text.replace(key, "***") if key else text

    def _post_with_retries(self, messages: Messages) -> str:
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._post(messages)
            except _RetryableError as error:
                if attempt + 1 == attempts:
                    raise ChatTeacherError(
                        self._redact(f"{error.reason} (gave up after {attempts} attempts)")
                    ) from None
                delay = error.retry_after
                if delay is None:
                    delay = self.config.backoff_s * (2**attempt)
                delay = min(delay, self.config.max_backoff_s)
                logger.warning(
                    "chat teacher: %s; retrying in %.1fs", self._redact(error.reason), delay
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _post(self, messages: Messages) -> str:
        with self._count_lock:
            self.calls_made += 1
        body = json.dumps(
            {
                "model": self.config.model,
                "messages": [{"role": role, "content": content} for role, content in messages],
                "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = self.config.base_url.rstrip("/") + "/chat/completions"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise self._http_error(error, url) from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException) as error:
            reason = getattr(error, "reason", error)
            if isinstance(error, TimeoutError) or isinstance(reason, TimeoutError):
                reason = f"timeout after {self.config.timeout_s}s from {url}"
                raise _RetryableError(reason, None) from None
            if isinstance(error, (ConnectionError, HTTPException)) or isinstance(
                reason, ConnectionError
            ):
                # A dropped or reset connection, or a truncated answer: worth another try.
                raise _RetryableError(f"connection to {url} failed: {reason}", None) from None
            raise ChatTeacherError(self._redact(f"cannot reach {url}: {error}")) from None
        return self._parse(raw, url)

    def _http_error(self, error: urllib.error.HTTPError, url: str) -> Exception:
        """The exception for an HTTP error status: retryable for 429 and 5xx; for 401/403
        one line naming the key's environment variable (never the key); else final."""
        detail = error.read()[:300].decode("utf-8", "replace")
        reason = f"HTTP {error.code} from {url}: {detail}"
        if error.code == 429 or error.code >= 500:
            return _RetryableError(reason, _retry_after(error.headers.get("Retry-After")))
        if error.code in (401, 403):
            variable = self.config.api_key_env
            state = "is not set" if not os.environ.get(variable) else "was refused"
            return ChatTeacherError(
                f"HTTP {error.code} from {url}: the API key in ${variable} {state}; set "
                f"{variable} to a valid key for this endpoint"
            )
        return ChatTeacherError(self._redact(reason))

    def _parse(self, raw: bytes, url: str) -> str:
        """The answer's text; a 200 answer that is not JSON, has no content or an empty
        one is retried like a 5xx (servers under load send such answers)."""
        excerpt = self._redact(raw[:200].decode("utf-8", "replace"))
        try:
            payload: Any = json.loads(raw)
            content = payload["choices"][0]["message"]["content"]
        except json.JSONDecodeError:
            raise _RetryableError(f"invalid JSON from {url}: {excerpt!r}", None) from None
        except (KeyError, IndexError, TypeError):
            reason = f"no choices[0].message.content in the answer of {url}: {excerpt!r}"
            raise _RetryableError(reason, None) from None
        if not isinstance(content, str) or not content.strip():
            raise _RetryableError(f"empty answer from {url}", None)
        return " ".join(content.split()).rstrip(".")


class _RetryableError(Exception):
    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form), else None."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
