"""``python -m instructrec_jax.compile_check`` end to end, in subprocesses: a micro T5 compiled
for the host's CPU devices (fits, does not fit, the largest batch, the scoring step), usage
errors as one line with status 2, and TPU / GPU targets where their compilers are installed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Where `make test` installs libtpu and the CUDA plugin (tests/aot_site.py), if anywhere.
AOT_SITE = os.environ.get("INSTRUCTREC_AOT_SITE", "")
MICRO = [
    "--gin_file=runs/finetune.gin",
    "--gin_file=models/flan_t5_tiny.gin",
    "--gin.VOCAB_SIZE=128",
    "--gin.T5Config.d_model=32",
    "--gin.T5Config.d_ff=64",
    "--gin.T5Config.num_heads=2",
    "--gin.T5Config.head_dim=16",
    "--gin.T5Config.num_encoder_layers=1",
    "--gin.T5Config.num_decoder_layers=1",
    "--gin.TASK_FEATURE_LENGTHS={'inputs': 16, 'targets': 8}",
    "--gin.BATCH_SIZE=8",
]
SUMMARY_KEYS = {
    "fits",
    "bytes_per_device",
    "device_memory_bytes",
    "compile_seconds",
    "flops",
    "memory",
    "mesh",
    "global_batch_size",
}
MEMORY_KEYS = {"parameters", "optimizer_state", "arguments", "temporaries", "outputs", "total"}


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)  # the target sets the device count
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), AOT_SITE, env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "instructrec_jax.compile_check", *args]
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def _summary(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def _has_module(name: str) -> bool:
    """Whether the compile-check subprocesses can import ``name`` (installed, or under
    ``$INSTRUCTREC_AOT_SITE``)."""
    if AOT_SITE and Path(AOT_SITE, *name.split(".")).is_dir():
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_train_step_fits_and_reports_per_device_bytes(tmp_path):
    out = tmp_path / "check.json"
    result = _run("--topology=cpu:2", *MICRO, "--json", f"--json_out={out}")
    assert result.returncode == 0, result.stderr
    summary = _summary(result)
    assert set(summary) >= SUMMARY_KEYS and set(summary["memory"]) >= MEMORY_KEYS
    assert summary["fits"] is True and summary["mesh"] == {"data": 2, "model": 1}
    memory = summary["memory"]
    assert summary["bytes_per_device"] == memory["total"] > memory["arguments"] > 0
    # float32 parameters, replicated over the data axis: every device holds all of them.
    assert memory["parameters"] == 4 * summary["parameters"]
    assert memory["arguments"] >= memory["parameters"] + memory["optimizer_state"]
    assert summary["flops"] > 0 and summary["compile_seconds"] > 0
    assert json.loads(out.read_text()) == summary


def test_too_little_memory_exits_1_and_the_search_finds_the_largest_batch():
    # The scoring step compiles in about a second, so the search's compiles stay cheap.
    score = ["--topology=cpu:2", *MICRO, "--mode=score", "--num_candidates=3", "--json"]
    budget = _summary(_run(*score))["bytes_per_device"] / 2**30  # what batch 8 needs
    result = _run(*score, "--batch_size=16", f"--device_memory_gib={budget}", "--find_max_batch")
    assert result.returncode == 1, result.stderr
    summary = _summary(result)
    assert summary["fits"] is False and summary["global_batch_size"] == 16
    probes = {entry["batch_size"]: entry for entry in summary["max_batch_search"]}
    best = summary["max_batch"]
    assert best is not None and best % 2 == 0 and probes[best]["fits"]
    assert not probes[best + 2]["fits"]
    assert all(size <= best for size, entry in probes.items() if entry["fits"])


def test_scoring_step_compiles_without_optimizer_state():
    result = _run("--topology=cpu:2", *MICRO, "--mode=score", "--num_candidates=3")
    assert result.returncode == 0, result.stderr
    assert "scoring step" in result.stdout and "optimizer state 0.00 GiB" in result.stdout
    assert "3 x 8 candidate tokens" in result.stdout


def test_remat_policies_compile_side_by_side():
    # The micro model's own policy is 'none': the main compile is the reference row.
    result = _run("--topology=cpu:2", *MICRO, "--compare_remat=full,offload", "--json")
    assert result.returncode == 0, result.stderr
    summary = _summary(result)
    rows = summary["remat_comparison"]
    assert [row["remat_policy"] for row in rows] == ["full", "offload"]
    full, offload = rows
    assert full["fits"] and offload["fits"] and full["bytes_per_device"] > 0
    # Full remat keeps no activations between the forward and backward passes.
    assert full["memory"]["temporaries"] <= summary["memory"]["temporaries"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--topology=v9-8"], "unknown TPU generation 'v9'"),
        (["--topology=cpu:2", "--batch_size=7"], "global batch 7 is not a multiple of 2"),
        (["--topology=cpu:2", "--gin.T5Config.d_modle=8"], "has no parameter 'd_modle'"),
        ([], "the following arguments are required: --topology"),
        (["--topology=cpu:2", "--compare_remat=full,fastest"], "unknown policies ['fastest']"),
    ],
)
def test_usage_errors_are_one_line_and_status_2(args, message):
    result = _run(*MICRO, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("python -m instructrec_jax.compile_check: error: ")
        and message in lines[0]
    )


@pytest.mark.skipif(not _has_module("libtpu"), reason="needs libtpu ('.[aot]')")
def test_tpu_slices_compile_with_a_multi_slice_mesh():
    result = _run("--topology=v4-8", "--num_slices=2", *MICRO, "--json")
    assert result.returncode == 0, result.stderr
    summary = _summary(result)
    assert summary["platform"] == "tpu" and summary["num_devices"] == 8
    assert summary["mesh"] == {"data": 8, "model": 1} and summary["flops"] > 0
    # A 4x4 v5e slice cannot hold a (8, 2) mesh without splitting a torus side: stop, or
    # reshape when asked.
    split = [*MICRO, "--gin.BATCH_SIZE=16", "--gin.MESH_SHAPE=(8, 2)"]
    refused = _run("--topology=v5litepod-16", *split)
    assert refused.returncode == 2 and "cannot lay out the mesh (8, 2)" in refused.stderr
    reshaped = _run("--topology=v5litepod-16", *split, "--gin.MESH_RESHAPE_FALLBACK=True")
    assert reshaped.returncode == 0, reshaped.stderr


@pytest.mark.skipif(
    not _has_module("jax_plugins.xla_cuda12"), reason="needs the CUDA plugin ('.[aot]')"
)
def test_gpu_machine_compiles_without_a_gpu():
    result = _run("--topology=h100x2", *MICRO, "--json")
    assert result.returncode == 0, result.stderr
    summary = _summary(result)
    assert summary["platform"] == "gpu" and summary["mesh"] == {"data": 2, "model": 1}
    assert summary["physical_memory_bytes"] == 81559 << 20
