"""Mixture planning: members, held-out types, the diversity ladder, rates."""

from __future__ import annotations

import itertools

import pytest

from instructrec_jax.tasks import mixtures, naming
from instructrec_jax.tasks.mixtures import TrainingTask


def _task(family, instruction_type, n):
    return TrainingTask(
        naming.task_name("ml-100k", family, instruction_type), family, instruction_type, n
    )


TASKS = [
    _task("recommendation", "p1_i0_t2_cot", 5),
    _task("personalized_search", "p1_i1_t3", 10),
    _task("personalized_search", "p1_i2_t3", 15),
    _task("product_search", "p0_i2_t3", 20),
    _task("recommendation", "p1_i0_t3", 60),
    _task("recommendation", "p1_i0_t2", 30),
]


def test_plan_names_and_members():
    plans = mixtures.plan_mixtures("ml-100k", TASKS, held_out_types=("p1_i1_t3",))
    assert sorted(plans) == sorted(
        [
            "instructrec_ml100k_all",
            "instructrec_ml100k_seqrec",
            "instructrec_ml100k_search",
            "instructrec_ml100k_psearch",
            "instructrec_ml100k_all_but_p1_i1_t3",
            "instructrec_ml100k_all_but_seqrec",
            "instructrec_ml100k_all_but_search",
            "instructrec_ml100k_all_but_psearch",
            "instructrec_ml100k_ladder_1",
            "instructrec_ml100k_ladder_2",
            "instructrec_ml100k_ladder_4",
            "instructrec_ml100k_ladder_5",
        ]
    )
    assert plans["instructrec_ml100k_all"] == TASKS
    assert {t.family for t in plans["instructrec_ml100k_psearch"]} == {"personalized_search"}
    held_out = plans["instructrec_ml100k_all_but_p1_i1_t3"]
    assert len(held_out) == 5 and all(t.instruction_type != "p1_i1_t3" for t in held_out)


def test_default_ladder_is_fixed_nested_and_excludes_held_out():
    plans = mixtures.plan_mixtures("ml-100k", TASKS, held_out_types=("p1_i1_t3",))
    ladder = [plans[f"instructrec_ml100k_ladder_{n}"] for n in (1, 2, 4, 5)]
    assert [t.key for t in plans["instructrec_ml100k_ladder_5"]] == [
        "recommendation/p1_i0_t3",  # plain reranking first, families in FAMILIES order
        "product_search/p0_i2_t3",
        "personalized_search/p1_i2_t3",
        "recommendation/p1_i0_t2",  # then matching
        "recommendation/p1_i0_t2_cot",  # strategies last
    ]
    for smaller, larger in itertools.pairwise(ladder):
        assert larger[: len(smaller)] == smaller
    assert mixtures.ladder_sizes(5) == [1, 2, 4, 5]
    assert mixtures.ladder_sizes(4) == [1, 2, 4]
    assert mixtures.ladder_sizes(0) == []


def test_explicit_ladder_order_and_errors():
    plans = mixtures.plan_mixtures(
        "ml-100k", TASKS, held_out_types=(), ladder_order=["p0_i2_t3", "recommendation/p1_i0_t3"]
    )
    assert [t.instruction_type for t in plans["instructrec_ml100k_ladder_2"]] == [
        "p0_i2_t3",
        "p1_i0_t3",
    ]
    with pytest.raises(ValueError, match="matches 0 training tasks"):
        mixtures.plan_mixtures("ml-100k", TASKS, ladder_order=["p2_i0_t2"])
    with pytest.raises(ValueError, match="held-out"):
        mixtures.plan_mixtures(
            "ml-100k", TASKS, held_out_types=("p1_i1_t3",), ladder_order=["p1_i1_t3"]
        )
    with pytest.raises(ValueError, match="repeats"):
        mixtures.plan_mixtures("ml-100k", TASKS, ladder_order=["p0_i2_t3", "p0_i2_t3"])


def test_custom_mixtures_name_their_members_and_may_include_held_out_types():
    plans = mixtures.plan_mixtures(
        "ml-100k",
        TASKS,
        held_out_types=("p1_i1_t3",),
        custom_mixtures={"seq_rank": ["recommendation/p1_i0_t2", "p1_i0_t3", "p1_i1_t3"]},
    )
    assert [t.key for t in plans["instructrec_ml100k_seq_rank"]] == [
        "recommendation/p1_i0_t2",
        "recommendation/p1_i0_t3",
        "personalized_search/p1_i1_t3",
    ]
    with pytest.raises(ValueError, match="'all' is already a generated mixture"):
        mixtures.plan_mixtures("ml-100k", TASKS, custom_mixtures={"all": ["p1_i0_t3"]})
    with pytest.raises(ValueError, match="custom mixture 'x': ladder entry 'p9_i0_t3' matches 0"):
        mixtures.plan_mixtures("ml-100k", TASKS, custom_mixtures={"x": ["p9_i0_t3"]})
    with pytest.raises(ValueError, match="names no tasks"):
        mixtures.plan_mixtures("ml-100k", TASKS, custom_mixtures={"x": []})
    with pytest.raises(ValueError, match="lowercase"):
        mixtures.plan_mixtures("ml-100k", TASKS, custom_mixtures={"Bad-Name": ["p1_i0_t3"]})


def test_absent_held_out_type_gets_no_mixture():
    plans = mixtures.plan_mixtures("ml-100k", TASKS, held_out_types=("p2_i0_t2",))
    assert not any("all_but_p2" in name for name in plans)


def test_rates():
    assert mixtures.rate_value("examples", 60) == 60.0
    assert mixtures.rate_value("uniform", 60) == 1.0
    with pytest.raises(ValueError, match="mixture rate must be one of"):
        mixtures.rate_value("temperature", 60)
    choice = {"kind": "examples"}
    rate = mixtures.TaskRate(lambda: choice["kind"], 60)
    assert rate(None) == 60.0
    choice["kind"] = "uniform"
    assert rate(None) == 1.0
    shares = mixtures.expected_proportions(TASKS[1:3], "examples")
    assert shares == {TASKS[1].name: pytest.approx(0.4), TASKS[2].name: pytest.approx(0.6)}


def test_names():
    assert naming.task_name("ml-100k", "recommendation", "p1_i0_t3") == (
        "instructrec_ml100k_seqrec_p1_i0_t3"
    )
    assert naming.task_name("Video_Games", "product_search", "p0_i2_t3") == (
        "instructrec_videogames_search_p0_i2_t3"
    )
    with pytest.raises(ValueError, match="unknown family"):
        naming.family_short_name("ads")


def test_every_type_and_family_can_be_left_out():
    plans = mixtures.plan_mixtures(
        "ml-100k", TASKS, held_out_types=("p1_i1_t3",), leave_one_out_types=mixtures.ALL_TYPES
    )
    for task in TASKS:
        members = plans[naming.leave_one_out_mixture_name("ml-100k", task.instruction_type)]
        assert task not in members and len(members) == len(TASKS) - 1
    # Only p1_i1_t3 stays out of the ladder; the other leave-one-out types stay in it.
    assert len(plans["instructrec_ml100k_ladder_5"]) == 5
    no_search = plans["instructrec_ml100k_all_but_psearch"]
    assert [t.family for t in no_search].count("personalized_search") == 0
    assert len(no_search) == 4
    assert len(plans["instructrec_ml100k_all_but_search"]) == 5
    named = mixtures.plan_mixtures("ml-100k", TASKS, leave_one_out_types=["p0_i2_t3"])
    assert [n for n in named if "_all_but_p" in n and "search" not in n] == [
        "instructrec_ml100k_all_but_p0_i2_t3"
    ]
    with pytest.raises(ValueError, match="leave_one_out_types"):
        mixtures.plan_mixtures("ml-100k", TASKS, leave_one_out_types="p0_i2_t3")


def test_a_single_family_gets_no_empty_family_leave_out():
    only = [t for t in TASKS if t.family == "recommendation"]
    plans = mixtures.plan_mixtures("ml-100k", only)
    assert not any(name.endswith("all_but_seqrec") for name in plans)
