"""Seeds combined per user, intervals and paired tests on hand-made rows."""

from __future__ import annotations

import pytest

from instructrec_jax.ablation import report
from instructrec_jax.evaluation.reports import ResultRow


def _row(ranks, users=("u1", "u2", "u3", "u4"), model="InstructRec"):
    return ResultRow(
        "sequential", "p1_i0_t3", "random", model, "", len(ranks), {}, ranks=list(ranks),
        user_ids=list(users),
    )  # fmt: skip


def test_seeds_are_averaged_per_user_before_the_bootstrap():
    cell = report.combine_seeds([_row([1, 2, 1, 5]), _row([1, 1, 3, 5])], resamples=500)
    # HR@1 per user: seed 0 [1, 0, 1, 0], seed 1 [1, 1, 0, 0] -> [1, .5, .5, 0], mean .5.
    assert cell.per_user["HR@1"].tolist() == [1.0, 0.5, 0.5, 0.0]
    assert cell.metrics["HR@1"] == 0.5 and cell.num_seeds == 2
    low, high = cell.intervals["HR@1"]
    assert 0.0 <= low < 0.5 < high <= 1.0
    with pytest.raises(ValueError, match="different users"):
        report.combine_seeds([_row([1, 2, 1, 5]), _row([1, 2, 1, 5], ("a", "b", "c", "d"))], 10)
    with pytest.raises(ValueError, match="no per-user ranks"):
        report.combine_seeds([_row([])], 10)


def test_paired_test_of_an_arm_that_wins_on_every_user():
    better = report.arm_cells([[_row([1, 1, 1, 1, 1], users="abcde")]], "InstructRec", 100)
    worse = report.arm_cells([[_row([2, 2, 2, 2, 2], users="abcde")]], "InstructRec", 100)
    tests = report.paired_tests({"ref": worse, "arm": better}, "ref", ("HR@1",), 1000)
    (test,) = tests["arm"].values()
    # Five users, each +1 on HR@1: exact sign-flip p = 2 / 2**5.
    assert test["HR@1"].mean_difference == 1.0 and test["HR@1"].p_value == pytest.approx(1 / 16)
    table = report.markdown_paired(tests, "ref")
    assert "| arm | sequential | p1_i0_t3 | random | HR@1 | +1.0000 [+1.000, +1.000] * |" in table
    assert "1.0000 [1.000, 1.000]" in report.markdown_table({"arm": better}, ("HR@1",))
