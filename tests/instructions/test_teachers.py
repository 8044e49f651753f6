from instructrec_jax.data.types import Item
from instructrec_jax.instructions.teachers import (
    AnnotationRequest,
    HeuristicTeacher,
    Teacher,
    specific_intention,
)


def test_heuristic_teacher_is_a_deterministic_teacher(catalog):
    teacher = HeuristicTeacher()
    assert isinstance(teacher, Teacher)
    request = AnnotationRequest(("m00", "m04", "m08"), "m12", None, catalog)
    first = teacher.annotate(request)
    assert first == HeuristicTeacher().annotate(request)
    assert teacher.annotate_batch([request, request]) == [first, first]


def test_explicit_preference_names_dominant_categories_and_decade(catalog):
    # m00, m04, m08 are Drama + Comedy, from the 1950s.
    preference = HeuristicTeacher().explicit_preference(("m00", "m04", "m08"), catalog)
    assert "comedy and drama" in preference
    assert "1950s" in preference


def test_specific_intention_joins_categories(catalog):
    assert specific_intention(catalog["m01"]) == "Comedy, Horror"
    assert specific_intention(Item("x", "X", ())) == "general"
    assert specific_intention(Item("x", "X", (), {"brand": "Acme"})) == "Acme"


def test_vague_intention_from_need_sentence_without_title_leak(catalog):
    teacher = HeuristicTeacher()
    target = Item("t", "Space Racer Deluxe (1999)", ("Games", "Racing"))
    review = (
        "Space Racer is a fun game. I needed a gift for my son who loves cars. Graphics are fine."
    )
    intention = teacher.vague_intention(target, review, catalog)
    assert intention == "I needed a gift for my son who loves cars"
    leaky = "Space Racer was a gift for my son. It arrived quickly."
    fallback = teacher.vague_intention(target, leaky, catalog)
    assert "space" not in fallback.lower() and "racer" not in fallback.lower()
    assert "games" in fallback.lower() or "racing" in fallback.lower()


def test_intentions_never_contain_the_target_title(catalog):
    teacher = HeuristicTeacher()
    for item_id, item in catalog.items():
        review = f"I bought {item.title} for my daughter. She needed it for school."
        annotation = teacher.annotate(AnnotationRequest(("m00",), item_id, review, catalog))
        assert item.title not in annotation.vague_intention
        assert item.title not in annotation.specific_intention


def test_generic_labels_are_skipped():
    catalog = {
        f"g{i}": Item(f"g{i}", f"Game {i}", ("Video Games", "Racing" if i % 2 else "Puzzle"))
        for i in range(10)
    }
    teacher = HeuristicTeacher()
    assert teacher.generic_labels(catalog) == frozenset({"Video Games"})
    preference = teacher.explicit_preference(("g1", "g3", "g2"), catalog)
    assert "video games" not in preference and "racing" in preference
