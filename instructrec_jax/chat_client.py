"""A cached, retrying client for any OpenAI-compatible chat-completions endpoint.

Shared by the chat teacher (``instructions.chat_teacher``: writes P2 / I1 annotations) and
the chat ranker (``evaluation.chat_ranker``: the zero-shot LLM row). Works with OpenAI,
vLLM, Ollama, llama.cpp servers and similar: ``POST <base_url>/chat/completions`` with
``{"model", "messages", "temperature", "max_tokens"}``.

- Bounded concurrency (a thread pool of ``concurrency`` workers, stdlib ``urllib``).
- Retries with exponential backoff on 429 / 5xx / timeouts, dropped connections and 200
  answers that are not JSON or are empty; ``Retry-After`` is honoured. 401/403 stop at once
  and name the key's environment variable; after a final error no further request is sent.
- An sqlite cache keyed by (model, messages): each answer is committed as soon as it
  arrives, so a rerun never pays twice and a crash loses nothing already answered.
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
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.client import HTTPException
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Messages = tuple[tuple[str, str], ...]  # ((role, content), ...)


class ChatError(RuntimeError):
    """The endpoint failed or answered something unusable (the key is never included)."""


@dataclasses.dataclass(frozen=True)
class ChatConfig:
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
      dry_run: never call the endpoint; a missing answer is an error.
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


class ChatClient:
    """Answers message lists through the cache, then the endpoint (see the module docstring).

    ``calls_made`` counts HTTP requests (retries included) made by this instance.
    """

    def __init__(self, config: ChatConfig) -> None:
        self.config = config
        self.calls_made = 0
        self._count_lock = threading.Lock()
        self._cache = AnswerCache(config.cache_path)

    def key(self, messages: Messages) -> str:
        """The cache key of ``messages`` for this client's model."""
        return cache_key(self.config.model, messages)

    def cached(self, messages: Messages) -> str | None:
        """The cached answer to ``messages``, or None."""
        return self._cache.get(self.key(messages))

    def answer_all(self, conversations: Sequence[Messages]) -> list[str]:
        """Answers aligned with ``conversations``; uncached ones are sent concurrently.

        Raises:
          ChatError: the endpoint failed after retries, or ``dry_run`` and some are uncached.
        """
        unique = {self.key(m): m for m in conversations}
        answers = {key: self._cache.get(key) for key in unique}
        missing = {key: unique[key] for key, answer in answers.items() if answer is None}
        if missing and self.config.dry_run:
            raise ChatError(
                f"dry run: {len(missing)} uncached calls needed; use dry_run() to list them"
            )
        with concurrent.futures.ThreadPoolExecutor(max(1, self.config.concurrency)) as pool:
            futures = {pool.submit(self._answer, key, m): key for key, m in missing.items()}
            try:
                for future in concurrent.futures.as_completed(futures):
                    answers[futures[future]] = future.result()
            except ChatError:
                # A final error (a refused key, retries used up): send no further request.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return [str(answers[self.key(m)]) for m in conversations]

    def close(self) -> None:
        """Close the cache."""
        self._cache.close()

    def _answer(self, key: str, messages: Messages) -> str:
        answer = self._post_with_retries(messages)
        self._cache.put(key, self.config.model, messages, answer)
        return answer

    def redact(self, text: str) -> str:
        """``text`` with the API key (if set) replaced by ``***``."""
        key = os.environ.get(self.config.api_key_env, "")
        return text.replace(key, "***") if key else text

    def _post_with_retries(self, messages: Messages) -> str:
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._post(messages)
            except _RetryableError as error:
                if attempt + 1 == attempts:
                    raise ChatError(
                        self.redact(f"{error.reason} (gave up after {attempts} attempts)")
                    ) from None
                delay = error.retry_after
                if delay is None:
                    delay = self.config.backoff_s * (2**attempt)
                delay = min(delay, self.config.max_backoff_s)
                logger.warning(
                    "chat endpoint: %s; retrying in %.1fs", self.redact(error.reason), delay
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
            raise ChatError(self.redact(f"cannot reach {url}: {error}")) from None
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
            return ChatError(
                f"HTTP {error.code} from {url}: the API key in ${variable} {state}; set "
                f"{variable} to a valid key for this endpoint"
            )
        return ChatError(self.redact(reason))

    def _parse(self, raw: bytes, url: str) -> str:
        """The answer's text; a 200 answer that is not JSON, has no content or an empty
        one is retried like a 5xx (servers under load send such answers)."""
        excerpt = self.redact(raw[:200].decode("utf-8", "replace"))
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
