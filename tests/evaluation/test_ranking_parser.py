"""parse_ranking: labels, titles, fuzzy titles, and unparseable answers."""

from instructrec_jax.evaluation.ranking_parser import parse_ranking

TITLES = ["Heat (1995)", "Fargo (1996)", "Toy Story (1995)"]


def test_parenthesized_labels_in_order_without_duplicates():
    assert parse_ranking("(C), (A), (C), (B)", TITLES) == [2, 0, 1]
    assert parse_ranking("Best is (b) then (z)", TITLES) == [1]  # unknown label ignored


def test_bare_labels_and_numbered_titles():
    assert parse_ranking("B, C", TITLES) == [1, 2]
    assert parse_ranking("1. Toy Story (1995)\n2. heat (1995)", TITLES) == [2, 0]


def test_fuzzy_title_and_contained_title():
    assert parse_ranking("Toy Stroy (1995); I also like Fargo (1996) a lot", TITLES) == [2, 1]


def test_numbers_label_past_26_candidates():
    titles = [f"Item {i}" for i in range(30)]
    assert parse_ranking("(3), (1)", titles) == [2, 0]


def test_unparseable_answer_names_nothing():
    assert parse_ranking("I cannot decide, sorry", TITLES) == []
    assert parse_ranking("", TITLES) == []
