"""Candidate protocols: hard negatives, 1 + 99 sampling, grouped reranking."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from instructrec_jax.evaluation import protocols
from instructrec_jax.evaluation.candidate_lists import as_list_scorer
from tests.evaluation.helpers import GlobalScorer, TargetAwareScorer, item_value, small_dataset


def _popular_items_retriever(dataset, respect_interactions=True):
    ranked = sorted(dataset.catalog, key=lambda item: -item_value(item))

    def top(examples, k):
        out = []
        for example in examples:
            seen = (
                set(dataset.sequences[example.user_id].item_ids) if respect_interactions else set()
            )
            out.append([item for item in ranked if item not in seen][:k])
        return out

    return protocols.FunctionRetriever("popular", top)


def test_hard_negatives_come_from_the_retriever_and_never_include_interacted_items():
    dataset = small_dataset()
    examples = dataset.test[:20]
    hard = protocols.with_hard_negatives(dataset, examples, _popular_items_retriever(dataset))
    assert isinstance(_popular_items_retriever(dataset), protocols.Retriever)
    ranked = sorted(dataset.catalog, key=lambda item: -item_value(item))
    for original, example in zip(examples, hard):
        interacted = set(dataset.sequences[example.user_id].item_ids)
        assert example.target == original.target and example.history == original.history
        assert len(example.negatives) == 9 and not interacted & set(example.negatives)
        assert list(example.negatives) == [i for i in ranked if i not in interacted][:9]


def test_hard_negatives_skip_items_sharing_a_title_with_an_interacted_item():
    dataset = small_dataset()
    retriever = _popular_items_retriever(dataset)
    example = dataset.test[0]
    (proposed,) = retriever.top_items([example], 9)
    # The retriever's best proposal now shares the title of the user's test target.
    twin = proposed[0]
    catalog = dict(dataset.catalog)
    catalog[twin] = dataclasses.replace(catalog[twin], title=catalog[example.target].title)
    retitled = dataclasses.replace(dataset, catalog=catalog)
    (hard,) = protocols.with_hard_negatives(retitled, [example], retriever)
    assert twin not in hard.negatives  # the same rule as sample_negatives
    assert hard.negatives == tuple(proposed[1:]) + tuple(retriever.top_items([example], 10)[0][9:])


def test_hard_negatives_reject_a_retriever_that_returns_interacted_items():
    dataset = small_dataset()
    leaky = _popular_items_retriever(dataset, respect_interactions=False)
    # Some user's interactions are among the globally top items, so the check must fire.
    with pytest.raises(ValueError, match="outside the user's interactions"):
        protocols.with_hard_negatives(dataset, dataset.test, leaky)


def test_sampled_negatives_are_fresh_distinct_and_seeded():
    dataset = small_dataset()
    extended = protocols.with_sampled_negatives(dataset, dataset.test[:10], 99, seed=3)
    again = protocols.with_sampled_negatives(dataset, dataset.test[:10], 99, seed=3)
    assert extended == again
    for example in extended:
        assert len(set(example.candidates)) == 100
        assert not set(dataset.sequences[example.user_id].item_ids) & set(example.negatives)


def test_groups_partition_the_candidates_deterministically():
    dataset = small_dataset()
    (example,) = protocols.with_sampled_negatives(dataset, dataset.test[:1], 99, seed=0)
    groups = protocols.split_into_groups(example, 10, seed=0)
    assert len(groups) == 10 and all(len(g) == 10 for g in groups)
    assert sorted(i for g in groups for i in g) == sorted(example.candidates)
    assert groups == protocols.split_into_groups(example, 10, seed=0)
    assert groups != protocols.split_into_groups(example, 10, seed=1)
    with pytest.raises(ValueError, match="groups of 7"):
        protocols.split_into_groups(example, 7, seed=0)


def _expected_grouped_rank(example, seed):
    """Independent restatement: winners by value; the positive's place among them."""
    groups = protocols.split_into_groups(example, 10, seed)
    value = item_value
    target_group = next(g for g in groups if example.target in g)
    if max(target_group, key=value) != example.target:
        return len(example.candidates)
    winners = [max(g, key=value) for g in groups]
    return 1 + sum(value(w) >= value(example.target) for w in winners if w != example.target)


def test_grouped_ranks_select_group_winners_then_rerank():
    dataset = small_dataset()
    examples = protocols.with_sampled_negatives(dataset, dataset.test, 99, seed=0)
    scorer = GlobalScorer()
    ranks = protocols.grouped_positive_ranks(as_list_scorer(scorer), examples, 10, seed=0)
    expected = [_expected_grouped_rank(e, 0) for e in examples]
    np.testing.assert_array_equal(ranks, expected)
    assert set(scorer.calls) == {10}  # only lists of 10 were scored
    survived = sum(r < 100 for r in expected)
    assert 0 < survived < len(examples)  # both branches are exercised
    assert len(scorer.calls) == 10 * len(examples) + survived


def test_grouped_and_direct_ranks_with_an_oracle_put_the_positive_first():
    dataset = small_dataset()
    examples = protocols.with_sampled_negatives(dataset, dataset.test[:5], 99, seed=0)
    oracle = TargetAwareScorer("oracle", 2.0)
    np.testing.assert_array_equal(protocols.grouped_positive_ranks(oracle, examples), [1] * 5)
    np.testing.assert_array_equal(protocols.direct_positive_ranks(oracle, examples), [1] * 5)
    worst = TargetAwareScorer("worst", -2.0)
    np.testing.assert_array_equal(protocols.grouped_positive_ranks(worst, examples), [100] * 5)
    np.testing.assert_array_equal(protocols.direct_positive_ranks(worst, examples), [100] * 5)


def test_a_tie_inside_the_group_goes_against_the_positive():
    dataset = small_dataset()
    examples = protocols.with_sampled_negatives(dataset, dataset.test[:3], 99, seed=0)

    class Constant:
        name = "constant"

        def score_lists(self, examples, lists):
            return np.zeros((len(examples), len(lists[0])))

    np.testing.assert_array_equal(protocols.grouped_positive_ranks(Constant(), examples), [100] * 3)
    np.testing.assert_array_equal(protocols.direct_positive_ranks(Constant(), examples), [100] * 3)


def test_scorer_output_is_validated():
    dataset = small_dataset()

    class WrongShape:
        name = "wrong"

        def score_lists(self, examples, lists):
            return np.zeros((len(examples), 3))

    with pytest.raises(ValueError, match="returned shape"):
        protocols.direct_positive_ranks(WrongShape(), dataset.test[:2])
