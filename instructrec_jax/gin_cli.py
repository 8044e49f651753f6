"""Command-line flags shared by the gin entry points (train, evaluate, score, demo).

T5X users write ``--gin_file=...`` (repeatable), ``--gin_search_paths=a,b`` and
``--gin.NAME=VALUE`` (or ``--gin_bindings='NAME = VALUE'``). Every entry point of this
package accepts exactly those, through the two functions below, and finds gin files given
as paths, relative to a search folder, or relative to the repository's ``gin/`` folder.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import gin
from gin import config_parser
from instructrec_jax.cli_errors import UsageError

REPO_GIN_DIR = Path(__file__).resolve().parents[1] / "gin"


class GinFileNotFoundError(UsageError):
    """A ``--gin_file`` that is in none of the search folders."""


class GinConfigError(UsageError):
    """A gin file or binding that cannot configure a run; one line naming the culprit."""


class UnusedMacroError(UsageError):
    """A command-line macro binding (``--gin.NAME=...``) that nothing reads."""


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
    try:
        list(config_parser.ConfigParser(binding, _MacroRecorder()))
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


class _MacroRecorder(config_parser.ParserDelegate):
    """A parser delegate that only records the macros (``%NAME``) a text references."""

    def __init__(self) -> None:
        self.referenced: set[str] = set()

    def configurable_reference(self, scoped_configurable_name: str, evaluate: bool) -> str:
        return scoped_configurable_name

    def macro(self, macro_name: str) -> str:
        self.referenced.add(macro_name)
        return macro_name


def _statements(text: str, recorder: _MacroRecorder, where: str) -> list[object]:
    try:
        return list(config_parser.ConfigParser(text, recorder))
    except SyntaxError as error:
        raise UsageError(f"{where}: not valid gin ({str(error.msg).splitlines()[0]})") from error


def macro_usage(gin_files: Iterable[str], folders: Sequence[str]) -> tuple[set[str], set[str]]:
    """(macros referenced as ``%NAME``, macros defined as ``NAME = ...``) in ``gin_files``.

    ``include`` lines are followed: an included file is looked up beside its includer, as a
    path, then in ``folders``.
    """
    recorder = _MacroRecorder()
    defined: set[str] = set()
    pending, seen = list(gin_files), set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        with open(path, encoding="utf-8") as stream:
            statements = _statements(stream.read(), recorder, path)
        for statement in statements:
            if isinstance(statement, config_parser.IncludeStatement):
                here = os.path.dirname(os.path.abspath(path))
                pending.append(resolve_gin_file(statement.filename, [here, *folders]))
            elif isinstance(statement, config_parser.BindingStatement) and not statement.arg_name:
                defined.add(statement.selector)
    return recorder.referenced, defined


def check_macros_used(
    bindings: Sequence[str],
    resolved_files: Sequence[str],
    folders: Sequence[str],
    read_by_code: Iterable[str] = (),
) -> None:
    """Refuse a command-line macro binding that no gin file, binding or code reads.

    Gin accepts ``--gin.TRAIN_STEPZ=5`` as a new macro and runs with the default number of
    steps; here it is a :class:`UnusedMacroError` naming the closest macro. Bindings of
    configurable parameters (``NAME.param = ...``) are left to gin, which rejects unknown
    ones itself.

    Args:
      bindings: the command line's ``'NAME = VALUE'`` bindings.
      resolved_files: the gin files parsed with them (their includes are followed).
      folders: gin search folders, for includes.
      read_by_code: macros the entry point reads itself (``gin.query_parameter``).
    """
    referenced, defined = macro_usage(resolved_files, folders)
    recorder = _MacroRecorder()
    bound: list[str] = []
    for binding in bindings:
        for statement in _statements(binding, recorder, f"binding {binding!r}"):
            if isinstance(statement, config_parser.BindingStatement) and not statement.arg_name:
                bound.append(statement.selector)
    known = referenced | recorder.referenced | set(read_by_code)
    for name in bound:
        if name not in known:
            raise UnusedMacroError(
                f"--gin.{name}: no gin file or configurable reads the macro {name}"
                + _suggest(name, sorted(known | defined))
            )


def _bound_configurables(texts: Iterable[str]) -> list[str]:
    """Configurables (full selector and last part) that ``texts`` and the repository's gin
    files bind and gin knows (``gin.get_configurable``): the names an unknown one is
    compared with. Gin's public API has no listing of its registry."""
    selectors: set[str] = set()
    repo_texts = (path.read_text(encoding="utf-8") for path in REPO_GIN_DIR.rglob("*.gin"))
    for text in (*texts, *repo_texts):
        try:
            statements = list(config_parser.ConfigParser(text, _MacroRecorder()))
        except SyntaxError:
            continue
        for statement in statements:
            if isinstance(statement, config_parser.BindingStatement) and statement.arg_name:
                selectors.add(statement.selector)
    names: set[str] = set()
    for selector in selectors:
        try:
            gin.get_configurable(selector)
        except ValueError:
            continue
        names.update((selector, selector.rsplit(".", 1)[-1]))
    return sorted(names)


def _suggest(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


def explain_gin_error(error: Exception, texts: Iterable[str] = ()) -> str:
    """One line for a gin parse error, with close matches for unknown names (configurables
    among those ``texts``, the gin files and bindings parsed, and the repository bind)."""
    first_line = str(error).strip().splitlines()[0]
    location = re.search(r"In (file \"[^\"]+\", line \d+|bindings string line \d+)", str(error))
    where = f" ({location.group(1)})" if location else ""
    unknown = re.search(r"No configurable matching '([^']+)'", first_line)
    if unknown:
        return f"unknown gin configurable {unknown.group(1)!r}{where}" + _suggest(
            unknown.group(1), _bound_configurables(texts)
        )
    parameter = re.search(
        r"Configurable '([^']+)' doesn't have a parameter named '([^']+)'", first_line
    )
    if parameter:
        configurable, name = parameter.groups()
        return f"gin configurable {configurable!r} has no parameter {name!r}{where}" + _suggest(
            name, _parameter_names(configurable)
        )
    return f"gin: {first_line}{where}"


def _parameter_names(configurable: str) -> list[str]:
    try:
        target = gin.get_configurable(configurable)
        function = target.__init__ if inspect.isclass(target) else target
        names = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return []
    return [name for name in names if name != "self"]


def parse_gin_config(
    resolved_files: Sequence[str], bindings: Sequence[str], skip_unknown: bool = False
) -> None:
    """Parse gin files then bindings (not finalized); any problem is a
    :class:`GinConfigError` of one line (:func:`explain_gin_error`)."""
    try:
        gin.parse_config_files_and_bindings(
            list(resolved_files), list(bindings), finalize_config=False, skip_unknown=skip_unknown
        )
    except (ValueError, SyntaxError, OSError) as error:
        texts = [Path(path).read_text(encoding="utf-8") for path in resolved_files]
        raise GinConfigError(explain_gin_error(error, [*texts, *bindings])) from error


def parse_gin_files(
    gin_files: Sequence[str],
    bindings: Sequence[str],
    folders: Sequence[str],
    read_by_code: Iterable[str] = (),
) -> list[str]:
    """Replace gin's configuration by ``gin_files`` then ``bindings``; returns the files
    resolved in ``folders``.

    Command-line macro bindings nothing reads are refused first
    (:func:`check_macros_used`), then every parse problem is a one-line
    :class:`GinConfigError` (:func:`parse_gin_config`).
    """
    gin.clear_config()
    resolved = resolve_gin_files(gin_files, folders)
    check_macros_used(bindings, resolved, folders, read_by_code=read_by_code)
    parse_gin_config(resolved, bindings)
    return resolved
