import json
import textwrap

import pytest

from instructrec_jax.instructions.cli import list_templates_main
from instructrec_jax.instructions.codes import CodeCombination, Preference, TaskForm
from instructrec_jax.instructions.render import RenderInput, render
from instructrec_jax.instructions.templates import (
    TargetKind,
    TemplateError,
    load_templates,
)
from instructrec_jax.instructions.tokens import WhitespaceCounter

PAPER_IDS = [f"A{i}" for i in range(1, 18)] + [f"B{i}" for i in range(1, 10)]
PAPER_IDS += [f"C{i}" for i in range(1, 14)]


def test_all_39_paper_templates_plus_pairwise_extras():
    templates = load_templates()
    assert [tid for tid in templates if tid[0] in "ABC"] == PAPER_IDS
    pairwise = [t for t in templates.values() if t.task_form is TaskForm.T1]
    assert {t.family for t in pairwise} == {
        "recommendation",
        "product_search",
        "personalized_search",
    }
    families = {t.family for t in templates.values() if t.id.startswith("B")}
    assert families == {"product_search"}


def test_combination_names_round_trip():
    for name in ("p0_i1_t3", "p1_i0_t3", "p2_i0_t2", "p1p2_i2_t0", "p1_i1_t1"):
        assert CodeCombination.parse(name).name == name
    combo = CodeCombination.parse("p1p2_i0_t3")
    assert combo.preferences == frozenset({Preference.P1, Preference.P2})
    with pytest.raises(ValueError, match="bad code combination"):
        CodeCombination.parse("p3_i0_t3")


def _shown_for(form: TaskForm, target: str) -> tuple[str, ...]:
    if form is TaskForm.T3:
        return ("m30", target, "m31", "m32")
    if form is TaskForm.T1:
        return ("m30", target)
    if form is TaskForm.T0:
        return (target,)
    return ()


def test_every_template_renders_every_declared_combination(catalog, annotation):
    counter = WhitespaceCounter()
    for template in load_templates().values():
        for combination in template.combinations:
            data = RenderInput(
                history=("m01", "m02", "m03"),
                target="m20",
                annotation=annotation,
                shown=_shown_for(combination.task_form, "m20"),
            )
            rendered = render(template, combination, catalog, data, counter)
            where = f"{template.id}/{combination.name}"
            assert "{" not in rendered.inputs and "[[" not in rendered.inputs, where
            assert rendered.targets, where
            if combination.has_history and template.target not in (
                TargetKind.HISTORY,
                TargetKind.HISTORY_THEN_ITEM,
            ):
                assert "Movie Number 3 (1953)" in rendered.inputs, where
            if combination.has_explicit_preference and template.target is not TargetKind.PREFERENCE:
                assert annotation.explicit_preference in rendered.inputs, where
            else:
                assert annotation.explicit_preference not in rendered.inputs, where
            if combination.task_form in (TaskForm.T3, TaskForm.T1, TaskForm.T0):
                assert "Movie Number 20 (1970)" in rendered.inputs, where
            elif template.target in (
                TargetKind.ITEM,
                TargetKind.REASONING_THEN_ITEM,
                TargetKind.QUERY_THEN_ITEM,
                TargetKind.HISTORY_THEN_ITEM,
            ):
                # Generation targets never appear in the input (no leak of the answer).
                assert "Movie Number 20" not in rendered.inputs, where
            intention = {"i1": annotation.vague_intention, "i2": annotation.specific_intention}
            shown_intention = intention.get(combination.intention.value)
            if shown_intention and template.target not in (
                TargetKind.QUERY,
                TargetKind.QUERY_THEN_ITEM,
            ):
                assert shown_intention in rendered.inputs, where


def test_list_templates_json(capsys):
    assert list_templates_main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_id = {row["id"]: row for row in rows}
    assert by_id["A7"]["combinations"] == ["p1_i0_t3", "p1p2_i0_t3"]
    assert by_id["A3"]["instruction_types"] == ["p1_i0_t2_cot"]
    assert by_id["B5"]["strategy"] == "turnaround"
    assert all(row["family"] for row in rows)
    assert list_templates_main([]) == 0
    assert "C10" in capsys.readouterr().out


GOOD = """
[[template]]
id = "X1"
strategy = "plain"
target = "item"
combinations = ["p1_i0_t3", "p1p2_i0_t3"]
text = "History: {history}. [[Taste: {preference}.]] Pick one: {candidates}."
"""


def _write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text('family = "recommendation"\n' + textwrap.dedent(body), encoding="utf-8")
    return path


def test_valid_custom_file_loads(tmp_path):
    _write(tmp_path, "ok.toml", GOOD)
    templates = load_templates(tmp_path)
    template = templates["X1"]
    plain, with_preference = template.combinations
    assert "{preference}" not in template.format_string(plain)
    assert "Taste: {preference}." in template.format_string(with_preference)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (("{candidates}", "{candidate_list}"), "unknown slot {candidate_list}"),
        (("Pick one: {candidates}.", "Pick one."), "missing slot(s) ['candidates']"),
        (('["p1_i0_t3", "p1p2_i0_t3"]', '["p0_i1_t3"]'), "not provided by combination p0_i1_t3"),
        (('target = "item"', 'target = "yes_no"'), "does not fit strategy"),
        (('strategy = "plain"', 'strategy = "fancy"'), "strategy='fancy'"),
        (('id = "X1"', 'id = "X1"\ncolour = "red"'), "unknown keys ['colour']"),
        (("[[Taste: {preference}.]]", "[[Taste.]]"), "optional segment without a slot"),
    ],
)
def test_invalid_templates_name_file_and_id(tmp_path, mutation, message):
    old, new = mutation
    assert old in GOOD
    _write(tmp_path, "bad.toml", GOOD.replace(old, new))
    with pytest.raises(TemplateError) as error:
        load_templates(tmp_path)
    assert "bad.toml" in str(error.value)
    assert "X1" in str(error.value)
    assert message in str(error.value)


def test_duplicate_id_across_files(tmp_path):
    _write(tmp_path, "a.toml", GOOD)
    _write(tmp_path, "b.toml", GOOD)
    with pytest.raises(TemplateError, match=r"b\.toml: template X1: duplicate id"):
        load_templates(tmp_path)


def test_invalid_toml_names_file(tmp_path):
    (tmp_path / "broken.toml").write_text("[[template]\nid=", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"broken\.toml: invalid TOML"):
        load_templates(tmp_path)


def test_cli_module_and_stable_digest_across_hash_seeds():
    import os
    import subprocess
    import sys

    code = (
        "from instructrec_jax.instructions.generate import _templates_digest;"
        "from instructrec_jax.instructions.templates import load_templates;"
        "print(_templates_digest(load_templates()))"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1
    listing = subprocess.run(
        [sys.executable, "-m", "instructrec_jax.instructions", "list-templates", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(json.loads(listing.stdout)) == len(load_templates())
