"""One top-level error handler for every entry point: a message, an exit status, no traceback.

Each ``python -m instructrec_jax.<tool>`` runs its body through :func:`run_main`, so a user
error ends in one line on stderr instead of a Python traceback:

* exit status 2 (:data:`USAGE_EXIT`) for usage errors: bad flags (argparse), bad gin files or
  bindings, bad settings (:class:`UsageError` and its subclasses);
* exit status 1 (:data:`FAILURE_EXIT`) for every other failure: missing or truncated files,
  bad data lines, an unwritable output, a server that refuses;
* exit status 130 on Ctrl-C.

``--verbose`` (accepted by every entry point, anywhere on the command line) prints the
traceback as well.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

USAGE_EXIT = 2
FAILURE_EXIT = 1
INTERRUPTED_EXIT = 130
VERBOSE_FLAG = "--verbose"


_Settings = TypeVar("_Settings")


class UsageError(ValueError):
    """A bad flag, setting or gin binding: the command line must change (exit status 2)."""


def checked_settings(factory: Callable[..., _Settings], **settings: Any) -> _Settings:
    """``factory(**settings)``; a ``ValueError`` from its validation becomes a UsageError.

    For the settings dataclasses the flags build (``PrepareConfig``, ``GenerateConfig``...),
    whose ``__post_init__`` rejects bad values: those values came from the command line.
    """
    try:
        return factory(**settings)
    except ValueError as error:
        raise UsageError(f"bad setting: {one_line(error)}") from error


def one_line(error: BaseException) -> str:
    """The first non-empty line of ``error``'s message, or its type's name when it has none."""
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__


def exit_status(error: BaseException) -> int:
    """2 for usage errors, 1 for every other failure."""
    return USAGE_EXIT if isinstance(error, UsageError) else FAILURE_EXIT


def split_verbose(argv: Sequence[str]) -> tuple[list[str], bool]:
    """(``argv`` without ``--verbose``, whether it was there)."""
    rest = [argument for argument in argv if argument != VERBOSE_FLAG]
    return rest, len(rest) != len(argv)


def run_main(body: Callable[[list[str]], int], argv: Sequence[str] | None, prog: str) -> int:
    """Run ``body(argv)`` and turn any exception into one line on stderr and an exit status.

    Args:
      body: the entry point's work; takes the arguments (``--verbose`` removed) and returns
        its exit status.
      argv: the command-line arguments, ``sys.argv[1:]`` when None.
      prog: the command's name, printed before each message (``python -m ...``).
    """
    arguments, verbose = split_verbose(sys.argv[1:] if argv is None else argv)
    try:
        return body(arguments)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except Exception as error:
        if verbose:
            traceback.print_exc()
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return exit_status(error)
