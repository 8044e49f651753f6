"""ChatRanker against a fake OpenAI-compatible server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import threading

import pytest

from instructrec_jax.chat_client import ChatConfig
from instructrec_jax.evaluation.chat_ranker import make_chat_ranker
from instructrec_jax.evaluation.instructrec_scorer import InstructionRenderer
from instructrec_jax.evaluation.runner import EvaluationConfig, run_evaluation
from instructrec_jax.instructions.teachers import HeuristicTeacher
from instructrec_jax.instructions.templates import load_templates
from tests.evaluation.helpers import small_dataset

KEY_ENV = "INSTRUCTREC_TEST_RANKER_KEY"
SECRET = "sk-ranker-secret-42"
LABELLED = re.compile(r"\(([A-Z])\) (.+?)(?= \([A-Z]\) |\n|$)")


class _RankingServer:
    """Ranks the labelled candidates of each prompt alphabetically by title, except every
    ``garbage_every``-th request, which gets an answer naming no candidate."""

    def __init__(self, garbage_every: int = 0) -> None:
        self.count = 0
        self.authorizations: list[str | None] = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.count += 1
                    garbage = garbage_every and server.count % garbage_every == 0
                    server.authorizations.append(self.headers.get("Authorization"))
                prompt = body["messages"][-1]["content"].split("\n")[0]
                pairs = LABELLED.findall(prompt)
                ranked = sorted(pairs, key=lambda pair: pair[1])
                content = (
                    "I would rather not say"
                    if garbage
                    else ", ".join(f"({label})" for label, _ in ranked)
                )
                payload = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(**kwargs):
        servers.append(_RankingServer(**kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _ranker(server, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    config = ChatConfig(
        base_url=server.url,
        model="fake-ranker",
        api_key_env=KEY_ENV,
        cache_path=str(tmp_path / "ranker_cache.sqlite"),
        concurrency=2,
        timeout_s=5.0,
        max_tokens=64,
    )
    dataset = small_dataset()
    return dataset, make_chat_ranker(
        config, InstructionRenderer(dataset.catalog, HeuristicTeacher(), load_templates())
    )


def test_scores_follow_the_answer_and_every_candidate_is_scored(
    server_factory, tmp_path, monkeypatch
):
    server = server_factory()
    dataset, ranker = _ranker(server, tmp_path, monkeypatch)
    template = ranker.template_ids("p1_i0_t3", "recommendation")[0]
    bound = ranker.with_template("p1_i0_t3", template)
    examples = dataset.split_examples("test")[:4]
    scores = bound.score(examples)
    assert scores.shape == (4, 10)
    for example, row in zip(examples, scores):
        titles = [dataset.catalog[item].title for item in example.candidates]
        by_score = [titles[j] for j in sorted(range(10), key=lambda j: -row[j])]
        assert by_score == sorted(titles)  # the server's alphabetical order, recovered
    assert ranker.diagnostics() == {"answers": 4, "unparseable": 0, "partial": 0}
    assert set(server.authorizations) == {f"Bearer {SECRET}"}
    bound.score(examples)  # cached: no new request
    assert server.count == 4


def test_unparseable_answers_rank_the_positive_last_and_are_reported(
    server_factory, tmp_path, monkeypatch
):
    server = server_factory(garbage_every=1)
    dataset, ranker = _ranker(server, tmp_path, monkeypatch)
    config = EvaluationConfig(
        scenarios=("sequential",), max_test_examples=6, max_valid_examples=3, shard_size=6
    )
    result = run_evaluation(
        dataset, tmp_path / "eval", zero_shot=[ranker], config=config, progress=False
    )
    (row,) = result.rows
    assert row.model == "chat:fake-ranker" and row.metrics["MRR"] == pytest.approx(0.1)
    report = json.loads(result.metrics_path.read_text())
    counts = report["settings"]["diagnostics"]["chat:fake-ranker"]
    assert counts == {"answers": 9, "unparseable": 9, "partial": 0}  # 3 valid + 6 test
    assert "chat:fake-ranker: answers 9, unparseable 9" in result.table_path.read_text()
    assert SECRET not in result.metrics_path.read_text()
