"""The ``python -m instructrec_jax.data prepare`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import amazon_reviews, write_gzip_lines

from instructrec_jax.data.cli import main


def test_json_output_and_sequence_dump(tmp_path, capsys):
    dump = tmp_path / "sequences.jsonl"
    status = main(
        ["prepare", "--dataset=synthetic", "--num_users=50", "--num_items=60",
         f"--cache_dir={tmp_path}", "--k_core=3", "--json", f"--dump_sequences={dump}"]
    )  # fmt: skip
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"users", "items", "interactions", "splits", "steps"} <= set(summary)
    assert summary["splits"]["valid"] == summary["splits"]["test"] == summary["users"]
    assert [step["step"] for step in summary["steps"]] == ["raw", "title", "dedupe", "3-core"]
    rows = [json.loads(line) for line in dump.read_text().splitlines()]
    assert len(rows) == summary["users"] == summary["dumped_sequences"]
    assert sum(len(row["items"]) for row in rows) == summary["interactions"]
    assert set(rows[0]) == {"user", "items"}


def test_text_output_for_amazon(amazon_dir, tmp_path, capsys):
    status = main(
        ["prepare", "--dataset=amazon2018", "--category=Video_Games",
         f"--manual_dir={amazon_dir}", f"--cache_dir={tmp_path}", "--k_core=4",
         "--num_negatives=0"]
    )  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    assert "dataset amazon2018-Video_Games" in out
    assert "catalog: 8 items, 6 with a title" in out
    assert "final: 5 users, 6 items" in out


def test_bad_input_exit_status_and_skip_flag(amazon_dir, tmp_path, capsys):
    lines = ["not json", *amazon_reviews()]
    path = write_gzip_lines(amazon_dir / "Video_Games_5.json.gz", lines)
    common = ["prepare", "--dataset=amazon2018", "--category=Video_Games",
              f"--manual_dir={amazon_dir}", f"--cache_dir={tmp_path}", "--k_core=4",
              "--num_negatives=0", "--no_cache"]  # fmt: skip
    assert main(common) == 1
    assert f"{path}:1: invalid JSON" in capsys.readouterr().err
    assert main([*common, "--skip_bad_lines", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bad_lines"] == {str(path): 1}
    assert not (tmp_path / "processed").exists()  # --no_cache writes nothing


def test_module_entry_point_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "instructrec_jax.data", "prepare", "--dataset=synthetic",
         "--num_users=30", "--num_items=40", "--k_core=2", f"--cache_dir={tmp_path}", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout)["users"] > 0


def test_recbole_path_and_missing_flags(recbole_prefix, tmp_path, capsys):
    status = main(
        ["prepare", "--dataset=recbole", f"--path={recbole_prefix}", f"--cache_dir={tmp_path}",
         "--k_core=3", "--num_negatives=1", "--json"]
    )  # fmt: skip
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dataset"] == "recbole-tiny"
    assert summary["steps"][0]["interactions"] == 29
    assert main(["prepare", "--dataset=recbole"]) == 2
    assert "--path" in capsys.readouterr().err
