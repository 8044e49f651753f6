"""Teachers: who writes the explicit preference (P2) and the intentions (I1, I2).

The paper asks a teacher LLM, role-playing the user, for P2 (from the history titles) and
I1 (from the user's review of the target item); I2 is the target item's category labels
joined, with no model. ``Teacher`` is the interface; ``HeuristicTeacher`` (here) is the
offline default and ``chat_teacher.ChatTeacher`` calls an OpenAI-compatible endpoint.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from instructrec_jax.data.types import Item


@dataclasses.dataclass(frozen=True)
class AnnotationRequest:
    """What a teacher sees for one example.

    Attributes:
      history: history item ids, oldest first.
      target: the target item id.
      review: the user's review of the target, if any.
      catalog: item id -> Item (titles, categories, attributes).
    """

    history: tuple[str, ...]
    target: str
    review: str | None
    catalog: Mapping[str, Item]


@dataclasses.dataclass(frozen=True)
class Annotation:
    """The teacher's output for one example; texts carry no trailing period."""

    explicit_preference: str
    vague_intention: str
    specific_intention: str


@runtime_checkable
class Teacher(Protocol):
    """Annotates examples with P2, I1 and I2.

    ``name`` goes into the generated manifest. ``process_safe`` says whether forked worker
    processes may each use a copy of the teacher (True for pure functions).
    """

    name: str
    process_safe: bool

    def annotate(self, request: AnnotationRequest) -> Annotation:
        """One annotation."""
        ...

    def annotate_batch(self, requests: Sequence[AnnotationRequest]) -> list[Annotation]:
        """Annotations aligned with ``requests``."""
        ...


def specific_intention(item: Item) -> str:
    """I2: the item's category labels joined (the paper uses no model for it).

    Items without categories fall back to their brand, then to "general".
    """
    labels = [label for label in item.categories if label and label.lower() != "unknown"]
    if labels:
        return ", ".join(labels)
    brand = item.attributes.get("brand", "")
    return brand or "general"


_NEED_CUES = re.compile(
    r"\b(for my|for our|gift|present|need(ed|s)?|looking for|wanted|want|so that|to help|"
    r"perfect for|great for|good for|kids?|son|daughter|wife|husband|friends?|family|"
    r"birthday|christmas|party|travel|work|school|beginners?|relax)\b",
    re.IGNORECASE,
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
_YEAR_RE = re.compile(r"\((\d{4})\)\s*$")
_MAX_INTENTION_WORDS = 25

_PREFERENCE_PHRASES = (
    "I mostly go for {cats}{extra}",
    "I enjoy {cats} the most{extra}",
    "my favourites are {cats}{extra}",
    "I keep coming back to {cats}{extra}",
)
_VAGUE_PHRASES = (
    "something {era}in the {cat} vein",
    "a {era}{cat} pick for tonight",
    "I feel like a good {era}{cat} title",
    "something {era}with a {cat} feel",
)


def _item_year(item: Item) -> int | None:
    year = item.attributes.get("year", "")
    if year[:4].isdigit():
        return int(year[:4])
    match = _YEAR_RE.search(item.title)
    return int(match.group(1)) if match else None


def _join_words(words: Sequence[str]) -> str:
    words = [w.lower() for w in words]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _title_words(title: str) -> set[str]:
    core = _YEAR_RE.sub("", title).lower()
    return {w for w in re.findall(r"[a-z0-9']+", core) if len(w) > 3}


class HeuristicTeacher:
    """A deterministic stand-in for the paper's LLM teacher (no model, no world knowledge).

    - P2: the two dominant categories of the history (counted over its items), plus the
      dominant brand (if it occurs twice or more) and the dominant decade (from the
      ``year`` attribute or a "(1995)" title suffix); phrasing picked by a hash of the
      history, so equal histories get equal text.
    - I1: the first review sentence that states a need or purpose (cue words such as
      "gift", "for my", "need"), with sentences that mention the target's title words
      skipped; without such a sentence (or without reviews, as in MovieLens) a coarse
      intention built from the target's first category and era.
    - I2: ``specific_intention`` (categories joined).

    Labels carried by more than half of the catalog (an Amazon root such as "Video
    Games") are too generic to describe a taste and are skipped in P2 and I1.

    It only rearranges information that is already in the data: it cannot add the world
    knowledge or paraphrasing that the paper's teacher brings.
    """

    name = "heuristic"
    process_safe = True

    def __init__(self) -> None:
        self._generic_for: tuple[Mapping[str, Item], frozenset[str]] | None = None
        self._facts: dict[str, _ItemFacts] = {}

    def generic_labels(self, catalog: Mapping[str, Item]) -> frozenset[str]:
        """Labels on more than half of the catalog's items (cached per catalog object)."""
        if self._generic_for is None or self._generic_for[0] is not catalog:
            counts = collections.Counter(
                label for item in catalog.values() for label in set(item.categories)
            )
            half = len(catalog) / 2
            generic = frozenset(label for label, count in counts.items() if count > half)
            self._generic_for = (catalog, generic)
            self._facts = {}
        return self._generic_for[1]

    def _item_facts(self, item: Item, catalog: Mapping[str, Item]) -> _ItemFacts:
        """Descriptive labels, brand and decade of an item (memoised per catalog)."""
        generic = self.generic_labels(catalog)
        facts = self._facts.get(item.item_id)
        if facts is None:
            labels = tuple(
                label
                for label in item.categories
                if label and label.lower() != "unknown" and label not in generic
            )
            year = _item_year(item)
            decade = None if year is None else (year // 10) * 10
            facts = _ItemFacts(labels, item.attributes.get("brand", ""), year, decade)
            self._facts[item.item_id] = facts
        return facts

    def annotate(self, request: AnnotationRequest) -> Annotation:
        """Annotate one example (pure function of the request)."""
        target = request.catalog[request.target]
        return Annotation(
            explicit_preference=self.explicit_preference(request.history, request.catalog),
            vague_intention=self.vague_intention(target, request.review, request.catalog),
            specific_intention=specific_intention(target),
        )

    def annotate_batch(self, requests: Sequence[AnnotationRequest]) -> list[Annotation]:
        """Annotate many examples."""
        return [self.annotate(request) for request in requests]

    def explicit_preference(self, history: Sequence[str], catalog: Mapping[str, Item]) -> str:
        """P2 text from the dominant categories, brand and decade of ``history``."""
        facts = [self._item_facts(catalog[item_id], catalog) for item_id in history]
        categories = collections.Counter(label for fact in facts for label in fact.labels)
        brands = collections.Counter(fact.brand for fact in facts if fact.brand)
        decades = collections.Counter(fact.decade for fact in facts if fact.decade is not None)
        top_categories = [label for label, _ in sorted(categories.items(), key=_by_count)[:2]]
        cats = _join_words(top_categories) or "a bit of everything"
        extra = ""
        if brands:
            brand, count = sorted(brands.items(), key=_by_count)[0]
            if count >= 2:
                extra += f", especially from {brand}"
        if decades:
            decade = sorted(decades.items(), key=_by_count)[0][0]
            extra += f", usually from the {decade}s"
        choice = zlib.crc32("|".join(history).encode()) % len(_PREFERENCE_PHRASES)
        return _PREFERENCE_PHRASES[choice].format(cats=cats, extra=extra)

    def vague_intention(self, target: Item, review: str | None, catalog: Mapping[str, Item]) -> str:
        """I1 text from a need-stating review sentence, else from the target's attributes."""
        if review:
            sentence = _need_sentence(review, _title_words(target.title))
            if sentence:
                return sentence
        facts = self._item_facts(target, catalog)
        category = facts.labels[0].lower() if facts.labels else "interesting"
        year = facts.year
        era = ""
        if year is not None:
            era = "classic " if year < 1980 else "fairly recent " if year >= 1995 else ""
        choice = zlib.crc32(target.item_id.encode()) % len(_VAGUE_PHRASES)
        return _VAGUE_PHRASES[choice].format(era=era, cat=category)


@dataclasses.dataclass(frozen=True)
class _ItemFacts:
    labels: tuple[str, ...]
    brand: str
    year: int | None
    decade: int | None


def _by_count(entry: tuple[object, int]) -> tuple[int, str]:
    """Sort key: highest count first, then by name (deterministic ties)."""
    return (-entry[1], str(entry[0]))


def _need_sentence(review: str, title_words: set[str]) -> str:
    """The first review sentence with a need cue and without the title's words."""
    for raw in _SENTENCE_SPLIT.split(" ".join(review.split())):
        sentence = raw.strip().rstrip(".!?").strip()
        if not sentence or not _NEED_CUES.search(sentence):
            continue
        words = set(re.findall(r"[a-z0-9']+", sentence.lower()))
        if title_words and title_words & words:
            continue
        return " ".join(sentence.split()[:_MAX_INTENTION_WORDS])
    return ""
