"""ChatTeacher against a real HTTP server on 127.0.0.1 (port 0) run by the test."""

import collections
import contextlib
import http.server
import io
import json
import logging
import socket
import threading
import time

import pytest

from instructrec_jax.instructions.chat_teacher import (
    ChatTeacher,
    ChatTeacherConfig,
    ChatTeacherError,
)
from instructrec_jax.instructions.teachers import AnnotationRequest

SECRET = "sk-test-very-secret-0123456789"
KEY_ENV = "INSTRUCTREC_TEST_CHAT_KEY"


class _Server:
    """Answers each POST with the next scripted behaviour (then "ok" forever)."""

    def __init__(self, script):
        self.script = collections.deque(script)
        self.requests = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append((dict(self.headers), body))
                    action = server.script.popleft() if server.script else "ok"
                if action == "slow":
                    time.sleep(0.6)
                    action = "ok"
                if action == "ok":
                    prompt = body["messages"][-1]["content"]
                    kind = "taste" if "kind of items you like" in prompt else "need"
                    answer = {"choices": [{"message": {"content": f"my {kind} answer."}}]}
                    self._send(200, json.dumps(answer).encode())
                elif action == "429":
                    self._send(429, b'{"error": "slow down"}', {"Retry-After": "0"})
                elif action == "429-wait":
                    self._send(429, b'{"error": "wait"}', {"Retry-After": "0.4"})
                elif action == "500":
                    self._send(500, b"internal error")
                elif action == "garbage":
                    self._send(200, b"{not json at all")
                elif action == "empty":
                    answer = {"choices": [{"message": {"content": "  "}}]}
                    self._send(200, json.dumps(answer).encode())
                elif action == "drop":  # close the connection without any answer
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                elif action == "echo-key-401":
                    self._send(401, f"bad key {self.headers['Authorization']}".encode())

            def _send(self, code, payload, headers=None):
                self.send_response(code)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(script=()):
        server = _Server(script)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def requests_(catalog):
    return [
        AnnotationRequest(("m00", "m01"), "m05", "For my kids.", catalog),
        AnnotationRequest(("m02",), "m06", None, catalog),
    ]


def _teacher(server, tmp_path, monkeypatch, **overrides):
    monkeypatch.setenv(KEY_ENV, SECRET)
    settings = dict(
        base_url=server.url,
        model="test-model",
        api_key_env=KEY_ENV,
        cache_path=str(tmp_path / "cache.sqlite"),
        concurrency=2,
        timeout_s=5.0,
        max_retries=3,
        backoff_s=0.01,
    )
    settings.update(overrides)
    return ChatTeacher(ChatTeacherConfig(**settings))


def test_answers_are_cached_across_instances(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory()
    teacher = _teacher(server, tmp_path, monkeypatch)
    annotations = teacher.annotate_batch(requests_)
    assert [a.explicit_preference for a in annotations] == ["my taste answer"] * 2
    assert [a.vague_intention for a in annotations] == ["my need answer"] * 2
    assert annotations[0].specific_intention == "Comedy, Horror"  # m05: genres 1 and 2
    assert len(server.requests) == 4
    headers, body = server.requests[0]
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert body["model"] == "test-model"
    assert body["messages"][0]["role"] == "system"
    teacher.close()
    again = _teacher(server, tmp_path, monkeypatch)
    assert again.annotate_batch(requests_) == annotations
    assert len(server.requests) == 4 and again.calls_made == 0


def test_retries_on_429_and_500(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory(["429", "500", "429"])
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=1)
    annotation = teacher.annotate(requests_[1])
    assert annotation.vague_intention == "my need answer"
    assert teacher.calls_made == 5  # 3 failures + 2 successful prompts


def test_retry_after_is_honoured(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory(["429-wait"])
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=1, backoff_s=0.001)
    start = time.monotonic()
    teacher.annotate(requests_[1])
    assert time.monotonic() - start >= 0.4


def test_gives_up_after_max_retries(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory(["500"] * 10)
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=1, max_retries=2)
    with pytest.raises(ChatTeacherError, match=r"HTTP 500.*gave up after 3 attempts"):
        teacher.annotate(requests_[1])


def test_slow_answers_time_out(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory(["slow"] * 10)
    teacher = _teacher(server, tmp_path, monkeypatch, timeout_s=0.2, max_retries=1)
    with pytest.raises(ChatTeacherError, match=r"timeout after 0\.2s"):
        teacher.annotate(requests_[1])


def test_timeout_then_success(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory(["slow"])
    teacher = _teacher(server, tmp_path, monkeypatch, timeout_s=0.3, concurrency=1)
    assert teacher.annotate(requests_[1]).vague_intention == "my need answer"


@pytest.mark.parametrize("failure", ["garbage", "empty", "drop"])
def test_bad_200_answers_and_dropped_connections_are_retried(
    server_factory, tmp_path, monkeypatch, requests_, failure
):
    server = server_factory([failure, failure])
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=1)
    assert teacher.annotate(requests_[1]).vague_intention == "my need answer"
    assert teacher.calls_made == 4  # 2 failures + 2 successful prompts


def test_garbage_json_gives_up_with_a_clear_error(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory(["garbage"] * 10)
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=1, max_retries=1)
    one_prompt = AnnotationRequest((), "m06", None, requests_[1].catalog)  # no history
    with pytest.raises(ChatTeacherError, match=r"invalid JSON from http://127\.0\.0\.1.*not json"):
        teacher.annotate(one_prompt)
    assert teacher.calls_made == 2


@pytest.mark.parametrize("key", [SECRET, None])
def test_401_stops_at_once_naming_the_key_variable(
    server_factory, tmp_path, monkeypatch, requests_, key
):
    server = server_factory(["echo-key-401"])
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=1)
    if key is None:
        monkeypatch.delenv(KEY_ENV)
    one_prompt = AnnotationRequest((), "m06", None, requests_[1].catalog)  # no history
    with pytest.raises(ChatTeacherError) as error:
        teacher.annotate(one_prompt)
    message = str(error.value)
    assert teacher.calls_made == 1 and len(message.splitlines()) == 1
    assert f"${KEY_ENV}" in message and SECRET not in message
    assert ("is not set" if key is None else "was refused") in message


def test_key_never_in_errors_or_logs(server_factory, tmp_path, monkeypatch, requests_, caplog):
    server = server_factory(["500", "echo-key-401"])
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(ChatTeacherError) as error:
        teacher.annotate(requests_[1])
    assert "HTTP 401" in str(error.value) and KEY_ENV in str(error.value)
    assert SECRET not in str(error.value)
    assert SECRET not in repr(error.value)
    assert "retrying" in caplog.text
    assert SECRET not in caplog.text
    assert server.requests[-1][0]["Authorization"] == f"Bearer {SECRET}"


def test_crash_loses_no_answer(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory(["ok", "echo-key-401"])
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=1)
    with pytest.raises(ChatTeacherError):
        teacher.annotate(requests_[1])
    teacher.close()
    resumed = _teacher(server, tmp_path, monkeypatch, concurrency=1)
    resumed.annotate(requests_[1])
    assert resumed.calls_made == 1  # the first answer came from the cache


def test_dry_run_prints_prompts_and_counts(server_factory, tmp_path, monkeypatch, requests_):
    server = server_factory()
    teacher = _teacher(server, tmp_path, monkeypatch, dry_run=True)
    out = io.StringIO()
    assert teacher.dry_run(requests_, out=out, show=1) == 4
    text = out.getvalue()
    assert "[user]" in text and "4 chat calls needed for 2 examples" in text
    assert text.count("[system]") == 1
    with pytest.raises(ChatTeacherError, match="dry run"):
        teacher.annotate_batch(requests_)
    assert server.requests == []


def test_generate_with_chat_teacher(server_factory, tmp_path, monkeypatch):
    from instructrec_jax.data import PrepareConfig, make_synthetic, prepare
    from instructrec_jax.instructions.generate import GenerateConfig, generate

    raw = make_synthetic(num_users=25, num_items=30, num_categories=4, seed=3, max_len=10)
    dataset = prepare(raw, PrepareConfig())
    server = server_factory(["429", "500"])
    teacher = _teacher(server, tmp_path, monkeypatch, concurrency=4)
    config = GenerateConfig(template_ids=("A2", "C2", "B7"), workers=2, train_shards=2)
    stats = generate(dataset, tmp_path / "out", config, teacher=teacher, progress=False)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["teacher"] == "chat:test-model"
    assert stats["total"]["num_records"] > 0
    calls = teacher.calls_made
    assert calls == len(server.requests) > 2
    rerun = _teacher(server, tmp_path, monkeypatch)
    generate(dataset, tmp_path / "again", config, teacher=rerun, progress=False)
    assert rerun.calls_made == 0  # every prompt answered from the cache
