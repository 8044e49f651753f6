"""Record builders: which records a work unit renders, on a small synthetic dataset."""

from __future__ import annotations

import dataclasses

import pytest

from instructrec_jax.data import PrepareConfig, make_synthetic, prepare
from instructrec_jax.instructions.builders import product_search_eval_records, train_records
from instructrec_jax.instructions.generate import GenerateConfig, build_context
from instructrec_jax.instructions.stats import RenderStats
from instructrec_jax.instructions.teachers import HeuristicTeacher
from instructrec_jax.instructions.templates import load_templates
from instructrec_jax.instructions.tokens import WhitespaceCounter


@pytest.fixture(scope="module")
def dataset():
    raw = make_synthetic(num_users=30, num_items=40, num_categories=5, seed=1, max_len=10)
    return prepare(raw, PrepareConfig())


def _context(dataset, **config_overrides):
    config = GenerateConfig(seed=5, **config_overrides)
    train_examples = list(dataset.train_examples())
    return build_context(
        dataset, config, HeuristicTeacher(), WhitespaceCounter(), load_templates(), train_examples
    )


def test_product_search_candidates_never_share_the_target_title(dataset):
    context = _context(dataset)
    test_items = sorted(i for i, part in dataset.item_split.items() if part == "test")
    target = test_items[0]
    # Half of the catalog becomes a same-title twin of the target (as ASINs of one product).
    title = dataset.catalog[target].title
    catalog = dict(context.catalog)
    twins = [item for item in sorted(catalog) if item != target][::2]
    for item in twins:
        catalog[item] = dataclasses.replace(catalog[item], title=title)
    context = dataclasses.replace(context, catalog=catalog)
    records = list(product_search_eval_records(context, "test", [target], RenderStats()))
    assert records
    for record in records:
        assert record.candidate_item_ids.count(target) == 1
        assert not set(record.candidate_item_ids) & set(twins)
        assert record.candidate_titles.count(title) == 1


def test_product_search_without_enough_other_titles_is_an_error(dataset):
    context = _context(dataset)
    target = sorted(i for i, part in dataset.item_split.items() if part == "test")[0]
    title = dataset.catalog[target].title
    catalog = {
        item_id: dataclasses.replace(item, title=title) for item_id, item in context.catalog.items()
    }
    context = dataclasses.replace(context, catalog=catalog)
    with pytest.raises(ValueError, match=f"product search item '{target}': 9 negatives needed"):
        list(product_search_eval_records(context, "test", [target], RenderStats()))


def test_no_training_query_is_about_a_held_out_item(dataset):
    context = _context(dataset)
    examples = list(dataset.train_examples())
    records = list(train_records(context, examples, 0, RenderStats()))
    held_out = {item for item, part in dataset.item_split.items() if part != "train"}
    with_query = [r for r in records if "_i0_" not in r.instruction_type]
    assert {r.family for r in with_query} == {"product_search", "personalized_search"}
    assert not [r for r in with_query if r.target_item_id in held_out]
    # Query-free records about held-out items remain: only their queries are withheld.
    assert [r for r in records if r.target_item_id in held_out]
