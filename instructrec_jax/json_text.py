"""Parsing JSON text a user supplies, with errors that name where it came from."""

from __future__ import annotations

import json
from typing import Any


def parse_json_object(
    text: str | bytes, where: str, error_type: type[Exception] = ValueError
) -> dict[str, Any]:
    """The JSON object in ``text``.

    Args:
      text: the JSON text (a whole file or one line of a JSON-lines file).
      where: the source for messages, e.g. ``"path"`` or ``"path:12"``.
      error_type: the exception raised (a subclass of ``Exception`` taking one message).

    Raises:
      error_type: ``"{where}: not valid JSON (...)"`` with the parser's line and column, or
        ``"{where}: expected a JSON object"`` for any other JSON value.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise error_type(
            f"{where}: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from error
    if not isinstance(value, dict):
        raise error_type(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value
