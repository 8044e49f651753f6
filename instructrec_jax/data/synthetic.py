"""A synthetic interaction log with learnable structure, for fast tests and demos.

Each user has a latent taste: one to three favourite categories with weights. Each step of
the user's sequence picks a category from that taste (or, with probability
``exploration``, any category) and then an item of that category by a Zipf-like
popularity, so the next item is predictable from the history's categories. Items have
titles (some with HTML entities and non-ASCII letters, to exercise cleaning), categories
and attributes (brand, year, price). Timestamps increase with some exact ties. Some
reviews state a purpose ("I bought this for my son ...") for intention instructions.
"""

from __future__ import annotations

import hashlib
import json
import random

from instructrec_jax.data.types import Interaction, Item, RawDataset

CATEGORY_WORDS = (
    "Puzzle", "Racing", "Horror", "Strategy", "Sports", "Rhythm", "Adventure", "Shooter",
    "Simulation", "Platformer", "Fighting", "Stealth", "Survival", "Roguelike", "Party",
    "Trivia",
)  # fmt: skip
ADJECTIVES = (
    "Silent", "Crimson", "Hidden", "Eternal", "Rapid", "Lost", "Golden", "Frozen", "Wild",
    "Épique", "Brave", "Neon", "Ancient", "Tiny", "Grand", "Shadow",
)  # fmt: skip
NOUNS = (
    "Kingdom", "Circuit", "Mansion", "Empire", "League", "Beat", "Odyssée", "Frontier",
    "Island", "Tower", "Arena", "Night", "Harbor", "Dungeon", "Quest", "Garden",
)  # fmt: skip
BRANDS = ("Nintendo", "Sega", "Capcom", "Ubisoft", "Konami", "Atlus", "Bandai", "Koei")
RECIPIENTS = ("son", "daughter", "husband", "wife", "nephew", "best friend", "dad")
PURPOSE_TEMPLATES = (
    "I bought this for my {who}, who loves {category} games. {verdict}",
    "Got it as a birthday gift for my {who}; {verdict}",
    "Needed something {category_lower} to play with my {who} on weekends. {verdict}",
)
PLAIN_REVIEWS = (
    "Solid {category_lower} game, {verdict_lower}",
    "{verdict} The {category_lower} parts are the best.",
)
VERDICTS = ("Highly recommended.", "Works great.", "A bit short but fun.", "Five stars.")

BASE_TIMESTAMP = 1_420_070_400  # 2015-01-01 UTC, seconds
DAY = 86_400


def _category_names(num_categories: int) -> list[str]:
    names = []
    for index in range(num_categories):
        word = CATEGORY_WORDS[index % len(CATEGORY_WORDS)]
        cycle = index // len(CATEGORY_WORDS)
        names.append(word if cycle == 0 else f"{word} {cycle + 1}")
    return names


def _make_items(
    rng: random.Random, num_items: int, categories: list[str]
) -> tuple[dict[str, Item], dict[str, list[str]], dict[str, list[float]]]:
    """Catalog, items per category, and their popularity weights (Zipf by rank)."""
    numbers = rng.sample(range(10 * num_items), num_items)  # ids unrelated to popularity
    items: dict[str, Item] = {}
    by_category: dict[str, list[str]] = {c: [] for c in categories}
    used_titles: set[str] = set()
    for index, number in enumerate(numbers):
        category = categories[index % len(categories)]
        title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}: {category} Edition"
        if rng.random() < 0.05:
            title = title.replace(":", " &amp;", 1)
        while title in used_titles:
            title = f"{title} {rng.randint(2, 9)}"
        used_titles.add(title)
        item_id = f"i{number:06d}"
        items[item_id] = Item(
            item_id=item_id,
            title=title,
            categories=("Video Games", category),
            attributes={
                "brand": BRANDS[(index + rng.randrange(2)) % len(BRANDS)],
                "year": str(rng.randint(1995, 2022)),
                "price": f"{rng.uniform(5, 70):.2f}",
            },
        )
        by_category[category].append(item_id)
    weights = {}
    for category, item_ids in by_category.items():
        rng.shuffle(item_ids)
        weights[category] = [(rank + 1) ** -0.6 for rank in range(len(item_ids))]
    return items, by_category, weights


def _review(rng: random.Random, category: str, purposeful_share: float) -> str:
    templates = PURPOSE_TEMPLATES if rng.random() < purposeful_share else PLAIN_REVIEWS
    verdict = rng.choice(VERDICTS)
    return rng.choice(templates).format(
        who=rng.choice(RECIPIENTS),
        category=category,
        category_lower=category.lower(),
        verdict=verdict,
        verdict_lower=verdict.lower(),
    )


def make_synthetic(
    num_users: int,
    num_items: int,
    num_categories: int,
    seed: int,
    min_len: int = 6,
    max_len: int = 20,
    tie_fraction: float = 0.15,
    review_fraction: float = 0.4,
    exploration: float = 0.1,
) -> RawDataset:
    """Generate a raw dataset named ``synthetic``.

    Args:
      num_users: users, each with ``min_len``..``max_len`` distinct items.
      num_items: catalog size (items spread evenly over categories).
      num_categories: number of categories (tastes are drawn over them).
      seed: everything is determined by it.
      min_len: shortest sequence (before any filtering).
      max_len: longest sequence; must not exceed ``num_items``.
      tie_fraction: probability that an interaction has the previous one's timestamp.
      review_fraction: share of interactions with a review; half of those state a purpose.
      exploration: probability of a step leaving the user's favourite categories.
    """
    if not 1 <= min_len <= max_len <= num_items:
        raise ValueError(f"need 1 <= min_len <= max_len <= num_items, got {min_len, max_len}")
    if num_users < 1 or num_categories < 1 or num_categories > num_items:
        raise ValueError("need num_users >= 1 and 1 <= num_categories <= num_items")
    rng = random.Random(seed)
    categories = _category_names(num_categories)
    items, by_category, weights = _make_items(rng, num_items, categories)
    category_of = {item_id: c for c, ids in by_category.items() for item_id in ids}

    interactions = []
    for user_index in range(num_users):
        user_id = f"u{user_index:05d}"
        favourites = rng.sample(categories, min(num_categories, rng.randint(1, 3)))
        taste = [rng.uniform(0.5, 1.0) for _ in favourites]
        length = rng.randint(min_len, max_len)
        timestamp = BASE_TIMESTAMP + rng.randrange(365 * DAY)
        seen: set[str] = set()
        while len(seen) < length:
            explore = rng.random() < exploration
            category = rng.choice(categories) if explore else rng.choices(favourites, taste)[0]
            item_id = rng.choices(by_category[category], weights[category])[0]
            if item_id in seen:
                item_id = rng.choice(list(items))  # fall back to any item; retried if seen
                if item_id in seen:
                    continue
            seen.add(item_id)
            if rng.random() >= tie_fraction:
                timestamp += rng.randint(3600, 30 * DAY)
            review = None
            if rng.random() < review_fraction:
                review = _review(rng, category_of[item_id], purposeful_share=0.5)
            rating = float(rng.randint(3, 5))
            interactions.append(Interaction(user_id, item_id, timestamp, rating, review))

    parameters = [num_users, num_items, num_categories, seed, min_len, max_len]
    parameters += [tie_fraction, review_fraction, exploration]
    digest = hashlib.sha256(json.dumps(["synthetic-v1", *parameters]).encode()).hexdigest()
    return RawDataset(
        name="synthetic", items=items, interactions=interactions, source_digest=digest
    )
