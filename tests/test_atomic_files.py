"""The atomic writers: whole files only, no temporaries left behind; the writability check."""

from __future__ import annotations

import json

import pytest

from instructrec_jax.atomic_files import check_writable, open_atomic, write_json_atomic


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


def test_open_atomic_replaces_only_on_success(tmp_path):
    path = tmp_path / "scores.jsonl"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), open_atomic(path) as stream:
        stream.write("half")
        raise RuntimeError("stopped")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == [path.name]
    with open_atomic(path) as stream:
        stream.write("new\n")
    assert path.read_text() == "new\n"


def test_check_writable_names_the_path(tmp_path):
    check_writable(tmp_path / "missing" / "folders" / "out.jsonl")  # created on write
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        check_writable(tmp_path)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(NotADirectoryError, match="a_file is not a folder"):
        check_writable(tmp_path / "a_file" / "out.jsonl")
    assert not (tmp_path / "missing").exists()
