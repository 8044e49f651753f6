"""run_evaluation end to end with scripted rankers: template choice, protocols, resume."""

from __future__ import annotations

import json

import pytest

from instructrec_jax.evaluation import protocols
from instructrec_jax.evaluation.runner import EvaluationConfig, run_evaluation
from tests.evaluation.helpers import (
    GlobalScorer,
    ScriptedTemplatedRanker,
    TargetAwareScorer,
    small_dataset,
)


def _config(**changes):
    base = dict(
        scenarios=("sequential", "product_search"),
        protocols=("random", "full100", "grouped100"),
        max_test_examples=20,
        max_valid_examples=12,
        shard_size=8,
    )
    base.update(changes)
    return EvaluationConfig(**base)


def test_run_evaluation_chooses_templates_on_validation_and_writes_reports(tmp_path):
    dataset = small_dataset()
    ranker = ScriptedTemplatedRanker()
    result = run_evaluation(
        dataset, tmp_path, ranker, [GlobalScorer("global")], _config(), progress=False
    )
    ours = [row for row in result.rows if row.model == "scripted"]
    assert {row.template_id for row in ours} == {"T2"}  # T2 ranks the target first
    assert all(row.validation["T2"] == 1.0 and row.validation["T1"] == 0.0 for row in ours)
    for row in ours:
        assert row.metrics["HR@1"] == 1.0 and row.metrics["MRR"] == 1.0
    sequential = [r for r in result.rows if r.scenario == "sequential" and r.protocol == "random"]
    assert {r.model for r in sequential} == {"scripted", "global"}
    assert all(r.num_examples == 20 for r in sequential)
    # Product search keeps only users whose test target is an unseen (test-split) item.
    product = [r for r in result.rows if r.scenario == "product_search"]
    unseen = sum(dataset.item_split[e.target] == "test" for e in dataset.test)
    assert {r.instruction_type for r in product} == {"p0_i1_t3", "p0_i2_t3"}
    assert all(r.num_examples == min(unseen, 20) for r in product)

    payload = json.loads(result.metrics_path.read_text())
    assert payload["settings"]["dataset_fingerprint"] == dataset.fingerprint
    assert len(payload["results"]) == len(result.rows)
    for row in result.rows:  # per-user ranks and bootstrap intervals over those users
        assert len(row.ranks) == len(row.user_ids) == row.num_examples
        for name, (low, high) in row.intervals.items():
            assert low <= row.metrics[name] <= high
    assert payload["results"][0]["intervals"] == result.rows[0].intervals
    table = result.table_path.read_text()
    for protocol in ("random", "full100", "grouped100"):
        assert f"## Protocol `{protocol}`" in table
    assert "| sequential | p1_i0_t3 | scripted (T2) | **1.0000 [1.000, 1.000]** |" in table
    assert result.chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_resumes_from_saved_shards(tmp_path):
    dataset = small_dataset()
    config = _config(scenarios=("sequential",), protocols=("random",))
    first = ScriptedTemplatedRanker()
    run_evaluation(dataset, tmp_path, first, [], config, progress=False)
    assert first.total_scored_lists() > 0
    shard_files = sorted((tmp_path / "shards").glob("*/*.json"))
    # Interrupt: drop one finished shard; only that one is recomputed.
    shard_files[0].unlink()
    second = ScriptedTemplatedRanker()
    again = run_evaluation(dataset, tmp_path, second, [], config, progress=False)
    assert 0 < second.total_scored_lists() <= 8
    assert again.rows[0].metrics["HR@1"] == 1.0
    third = ScriptedTemplatedRanker()
    run_evaluation(dataset, tmp_path, third, [], config, progress=False)
    assert third.total_scored_lists() == 0


def test_raising_the_cap_reuses_finished_shards_and_scores_only_new_users(tmp_path):
    # small_dataset has 60 test users, so caps 20 then 40 (shards of 8) stand in for 100 / 200.
    dataset = small_dataset()

    def run(directory, cap):
        ranker = ScriptedTemplatedRanker()
        config = _config(scenarios=("sequential",), protocols=("random",), max_test_examples=cap)
        result = run_evaluation(
            dataset, directory, ranker, [GlobalScorer()], config, progress=False
        )
        return ranker.total_scored_lists(), result.rows

    run(tmp_path, 20)
    scored, rows = run(tmp_path, 40)
    # Shards of users 0-7 and 8-15 are reused; 16-23 (before: 16-19) and the rest are new.
    assert scored == 40 - 16
    _, fresh_rows = run(tmp_path / "fresh", 40)
    assert [r.metrics for r in rows] == [r.metrics for r in fresh_rows]
    assert all(r.num_examples == 40 for r in rows)
    scored_again, rows_20 = run(tmp_path, 20)  # both versions of shard 2 are kept
    assert scored_again == 0 and all(r.num_examples == 20 for r in rows_20)


def test_hard_protocol_uses_the_retriever_and_requires_one(tmp_path):
    dataset = small_dataset()
    with pytest.raises(ValueError, match="needs a retriever"):
        run_evaluation(dataset, tmp_path, None, [GlobalScorer()], _config(protocols=("hard",)))
    ranked = sorted(dataset.catalog)

    def top(examples, k):
        return [
            [i for i in ranked if i not in set(dataset.sequences[e.user_id].item_ids)][:k]
            for e in examples
        ]

    result = run_evaluation(
        dataset,
        tmp_path,
        None,
        [GlobalScorer()],
        _config(scenarios=("sequential",), protocols=("hard",)),
        retriever=protocols.FunctionRetriever("first-ids", top),
        progress=False,
    )
    assert [r.protocol for r in result.rows] == ["hard"]


def test_config_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown scenario"):
        EvaluationConfig(scenarios=("nope",))
    with pytest.raises(ValueError, match="unknown protocols"):
        EvaluationConfig(protocols=("top5",))


def test_config_rejects_metrics_that_are_never_computed():
    with pytest.raises(ValueError, match=r"selection_metric 'NDCG@1'.*HR@1, HR@3"):
        EvaluationConfig(selection_metric="NDCG@1")
    with pytest.raises(ValueError, match="chart_metric 'AUC'"):
        EvaluationConfig(chart_metric="AUC")


def test_other_settings_use_other_shards(tmp_path):
    dataset = small_dataset()
    config = _config(scenarios=("sequential",), protocols=("random",))
    run_evaluation(dataset, tmp_path, ScriptedTemplatedRanker(), [], config, progress=False)
    again = ScriptedTemplatedRanker()
    run_evaluation(
        dataset, tmp_path, again, [], config, progress=False, run_settings={"checkpoint": "b"}
    )
    assert again.total_scored_lists() > 0  # a new checkpoint is scored, not read back
    assert len(list((tmp_path / "shards").iterdir())) == 2


class _FingerprintedScorer(GlobalScorer):
    def __init__(self, fingerprint: str) -> None:
        super().__init__("trained")
        self.fingerprint = fingerprint


def test_a_retrained_baseline_is_scored_again(tmp_path):
    dataset = small_dataset()
    config = _config(scenarios=("sequential",), protocols=("random",))
    first = _FingerprintedScorer("params-a")
    run_evaluation(dataset, tmp_path, None, [first], config, progress=False)
    same = _FingerprintedScorer("params-a")
    run_evaluation(dataset, tmp_path, None, [same], config, progress=False)
    assert first.calls and not same.calls  # same parameters: shards reused
    retrained = _FingerprintedScorer("params-b")
    run_evaluation(dataset, tmp_path, None, [retrained], config, progress=False)
    assert len(retrained.calls) == len(first.calls)  # new parameters: scored again


def test_a_retrained_retriever_gives_new_hard_candidate_sets(tmp_path):
    dataset = small_dataset()
    config = _config(scenarios=("sequential",), protocols=("hard",))
    ranked = sorted(dataset.catalog)

    def top(examples, k):
        return [
            [i for i in ranked if i not in set(dataset.sequences[e.user_id].item_ids)][:k]
            for e in examples
        ]

    class Retriever:
        name = "first-ids"

        def __init__(self, fingerprint: str) -> None:
            self.fingerprint = fingerprint

        def top_items(self, examples, k):
            return top(examples, k)

    def run(fingerprint):
        retriever = Retriever(fingerprint)
        scorer = GlobalScorer()
        run_evaluation(dataset, tmp_path, None, [scorer], config, retriever, progress=False)
        return len(scorer.calls)

    assert run("a") > 0
    assert run("a") == 0
    assert run("b") > 0


class _FamilyRanker(ScriptedTemplatedRanker):
    """Offers 'T1' to the recommendation family and 'T2' to the others."""

    def template_ids(self, instruction_type: str, family: str | None = None) -> list[str]:
        return ["T1"] if family == "recommendation" else ["T2"]


def test_templates_are_chosen_within_the_scenarios_family(tmp_path):
    config = _config(scenarios=("sequential", "personalized_search"), protocols=("random",))
    result = run_evaluation(small_dataset(), tmp_path, _FamilyRanker(), [], config, progress=False)
    chosen = {(r.scenario, r.template_id) for r in result.rows}
    assert chosen == {("sequential", "T1"), ("personalized_search", "T2")}


def test_rows_record_the_candidate_count_and_tables_hide_trivial_cutoffs(tmp_path):
    config = _config(scenarios=("sequential",), protocols=("random", "full100"))
    result = run_evaluation(
        small_dataset(),
        tmp_path,
        None,
        [GlobalScorer(), GlobalScorer("other", "x")],
        config,
        progress=False,
    )
    assert {(r.protocol, r.num_candidates) for r in result.rows} == {
        ("random", 10),
        ("full100", 100),
    }
    random_table = result.table_path.read_text().split("## Protocol `full100`")[0]
    # HR@10 of 10 candidates is always 1: shown as '-', never bold.
    assert all(
        line.split(" | ")[8] == "-" for line in random_table.splitlines() if "| global" in line
    )


class PerTypeScorer:
    """Scored per instruction type: the oracle for vague queries, the anti-oracle else."""

    name = "per-type"

    def __init__(self) -> None:
        self.bound: list[str] = []

    def for_instruction_type(self, instruction_type):
        self.bound.append(instruction_type)
        return TargetAwareScorer(self.name, 1.0 if instruction_type == "p0_i1_t3" else -1.0)

    def score(self, examples):
        raise AssertionError("an instruction-type scorer is scored per type")


def test_query_baselines_are_scored_once_per_instruction_type(tmp_path):
    config = _config(scenarios=("sequential", "product_search"), protocols=("random",))
    scorer = PerTypeScorer()
    result = run_evaluation(small_dataset(), tmp_path, None, [scorer], config, progress=False)
    assert scorer.bound == ["p1_i0_t3", "p0_i1_t3", "p0_i2_t3"]
    hr1 = {row.instruction_type: row.metrics["HR@1"] for row in result.rows}
    assert hr1 == {"p1_i0_t3": 0.0, "p0_i1_t3": 1.0, "p0_i2_t3": 0.0}


def test_report_split_valid_reports_validation_users_not_used_for_templates(tmp_path):
    dataset = small_dataset()
    config = _config(
        scenarios=("sequential",),
        protocols=("random",),
        max_valid_examples=12,
        max_test_examples=30,
        report_split="valid",
    )
    result = run_evaluation(
        dataset, tmp_path, ScriptedTemplatedRanker(), [GlobalScorer()], config, progress=False
    )
    valid_users = [e.user_id for e in dataset.split_examples("valid")]
    expected = valid_users[12:42]  # after the 12 template-selection users, at most 30
    assert len(expected) == 30
    for row in result.rows:
        assert row.user_ids == expected
    test = run_evaluation(
        dataset,
        tmp_path,
        ScriptedTemplatedRanker(),
        [GlobalScorer()],
        _config(scenarios=("sequential",), protocols=("random",), max_test_examples=30),
        progress=False,
    )
    test_users = [e.user_id for e in dataset.split_examples("test")][:30]
    assert all(row.user_ids == test_users for row in test.rows)
    # Same users in both splits, but different targets: the valid rows are not test rows.
    valid_global = next(r for r in result.rows if r.model == "global")
    test_global = next(r for r in test.rows if r.model == "global")
    assert valid_global.ranks != test_global.ranks
    with pytest.raises(ValueError, match="report_split"):
        EvaluationConfig(report_split="train")
