"""Markdown table (paper Table 6 layout), metrics JSON and chart."""

from __future__ import annotations

import dataclasses
import json

import pytest

from instructrec_jax.evaluation import reports


def _row(model, hr1, template="", protocol="random", scenario="sequential"):
    metrics = {name: hr1 for name in reports.TABLE_COLUMNS}
    return reports.ResultRow(scenario, "p1_i0_t3", protocol, model, template, 10, metrics)


def test_markdown_table_layout_and_best_values_in_bold():
    rows = [
        _row("InstructRec", 0.7, "A8"),
        _row("SASRec", 0.6),
        _row("Random", 0.1, protocol="hard"),
    ]
    table = reports.markdown_table(rows, "random").splitlines()
    assert table[0] == (
        "| Scenario | Instruction | Model | HR@1 | HR@3 | HR@5 | NDCG@3 | NDCG@5 | HR@10 | "
        "NDCG@10 | MRR |"
    )
    assert table[2].startswith("| sequential | p1_i0_t3 | InstructRec (A8) | **0.7000** |")
    assert table[3].startswith("| sequential | p1_i0_t3 | SASRec | 0.6000 |")
    assert len(table) == 4  # the 'hard' row belongs to another table
    with pytest.raises(ValueError, match="no results"):
        reports.markdown_table(rows, "full100")


def test_written_files(tmp_path):
    rows = [_row("InstructRec", 0.7, "A8"), _row("SASRec", 0.6, protocol="hard")]
    path = reports.write_metrics_json(rows, tmp_path / "m.json", {"seed": 0})
    payload = json.loads(path.read_text())
    assert payload["settings"] == {"seed": 0}
    assert payload["results"][0]["metrics"]["HR@1"] == 0.7
    text = reports.write_markdown(rows, tmp_path / "r.md").read_text()
    assert text.index("`random`") < text.index("`hard`")
    png = reports.write_chart(rows, tmp_path / "c.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_cutoffs_at_or_above_the_candidate_count_are_shown_as_a_dash():
    rows = [
        dataclasses.replace(_row("InstructRec", 0.7, "A8"), num_candidates=10),
        dataclasses.replace(_row("SASRec", 0.6), num_candidates=10),
    ]
    table = reports.markdown_table(rows, "random").splitlines()
    columns = table[0].split(" | ")
    for line in table[2:]:
        cells = line.split(" | ")
        assert cells[columns.index("HR@10")] == "-"  # HR@10 of 10 candidates is always 1
        assert cells[columns.index("NDCG@10")] != "-"  # NDCG@10 still orders the ranks
        assert cells[columns.index("HR@5")] != "-"


def test_intervals_are_shown_next_to_values_and_drawn_as_error_bars(tmp_path):
    row = dataclasses.replace(
        _row("InstructRec", 0.5, "A8"),
        intervals={"HR@1": [0.25, 0.75]},
        ranks=[1, 2],
        user_ids=["u1", "u2"],
    )
    table = reports.markdown_table([row, _row("Popularity", 0.25)], "random").splitlines()
    assert table[2].split(" | ")[3] == "**0.5000 [0.250, 0.750]**"
    assert table[3].split(" | ")[3] == "0.2500"  # no interval, no brackets
    assert "bootstrap interval" in reports.write_markdown([row], tmp_path / "r.md").read_text()
    values, errors = reports._interval_errors([row], "HR@1")
    assert values == [0.5] and errors == [[0.25], [0.25]]
    payload = json.loads(reports.write_metrics_json([row], tmp_path / "m.json", {}).read_text())
    assert payload["results"][0]["intervals"] == {"HR@1": [0.25, 0.75]}
    assert payload["results"][0]["ranks"] == [1, 2]
    assert reports.write_chart([row], tmp_path / "c.png", "HR@1").read_bytes()[:4] == b"\x89PNG"
