"""Command-line flags shared by the gin entry points (train, evaluate, score, demo).

T5X users write ``--gin_file=...`` (repeatable), ``--gin_search_paths=a,b`` and
``--gin.NAME=VALUE`` (or ``--gin_bindings='NAME = VALUE'``). Every entry point of this
package accepts exactly those, through the two functions below, and finds gin files given
as paths, relative to a search folder, or relative to the repository's ``gin/`` folder.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import gin
from gin import config_parser

REPO_GIN_DIR = Path(__file__).resolve().parents[1] / "gin"


class GinFileNotFoundError(ValueError):
    """A ``--gin_file`` that is in none of the search folders."""


def add_gin_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--gin_file``, ``--gin_bindings`` and ``--gin_search_paths`` to ``parser``."""
    parser.add_argument("--gin_file", action="append", default=[], help="gin file (repeatable)")
    parser.add_argument(
        "--gin_bindings", action="append", default=[], help="gin binding 'NAME = VALUE'"
    )
    parser.add_argument(
        "--gin_search_paths", default="", help="comma-separated folders for gin files"
    )


def parse_with_gin_flags(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> tuple[argparse.Namespace, list[str]]:
    """Parse ``argv``; return (flags, gin bindings ``'NAME = VALUE'``).

    ``--gin.NAME=VALUE`` arguments become bindings after those of ``--gin_bindings``; any
    other unknown argument is a usage error that names it.
    """
    known, rest = parser.parse_known_args(list(argv))
    bindings = list(getattr(known, "gin_bindings", []))
    for argument in rest:
        if not argument.startswith("--gin.") or "=" not in argument:
            parser.error(f"unrecognized argument {argument!r} (gin bindings are --gin.NAME=VALUE)")
        name, value = argument[len("--gin.") :].split("=", 1)
        problem = binding_syntax_error(f"{name} = {value}")
        if problem is not None:
            parser.error(
                f"--gin.{name}={value}: not a gin value ({problem}); a string needs its own "
                f"quotes inside the shell's, e.g. --gin.{name}=\"'{value}'\""
            )
        bindings.append(f"{name} = {value}")
    return known, bindings


def binding_syntax_error(binding: str) -> str | None:
    """Gin's parse error of one ``'NAME = VALUE'`` binding (first line), or None when it parses.

    Only the syntax is checked: configurables and macros need not be registered yet.
    """
    delegate = gin.config.ParserDelegate(skip_unknown=True)
    try:
        list(config_parser.ConfigParser(binding, delegate))
    except SyntaxError as error:
        return str(error.msg).splitlines()[0]
    return None


def search_folders(search_paths: str | Sequence[str] = ()) -> list[str]:
    """The folders gin files are looked up in: the given ones, the cwd, the repo's gin/."""
    paths = search_paths.split(",") if isinstance(search_paths, str) else list(search_paths)
    return [*(path for path in paths if path), os.getcwd(), str(REPO_GIN_DIR)]


def resolve_gin_file(path: str, folders: Sequence[str]) -> str:
    """``path`` as given if it exists, else the first ``folder/path`` that exists."""
    if os.path.isfile(path):
        return path
    for folder in folders:
        candidate = os.path.join(folder, path)
        if os.path.isfile(candidate):
            return candidate
    raise GinFileNotFoundError(f"gin file {path!r} not found (searched {', '.join(folders)})")


def resolve_gin_files(gin_files: Sequence[str], folders: Sequence[str]) -> list[str]:
    """Add ``folders`` to gin's search path (for files' own includes) and return each of
    ``gin_files`` resolved by :func:`resolve_gin_file`."""
    for folder in folders:
        gin.add_config_file_search_path(folder)
    return [resolve_gin_file(path, folders) for path in gin_files]
