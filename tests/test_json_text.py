"""Tests of instructrec_jax.json_text."""

from __future__ import annotations

import pytest

from instructrec_jax.json_text import parse_json_object


class _CustomError(Exception):
    pass


def test_returns_the_object():
    assert parse_json_object('{"a": [1, 2]}', "x.json") == {"a": [1, 2]}


def test_invalid_json_names_source_line_and_column():
    with pytest.raises(_CustomError, match=r"^in\.jsonl:7: not valid JSON \(.* line 2 column 3\)"):
        parse_json_object('{"a": 1,\n  oops}', "in.jsonl:7", _CustomError)


@pytest.mark.parametrize(("text", "kind"), [("[1]", "list"), ('"s"', "str"), ("3", "int")])
def test_other_json_values_are_refused(text, kind):
    with pytest.raises(ValueError, match=rf"^f: expected a JSON object, got {kind}$"):
        parse_json_object(text, "f")
