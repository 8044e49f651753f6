"""JAX's persistent compilation cache for the entry points (train, evaluate, score, demo).

A resumed run (after preemption or SIGKILL), a second evaluation of the same model, or
``make demo`` run again compiles exactly the programs of the run before. With the cache on,
XLA's executables (and on GPU its autotuning results) are written to a folder the first time
and loaded the next. The cache key covers the program, the compile options, the XLA flags
and the jaxlib version, so a changed program is compiled afresh, never served stale.

Where the cache lives, first match wins:

1. ``--compilation_cache_dir=DIR`` (``--compilation_cache_dir=`` turns it off);
2. ``$INSTRUCTREC_COMPILATION_CACHE_DIR`` (empty: off);
3. JAX's own ``$JAX_COMPILATION_CACHE_DIR``;
4. ``$XDG_CACHE_HOME/instructrec_jax/xla`` (``~/.cache/instructrec_jax/xla``).

JAX keeps only compiles that took at least ``jax_persistent_cache_min_compile_time_secs``
(1 s by default). ``JAX_ENABLE_COMPILATION_CACHE=false`` still turns JAX's cache off.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

ENV_VAR = "INSTRUCTREC_COMPILATION_CACHE_DIR"
FLAG = "--compilation_cache_dir"


def add_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--compilation_cache_dir`` (default None: see :func:`resolve_directory`)."""
    parser.add_argument(
        FLAG,
        default=None,
        help=f"folder for compiled XLA programs, reused by the next run; empty: off "
        f"(default: ${ENV_VAR}, $JAX_COMPILATION_CACHE_DIR or ~/.cache/instructrec_jax/xla)",
    )


def default_directory(environ: Mapping[str, str]) -> str:
    """``$XDG_CACHE_HOME/instructrec_jax/xla``, or ``~/.cache/instructrec_jax/xla``."""
    cache_home = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "instructrec_jax", "xla")


def resolve_directory(
    flag_value: str | None, environ: Mapping[str, str], jax_directory: str | None
) -> str | None:
    """The cache folder by the precedence in the module docstring; None when turned off."""
    if flag_value is not None:
        chosen = flag_value
    elif ENV_VAR in environ:
        chosen = environ[ENV_VAR]
    elif jax_directory:
        chosen = jax_directory
    else:
        chosen = default_directory(environ)
    if not chosen:
        return None
    # Remote folders (gs://...) are left to JAX; local ones are made absolute.
    return chosen if "://" in chosen else os.path.abspath(os.path.expanduser(chosen))


def enable(flag_value: str | None) -> str | None:
    """Point JAX's persistent compilation cache at the resolved folder; return it (None: off).

    Call before the first compile. A local folder that cannot be created turns the cache off
    with a warning on stderr instead of failing the run.
    """
    import jax

    if not jax.config.jax_enable_compilation_cache:
        return None
    directory = resolve_directory(flag_value, os.environ, jax.config.jax_compilation_cache_dir)
    if directory is not None and "://" not in directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            print(f"warning: XLA compilation cache off: {error}", file=sys.stderr)
            directory = None
    jax.config.update("jax_compilation_cache_dir", directory)
    return directory


def describe(directory: str | None) -> str:
    """One log line for the entry points."""
    return f"XLA compilation cache: {directory or 'off'}"
