"""Every entry point, given a bad argument or bad input, ends in one line and an exit status.

Run as a user runs them (``python -m ...`` in a subprocess): no Python traceback unless
``--verbose``; exit status 2 for usage errors, 1 for failures (:mod:`instructrec_jax.cli_errors`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "INSTRUCTREC_COMPILATION_CACHE_DIR": ""}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _error_lines(stderr: str) -> list[str]:
    """stderr without the C++ logging TF and XLA print at import."""
    noise = ("WARNING: All log messages before absl", "cudart_stub.cc", "E0000 ", "W0000 ")
    return [line for line in stderr.splitlines() if line.strip() and not _has(line, noise)]


def _has(line: str, markers: tuple[str, ...]) -> bool:
    return any(marker in line for marker in markers)


def _jsonl(tmp_path: Path, line: str) -> Path:
    (tmp_path / "pairs.jsonl").write_text(line + "\n")
    return tmp_path / "pairs.jsonl"


GOOD_LINE = '{"encoder_input_tokens": [3, 1], "decoder_target_tokens": [1]}'
BAD_LINE = '{"encoder_input_tokens": [3, 1]}'


def _truncated_hf(tmp_path: Path) -> Path:
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "vocab_size": 64,
                "d_model": 8,
                "num_heads": 2,
                "d_kv": 4,
                "d_ff": 16,
                "num_layers": 1,
                "num_decoder_layers": 1,
                "feed_forward_proj": "gated-gelu",
                "tie_word_embeddings": False,
            }
        )
    )
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    return folder


CASES = {
    "train: misspelled macro": (
        "instructrec_jax.train",
        lambda tmp: [
            "--gin_file=runs/finetune.gin",
            "--gin_file=models/flan_t5_tiny.gin",
            f"--gin.MODEL_DIR='{tmp / 'run'}'",
            "--gin.MIXTURE_OR_TASK_NAME='x'",
            "--gin.TRAIN_STEPZ=5",
        ],
        2,
        "did you mean TRAIN_STEPS",
    ),
    "evaluate: missing macro": (
        "instructrec_jax.evaluate",
        lambda tmp: ["--gin_file=runs/eval.gin", "--gin.DATASET='x'"],
        2,
        "CHECKPOINT_PATH",
    ),
    "score: missing checkpoint": (
        "instructrec_jax.score",
        lambda tmp: [f"--checkpoint={tmp / 'nothing'}", "--input=x", f"--output={tmp / 'o'}"],
        1,
        "does not exist",
    ),
    "score: truncated checkpoint": (
        "instructrec_jax.score",
        lambda tmp: [
            f"--checkpoint={_truncated_hf(tmp)}",
            f"--input={_jsonl(tmp, GOOD_LINE)}",
            f"--output={tmp / 'o.jsonl'}",
        ],
        1,
        "model.safetensors",
    ),
    "score: bad input line": (
        "instructrec_jax.score",
        lambda tmp: [
            f"--checkpoint={_truncated_hf(tmp)}",
            f"--input={_jsonl(tmp, BAD_LINE)}",
            f"--output={tmp / 'o.jsonl'}",
        ],
        1,
        "pairs.jsonl:1: 'decoder_target_tokens'",
    ),
    "score: output is a folder": (
        "instructrec_jax.score",
        lambda tmp: ["--checkpoint=x", "--input=x", f"--output={tmp}"],
        2,
        "--output",
    ),
    "demo: misspelled macro": (
        "instructrec_jax.demo",
        lambda tmp: ["--gin.TRAIN_STEPZ=1"],
        2,
        "did you mean TRAIN_STEPS",
    ),
    "data: bad setting": (
        "instructrec_jax.data",
        lambda tmp: ["prepare", "--dataset=synthetic", "--k_core=0", f"--cache_dir={tmp}"],
        2,
        "k_core must be >= 1",
    ),
    "generate: bad reader argument": (
        "instructrec_jax.instructions.generate",
        lambda tmp: ["--dataset=synthetic", "--dataset-arg=oops", f"--out={tmp}"],
        2,
        "--dataset-arg",
    ),
    "instructions: unknown command": (
        "instructrec_jax.instructions",
        lambda tmp: ["generat"],
        2,
        "list-templates,generate",
    ),
    "tasks: missing instructions": (
        "instructrec_jax.tasks",
        lambda tmp: ["list", "--dataset=ml-100k", f"--instructions_dir={tmp}", "--vocab=x"],
        1,
        "no generated instructions",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_error_is_one_line_and_an_exit_status(case, tmp_path):
    module, make_args, status, message = CASES[case]
    done = _run(module, *make_args(tmp_path))
    lines = _error_lines(done.stderr)
    assert done.returncode == status, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1 and message in lines[0], lines
    assert lines[0].startswith(f"python -m {module.replace('.generate', '')}"), lines


def test_verbose_adds_the_traceback(tmp_path):
    args = [f"--checkpoint={tmp_path / 'nothing'}", "--input=x", f"--output={tmp_path / 'o'}"]
    done = _run("instructrec_jax.score", *args, "--verbose")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "does not exist" in done.stderr.splitlines()[-1]
