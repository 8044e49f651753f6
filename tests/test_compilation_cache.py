"""The entry points' on-disk compilation cache: where it lives, and that a second process
loads what the first one compiled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from instructrec_jax import compilation_cache
from instructrec_jax.compilation_cache import ENV_VAR, resolve_directory

REPO = Path(__file__).resolve().parents[1]

# Enables the cache at argv[1], compiles one small program, prints the cache hits seen.
_PROBE = """
import sys
import jax, jax.numpy as jnp
from instructrec_jax import compilation_cache
hits = []
jax.monitoring.register_event_listener(
    lambda event, **_: hits.append(event) if event.endswith("/cache_hits") else None
)
print(compilation_cache.describe(compilation_cache.enable(sys.argv[1])))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
x = jnp.arange(64.0).reshape(8, 8)
print(float(jax.jit(lambda a: jnp.sum(jnp.sin(a) @ a.T))(x)))
print("hits", len(hits))
"""


def _probe(folder: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", _PROBE, folder],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


@pytest.mark.parametrize(
    ("flag", "environ", "jax_directory", "expected"),
    [
        ("/flag", {ENV_VAR: "/env"}, "/jax", "/flag"),
        ("", {ENV_VAR: "/env"}, "/jax", None),
        (None, {ENV_VAR: "/env"}, "/jax", "/env"),
        (None, {ENV_VAR: ""}, "/jax", None),
        (None, {}, "/jax", "/jax"),
        (None, {"XDG_CACHE_HOME": "/xdg"}, None, "/xdg/instructrec_jax/xla"),
        ("gs://bucket/cache", {}, None, "gs://bucket/cache"),
    ],
)
def test_the_folder_follows_flag_then_environment_then_jax_then_default(
    flag, environ, jax_directory, expected
):
    assert resolve_directory(flag, environ, jax_directory) == expected


def test_the_default_folder_is_under_the_home_cache_and_relative_paths_become_absolute(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_directory(None, {}, None) == str(tmp_path / ".cache/instructrec_jax/xla")
    monkeypatch.chdir(tmp_path)
    assert resolve_directory("relative", {}, None) == str(tmp_path / "relative")


def test_a_second_process_loads_the_program_the_first_one_compiled(tmp_path):
    folder = tmp_path / "xla_cache"
    first = _probe(str(folder))
    assert first.stdout.splitlines()[0] == f"XLA compilation cache: {folder}"
    assert first.stdout.splitlines()[-1] == "hits 0"
    assert any(folder.iterdir()), "nothing was written to the cache folder"
    second = _probe(str(folder))
    hits = int(second.stdout.splitlines()[-1].split()[1])
    assert hits >= 1  # the jitted function (and any helper programs JAX compiled)
    assert second.stdout.splitlines()[1] == first.stdout.splitlines()[1]  # same value


def test_a_folder_that_cannot_be_created_turns_the_cache_off_with_a_warning(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = _probe(str(blocker / "cache"))
    assert result.stdout.splitlines()[0] == "XLA compilation cache: off"
    assert "warning: XLA compilation cache off:" in result.stderr
    assert result.stdout.splitlines()[-1] == "hits 0"


def test_the_entry_points_log_the_folder_or_off():
    assert compilation_cache.describe(None) == "XLA compilation cache: off"
    assert compilation_cache.describe("/c") == "XLA compilation cache: /c"
