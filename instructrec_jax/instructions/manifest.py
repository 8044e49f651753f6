"""The generated directory's ``manifest.json`` and ``stats.json`` (see the contract)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from instructrec_jax.instructions.stats import RenderStats
from instructrec_jax.instructions.templates import id_sort_key
from instructrec_jax.instructions.tokens import TokenCounter, counter_name
from instructrec_jax.instructions.units import Unit

FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")


def part_path(split: str, key: str, index: int, count: int) -> str:
    """Relative path of one part file."""
    return f"{split}/{key}/part-{index:05d}-of-{count:05d}.tfrecord"


def build_manifest(
    common: Mapping[str, Any],
    seed: int,
    max_input_tokens: int,
    counter: TokenCounter,
    units: Sequence[tuple[Unit, Mapping[str, Any]]],
    keys: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """The contract's manifest: per split and ``family/type``, files, counts, template ids."""
    splits: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        split_units = [(u, record) for u, record in units if u.split == split]
        entries: dict[str, Any] = {}
        for key in keys[split]:
            files = [part_path(split, key, u.index, u.count) for u, _ in split_units]
            count = sum(
                record["files"][f]["num_records"] for (_, record), f in zip(split_units, files)
            )
            if count == 0:
                continue
            ids = {
                tid
                for _, record in split_units
                for f in files
                for tid in record["template_ids"].get(f, [])
            }
            family, instruction_type = key.split("/")
            entries[key] = {
                "family": family,
                "instruction_type": instruction_type,
                "files": files,
                "num_records": count,
                "template_ids": sorted(ids, key=id_sort_key),
            }
        splits[split] = entries
    return {
        "format_version": FORMAT_VERSION,
        "dataset": common["dataset"],
        "dataset_fingerprint": common["dataset_fingerprint"],
        "seed": seed,
        "teacher": common["teacher"],
        "max_input_tokens": max_input_tokens,
        "token_counter": counter_name(counter),
        "config": common["config"],
        "templates": sorted(
            {
                template_id
                for entries in splits.values()
                for entry in entries.values()
                for template_id in entry["template_ids"]
            },
            key=id_sort_key,
        ),
        "splits": splits,
    }


def build_stats(
    units: Sequence[tuple[Unit, Mapping[str, Any]]], dataset_name: str, common: Mapping[str, Any]
) -> dict[str, Any]:
    """Totals per split and overall (counts per type and template, words, truncation)."""
    per_split = {split: RenderStats() for split in SPLITS}
    for unit, record in units:
        per_split[unit.split].merge(RenderStats.from_json(record["stats"]))
    total = RenderStats()
    for split_stats in per_split.values():
        total.merge(split_stats)
    return {
        "dataset": dataset_name,
        "teacher": common["teacher"],
        "token_counter": common["token_counter"],
        "total": total.to_json(),
        "splits": {split: s.to_json() for split, s in per_split.items()},
    }
