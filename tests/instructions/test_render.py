import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instructrec_jax.data.types import Item
from instructrec_jax.instructions.codes import CodeCombination, Context
from instructrec_jax.instructions.render import (
    RenderInput,
    format_candidates,
    render,
    render_pointwise,
    render_pointwise_records,
    render_rank_records,
)
from instructrec_jax.instructions.stats import RenderStats
from instructrec_jax.instructions.teachers import Annotation, HeuristicTeacher
from instructrec_jax.instructions.templates import load_templates
from instructrec_jax.instructions.tokens import WhitespaceCounter

TEMPLATES = load_templates()


def _render(template_id, combination, catalog, data, budget=512):
    template = TEMPLATES[template_id]
    combo = CodeCombination.parse(combination)
    return render(template, combo, catalog, data, WhitespaceCounter(), budget)


def _long_history(catalog):
    return tuple(sorted(catalog))[:20]


def test_truncation_drops_oldest_history_and_keeps_task_and_candidates(catalog, annotation):
    history = _long_history(catalog)
    shown = ("m30", "m31", "m32", "m33", "m34", "m35", "m36", "m37", "m38", "m20")
    data = RenderInput(history, "m20", annotation, shown)
    full = _render("A7", "p1p2_i0_t3", catalog, data)
    assert not full.truncated and full.history_kept == 20
    budget = len(full.inputs.split()) - 12
    cut = _render("A7", "p1p2_i0_t3", catalog, data, budget)
    assert cut.truncated and cut.within_budget
    assert len(cut.inputs.split()) <= budget
    assert 0 < cut.history_kept < 20
    # The newest items stay, the oldest go.
    assert catalog[history[-1]].title in cut.inputs
    assert catalog[history[0]].title not in cut.inputs
    # Task text, preference and every candidate survive.
    template_text = TEMPLATES["A7"].format_string(CodeCombination.parse("p1p2_i0_t3"))
    for fixed in template_text.split("{history}")[1].split("{")[0].split():
        assert fixed in cut.inputs
    assert annotation.explicit_preference in cut.inputs
    assert format_candidates([catalog[i].title for i in shown]) in cut.inputs
    # The largest history that fits is kept: one more item would not fit.
    kept = cut.history_kept
    longer = dataclasses.replace(data, history=history[-(kept + 1) :])
    assert len(_render("A7", "p1p2_i0_t3", catalog, longer).inputs.split()) > budget


def test_budget_too_small_keeps_one_item_and_flags_it(catalog, annotation):
    data = RenderInput(_long_history(catalog), "m20", annotation, ("m30", "m20"))
    rendered = _render("D1", "p1_i0_t1", catalog, data, budget=10)
    assert rendered.history_kept == 1
    assert not rendered.within_budget
    assert "Movie Number 30" in rendered.inputs and "Movie Number 20" in rendered.inputs


def test_targets_per_task_form(catalog, annotation):
    history = ("m01", "m02", "m03", "m04")
    title = catalog["m20"].title
    t2 = _render("A1", "p1_i0_t2", catalog, RenderInput(history, "m20", annotation))
    assert t2.targets == title
    t3 = _render("A7", "p1_i0_t3", catalog, RenderInput(history, "m20", annotation, ("m30", "m20")))
    assert t3.targets == title
    yes = _render("A11", "p1_i0_t0", catalog, RenderInput(history, "m20", annotation, ("m20",)))
    no = _render("A11", "p1_i0_t0", catalog, RenderInput(history, "m20", annotation, ("m30",)))
    assert (yes.targets, no.targets) == ("Yes", "No")
    pair_input = RenderInput(history, "m20", annotation, ("m30", "m20"))
    pair = _render("D1", "p1_i0_t1", catalog, pair_input)
    assert pair.targets == title
    assert "(A) Movie Number 30 (1980) and (B) Movie Number 20 (1970)" in pair.inputs
    preference = _render("A14", "p1p2_i0_t2", catalog, RenderInput(history, "m20", annotation))
    assert preference.targets == annotation.explicit_preference
    query_i1 = _render("B5", "p0_i1_t2", catalog, RenderInput((), "m20", annotation))
    query_i2 = _render("B5", "p0_i2_t2", catalog, RenderInput((), "m20", annotation))
    assert query_i1.targets == annotation.vague_intention
    assert query_i2.targets == annotation.specific_intention
    assert title in query_i1.inputs
    cot = _render("A3", "p1_i0_t2", catalog, RenderInput(history, "m20", annotation))
    assert annotation.explicit_preference in cot.targets
    assert cot.targets.endswith(title)
    assert cot.targets.index(annotation.explicit_preference) < cot.targets.index(title)
    related = _render("C7", "p1_i1_t2", catalog, RenderInput(history, "m20", annotation))
    assert related.targets == "; ".join(catalog[i].title for i in history[-3:])
    assert annotation.vague_intention in related.inputs and title in related.inputs
    both = _render("C8", "p1_i2_t2", catalog, RenderInput(history, "m20", annotation))
    assert annotation.specific_intention in both.targets and both.targets.endswith(title)


def test_context_is_rendered_only_when_present(catalog, annotation):
    data = RenderInput(("m01",), "m20", annotation)
    plain = _render("A1", "p1_i0_t2", catalog, data)
    assert "Context" not in plain.inputs
    with_context = _render(
        "A1", "p1_i0_t2", catalog, dataclasses.replace(data, context=Context(occasion="a {party}"))
    )
    assert with_context.inputs == f"Context: occasion: a {{party}}. {plain.inputs}"


def test_candidate_labels_switch_to_numbers_beyond_26():
    assert format_candidates(["x", "y"]) == "(A) x (B) y"
    many = format_candidates([f"t{i}" for i in range(30)])
    assert many.startswith("(1) t0 (2) t1") and many.endswith("(30) t29")


def test_rank_records_arbitrary_candidates(catalog, eval_example):
    hundred = {f"n{i:03d}": Item(f"n{i:03d}", f"Other {i}", ("Drama",)) for i in range(99)}
    catalog = {**catalog, **hundred}
    example = dataclasses.replace(eval_example, negatives=tuple(hundred))
    stats = RenderStats()
    records = list(
        render_rank_records(
            catalog, [example], ["A7", "C10", "B7"], HeuristicTeacher(), seed=3, stats=stats
        )
    )
    assert len(records) == 2 + 5 + 3
    assert stats.num_records == len(records)
    orders = {r.candidate_item_ids for r in records}
    assert len(orders) == 1  # one seeded order per example, shared by its templates
    for record in records:
        assert len(record.candidate_item_ids) == 100
        assert sorted(record.candidate_item_ids) == sorted(example.candidates)
        assert record.candidate_item_ids[record.positive_index] == example.target
        assert record.candidate_titles == tuple(catalog[i].title for i in record.candidate_item_ids)
        assert record.targets == catalog[example.target].title
        assert record.split == "test" and record.user_id == "u1"
        assert "(100) " in record.inputs
    again = list(
        render_rank_records(catalog, [example], ["A7", "C10", "B7"], HeuristicTeacher(), seed=3)
    )
    assert again == records
    other_seed = list(render_rank_records(catalog, [example], ["A7"], HeuristicTeacher(), seed=4))
    assert other_seed[0].candidate_item_ids != records[0].candidate_item_ids


def test_rank_records_filter_types_and_reject_non_t3(catalog, eval_example):
    records = list(
        render_rank_records(
            catalog, [eval_example], ["C10"], HeuristicTeacher(), 0, instruction_types={"p1_i1_t3"}
        )
    )
    assert [r.instruction_type for r in records] == ["p1_i1_t3"]
    with pytest.raises(ValueError, match="not a plain t3"):
        list(render_rank_records(catalog, [eval_example], ["A1"], HeuristicTeacher(), 0))


def test_pointwise_records_follow_candidate_order(catalog, eval_example, annotation):
    records = list(render_pointwise_records(catalog, [eval_example], ["A11"], HeuristicTeacher()))
    assert len(records) == 2 * len(eval_example.candidates)
    first_combo = records[: len(eval_example.candidates)]
    assert [r.candidate_item_ids for r in first_combo] == [(c,) for c in eval_example.candidates]
    assert [r.targets for r in first_combo] == ["Yes"] + ["No"] * 9
    assert [r.positive_index for r in first_combo] == [0] + [-1] * 9
    single = render_pointwise(
        TEMPLATES["A12"],
        CodeCombination.parse("p1p2_i0_t0"),
        catalog,
        eval_example.history,
        "m25",
        eval_example.target,
        annotation,
    )
    assert single.targets == "No" and catalog["m25"].title in single.inputs


@settings(max_examples=60, deadline=None)
@given(
    history_length=st.integers(1, 20),
    title_words=st.lists(st.integers(1, 12), min_size=40, max_size=40),
    budget=st.integers(20, 400),
    template_id=st.sampled_from(["A7", "C12", "A11", "D3"]),
)
def test_truncation_property(history_length, title_words, budget, template_id):
    annotation = Annotation("I like drama a lot", "something calm", "Drama")
    catalog = {
        f"m{i:02d}": Item(f"m{i:02d}", " ".join(["w"] * words) + f" #{i}", ("Drama",))
        for i, words in enumerate(title_words)
    }
    template = TEMPLATES[template_id]
    combination = template.combinations[-1]
    shown = {"t3": ("m30", "m31", "m39"), "t0": ("m39",), "t1": ("m30", "m39")}
    data = RenderInput(
        tuple(f"m{i:02d}" for i in range(history_length)),
        "m39",
        annotation,
        shown[combination.task_form.value],
    )
    rendered = render(template, combination, catalog, data, WhitespaceCounter(), budget)
    count = len(rendered.inputs.split())
    for item_id in data.shown:  # candidates are never cut
        assert catalog[item_id].title in rendered.inputs
    assert 1 <= rendered.history_kept <= history_length
    kept = data.history[-rendered.history_kept :]
    assert "; ".join(catalog[i].title for i in kept) in rendered.inputs  # newest items kept
    if rendered.within_budget:
        assert count <= budget
    else:
        assert rendered.history_kept == 1 and count > budget
    assert rendered.truncated == (rendered.history_kept < history_length)
