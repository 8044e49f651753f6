"""Queries for the search baselines (TEM, DSSM): the same texts the instructions carry.

An instruction type names what the query is (``instructions.codes``): I1 the vague
intention, I2 the specific one, else P2 the explicit preference; a type with none of them
(sequential ``p1_i0_t3``) has no query. The texts come from the teacher that writes the
instructions (``HeuristicTeacher`` by default), from the example's history, target and
review, exactly as ``InstructRecScorer`` renders them.

Training queries follow the instruction data's rule (``instructions.builders``): an
intention only for training examples whose target is in the ``train`` part of the item
split, so the queries of the held-out product-search items are never trained on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample, Item, TrainExample
from instructrec_jax.instructions.codes import CodeCombination, Intention
from instructrec_jax.instructions.teachers import Annotation, AnnotationRequest, Teacher

QUERY_KINDS: tuple[str, ...] = ("preference", "vague", "specific")
_ANNOTATION_FIELDS = {
    "preference": "explicit_preference",
    "vague": "vague_intention",
    "specific": "specific_intention",
}


def check_query_kind(kind: str, owner: str) -> None:
    """Raise ``ValueError`` naming ``owner`` unless ``kind`` is one of ``QUERY_KINDS``."""
    if kind not in QUERY_KINDS:
        raise ValueError(f"{owner}: query kind {kind!r} is not one of {QUERY_KINDS}")


def query_kind(instruction_type: str) -> str | None:
    """The query an instruction type carries: I1 ``"vague"``, I2 ``"specific"``, else P2
    ``"preference"``, else ``None`` (e.g. ``p1_i0_t3``)."""
    combination = CodeCombination.parse(instruction_type)
    if combination.intention is Intention.I1:
        return "vague"
    if combination.intention is Intention.I2:
        return "specific"
    if combination.has_explicit_preference:
        return "preference"
    return None


def query_text(annotation: Annotation, kind: str | None) -> str:
    """The annotation's text of ``kind`` ("" for no query)."""
    if kind is None:
        return ""
    check_query_kind(kind, "query_text")
    return getattr(annotation, _ANNOTATION_FIELDS[kind])


def annotate(
    examples: Sequence[EvalExample | TrainExample],
    catalog: Mapping[str, Item],
    teacher: Teacher,
) -> list[Annotation]:
    """The teacher's P2 / I1 / I2 of each example (from history, target and review)."""
    requests = [AnnotationRequest(e.history, e.target, e.review, catalog) for e in examples]
    return teacher.annotate_batch(requests)


def query_training_examples(dataset: ProcessedDataset, kind: str) -> list[TrainExample]:
    """Training examples that may carry a query of ``kind``, in ``train_examples`` order.

    Intentions (``"vague"``, ``"specific"``) are about the target: only targets in the
    ``train`` part of the item split. The explicit preference (``"preference"``) comes
    from the history, and the instructions keep it for every target.
    """
    check_query_kind(kind, "query_training_examples")
    examples = dataset.train_examples()
    if kind == "preference":
        return list(examples)
    return [e for e in examples if dataset.item_split.get(e.target) == "train"]


def item_text(item: Item, fields: Sequence[str]) -> str:
    """The item's text for a text tower: ``"title"``, ``"categories"`` (joined) and any
    attribute names (e.g. ``"year"``), in ``fields`` order, absent ones skipped."""
    parts = []
    for field in fields:
        if field == "title":
            parts.append(item.title)
        elif field == "categories":
            parts.append(", ".join(item.categories))
        elif item.attributes.get(field):
            parts.append(item.attributes[field])
    return " | ".join(part for part in parts if part)


def text_corpus(
    dataset: ProcessedDataset, teacher: Teacher, item_fields: Sequence[str]
) -> Iterator[str]:
    """Texts to train a SentencePiece vocabulary for the text baselines on (when the
    checkpoint's vocabulary is not at hand): every item text, then every training
    example's P2, I1 and I2."""
    for item in dataset.catalog.values():
        yield item_text(item, item_fields)
    examples = list(dataset.train_examples())
    for annotation in annotate(examples, dataset.catalog, teacher):
        yield from (query_text(annotation, kind) for kind in QUERY_KINDS)
