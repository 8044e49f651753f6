"""Small hand-built catalog and examples shared by the instruction tests."""

from __future__ import annotations

import pytest

from instructrec_jax.data.types import EvalExample, Item
from instructrec_jax.instructions.teachers import Annotation


def _catalog() -> dict[str, Item]:
    genres = ["Drama", "Comedy", "Horror", "Sci-Fi"]
    catalog = {}
    for index in range(40):
        item_id = f"m{index:02d}"
        catalog[item_id] = Item(
            item_id=item_id,
            title=f"Movie Number {index} ({1950 + index})",
            categories=(genres[index % 4], genres[(index + 1) % 4]),
            attributes={"year": str(1950 + index)},
        )
    return catalog


@pytest.fixture
def catalog() -> dict[str, Item]:
    return _catalog()


@pytest.fixture
def annotation() -> Annotation:
    return Annotation(
        explicit_preference="I mostly go for drama and comedy",
        vague_intention="something to watch with my kids",
        specific_intention="Drama, Comedy",
    )


@pytest.fixture
def eval_example() -> EvalExample:
    return EvalExample(
        user_id="u1",
        split="test",
        history=tuple(f"m{i:02d}" for i in range(10)),
        target="m20",
        negatives=tuple(f"m{i:02d}" for i in range(21, 30)),
        review="Bought it for my kids and they loved it.",
    )
