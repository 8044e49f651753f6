"""The atomic JSON writer: whole files only, no temporaries left behind."""

from __future__ import annotations

import json

import pytest

from instructrec_jax.atomic_files import write_json_atomic


def test_writes_sorted_indented_json_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "new" / "folder" / "record.json"
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    first = path.read_text(encoding="utf-8")
    assert first.endswith("\n") and first.index('"a"') < first.index('"b"')
    write_json_atomic(path, {"c": "é"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"c": "é"}
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "record.json"
    write_json_atomic(path, {"kept": True})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"not json": object()})
    assert json.loads(path.read_text()) == {"kept": True}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
