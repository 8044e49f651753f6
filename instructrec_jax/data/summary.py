"""Statistics of a processed dataset as a JSON-ready dict and as text, and a sequence dump."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from instructrec_jax.data.processed import ProcessedDataset


def _step(name: str, users: int, items: int, interactions: int) -> dict[str, Any]:
    return {"step": name, "users": users, "items": items, "interactions": interactions}


def summarize(dataset: ProcessedDataset) -> dict[str, Any]:
    """Figures after each preprocessing step and per split.

    Keys: ``dataset``, ``fingerprint``, ``users``, ``items``, ``interactions``,
    ``avg_sequence_length``, ``catalog`` (raw entries and entries with a title),
    ``steps`` (list of {step, users, items, interactions}; items = distinct items with an
    interaction at that step), ``splits`` (train examples, valid, test), ``candidates``
    (per valid/test example), ``item_split``, ``tied_interaction_fraction``,
    ``tie_decided_test_targets`` (share of test targets tied with the previous item),
    ``bad_lines``, ``config``.
    """
    stats = dataset.stats
    config = dataset.config
    titled = (stats["titled_users"], stats["titled_interacted_items"])
    return {
        "dataset": dataset.name,
        "fingerprint": dataset.fingerprint,
        "users": stats["users"],
        "items": stats["items"],
        "interactions": stats["interactions"],
        "avg_sequence_length": stats["avg_sequence_length"],
        "catalog": {"raw": stats["raw_catalog_items"], "with_title": stats["items_with_title"]},
        "steps": [
            _step(
                "raw", stats["raw_users"], stats["raw_interacted_items"], stats["raw_interactions"]
            ),
            _step("title", *titled, stats["interactions_with_title"]),
            _step("dedupe", *titled, stats["deduped_interactions"]),
            _step(f"{config.k_core}-core", stats["users"], stats["items"], stats["interactions"]),
        ],
        "splits": {
            "train": stats["train_examples"],
            "valid": stats["valid_examples"],
            "test": stats["test_examples"],
        },
        "candidates": 1 + config.num_negatives,
        "item_split": stats["item_split_counts"],
        "tied_interaction_fraction": stats["tied_interaction_fraction"],
        "tie_decided_test_targets": stats["tie_decided_test_targets"],
        "bad_lines": stats.get("bad_lines", {}),
        "config": config.to_json_dict(),
    }


_STEP_LABELS = {"raw": "raw", "title": "items with a title", "dedupe": "dedupe (user, item)"}


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable table of ``summarize``'s figures."""
    lines = [
        f"dataset {summary['dataset']} (fingerprint {summary['fingerprint']})",
        f"catalog: {summary['catalog']['raw']} items, {summary['catalog']['with_title']} "
        "with a title",
        f"{'step':<22}{'users':>10}{'items':>10}{'interactions':>14}",
    ]
    for step in summary["steps"]:
        label = _STEP_LABELS.get(step["step"], step["step"])
        lines.append(f"{label:<22}{step['users']:>10}{step['items']:>10}{step['interactions']:>14}")
    splits = summary["splits"]
    item_split = summary["item_split"]
    bad = summary["bad_lines"]
    lines += [
        f"final: {summary['users']} users, {summary['items']} items, "
        f"{summary['interactions']} interactions, average length "
        f"{summary['avg_sequence_length']:.2f}",
        f"timestamp ties: {100 * summary['tied_interaction_fraction']:.1f}% of interactions "
        "share (user, timestamp) with another (ordered by the seeded tie rule); "
        f"{100 * summary['tie_decided_test_targets']:.1f}% of test targets are decided by it",
        f"splits: train {splits['train']} examples (prefix -> next), valid {splits['valid']}, "
        f"test {splits['test']} ({summary['candidates']} candidates each)",
        f"item split (product search): train {item_split['train']}, valid "
        f"{item_split['valid']}, test {item_split['test']}",
        "bad lines skipped: "
        + (", ".join(f"{path}: {count}" for path, count in bad.items()) if bad else "none"),
    ]
    return "\n".join(lines)


def write_sequences(dataset: ProcessedDataset, path: str | Path) -> int:
    """Write each user's final chronological item sequence as JSON lines
    ``{"user": ..., "items": [...]}`` (users sorted by id); returns the line count."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as handle:
        for user_id, sequence in dataset.sequences.items():
            record = {"user": user_id, "items": list(sequence.item_ids)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
