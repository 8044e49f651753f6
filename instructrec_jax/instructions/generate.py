"""Generate the instruction data set of a ProcessedDataset (library function + CLI).

    python -m instructrec_jax.instructions.generate --dataset=ml-100k --out=DIR

Training examples get ``per_example[family]`` records each, drawn from the configured
templates and strategies; validation and test get rank-form (T3) records over the data
layer's fixed candidates for every plain T3 template of the recommendation and
personalized-search families, and product-search T3 records for the items of the item
split's valid/test parts. Output layout and manifest: ``docs/architecture.md`` and the
manifest contract. Units of work (chunks of a split) are rendered in worker processes
when ``workers > 1``; each unit depends only on the data, config and seed, so files are
byte-identical whatever the worker count, and a rerun skips complete units.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import TrainExample
from instructrec_jax.instructions.builders import BuildContext
from instructrec_jax.instructions.codes import Strategy, TaskForm
from instructrec_jax.instructions.manifest import (
    FORMAT_VERSION,
    build_manifest,
    build_stats,
    part_path,
)
from instructrec_jax.instructions.negatives import MemoisedNegativeSampler
from instructrec_jax.instructions.records import FAMILIES
from instructrec_jax.instructions.shards import (
    load_complete_unit,
    unit_record_path,
    write_json_atomic,
    write_unit,
)
from instructrec_jax.instructions.teachers import HeuristicTeacher, Teacher
from instructrec_jax.instructions.templates import Template, load_templates
from instructrec_jax.instructions.tokens import TokenCounter, WhitespaceCounter, counter_name
from instructrec_jax.instructions.units import Unit, WorkerState, plan_units, rendered_units

GENERATOR_VERSION = 1  # bump when rendering changes, so old shards are not reused


def default_per_example() -> dict[str, int]:
    """One record per family per training example (about 2.8 per example on ml-100k)."""
    return {"recommendation": 1, "personalized_search": 1, "product_search": 1}


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    """What to generate.

    Attributes:
      seed: every random choice derives from it.
      template_ids: templates to use; empty = the paper's 39 (A*, B*, C*), add "D1".. for
        the pairwise extras.
      strategies: strategies allowed in training records.
      per_example: family -> training records per training example.
      num_candidates: candidates of T3 records (1 positive + negatives), training and
        product-search evaluation; user evaluation uses the data layer's fixed lists.
      max_input_tokens: input budget (oldest history items are dropped to fit).
      train_shards, eval_shards: units (and part files) per split.
      workers: processes rendering units (does not change the output).
    """

    seed: int = 0
    template_ids: tuple[str, ...] = ()
    strategies: tuple[str, ...] = tuple(s.value for s in Strategy)
    per_example: Mapping[str, int] = dataclasses.field(default_factory=default_per_example)
    num_candidates: int = 10
    max_input_tokens: int = 512
    train_shards: int = 8
    eval_shards: int = 2
    workers: int = 1

    def output_spec(self) -> dict[str, Any]:
        """The fields that determine the output (everything but ``workers``)."""
        spec = dataclasses.asdict(self)
        spec.pop("workers")
        spec["per_example"] = dict(sorted(self.per_example.items()))
        return spec


def paper_template_ids(templates: Mapping[str, Template]) -> tuple[str, ...]:
    """The 39 templates of the paper (families A, B, C), not the pairwise extras."""
    return tuple(tid for tid in templates if tid[0] in "ABC")


def _select_templates(config: GenerateConfig, templates: Mapping[str, Template]) -> list[Template]:
    ids = config.template_ids or paper_template_ids(templates)
    unknown = [tid for tid in ids if tid not in templates]
    if unknown:
        raise KeyError(f"unknown template ids {unknown}; known: {list(templates)}")
    unknown_families = set(config.per_example) - set(FAMILIES)
    if unknown_families:
        raise ValueError(f"per_example names unknown families {sorted(unknown_families)}")
    return [templates[tid] for tid in ids]


def _item_reviews(examples: Sequence[TrainExample]) -> dict[str, str]:
    """Item id -> the first review of it in training-example order."""
    reviews: dict[str, str] = {}
    for example in examples:
        if example.review and example.target not in reviews:
            reviews[example.target] = example.review
    return reviews


def build_context(
    dataset: ProcessedDataset,
    config: GenerateConfig,
    teacher: Teacher,
    counter: TokenCounter,
    templates: Mapping[str, Template],
    train_examples: Sequence[TrainExample],
) -> BuildContext:
    """Template pools, eval template lists and lookups shared by every unit."""
    selected = _select_templates(config, templates)
    strategies = {Strategy(s) for s in config.strategies}
    pools: dict[str, list[Any]] = collections.defaultdict(list)
    eval_ids: dict[str, list[str]] = collections.defaultdict(list)
    for template in selected:
        if template.strategy in strategies:
            pools[template.family].extend((template, c) for c in template.combinations)
        if template.strategy is Strategy.PLAIN and template.task_form is TaskForm.T3:
            eval_ids[template.family].append(template.id)
    return BuildContext(
        catalog=dataset.catalog,
        sampler=MemoisedNegativeSampler(dataset),
        item_split=dataset.item_split,
        item_reviews=_item_reviews(train_examples),
        train_pools={family: tuple(pool) for family, pool in pools.items()},
        eval_templates={family: tuple(ids) for family, ids in eval_ids.items()},
        templates=templates,
        per_example=dict(config.per_example),
        teacher=teacher,
        counter=counter,
        max_input_tokens=config.max_input_tokens,
        seed=config.seed,
        num_candidates=config.num_candidates,
    )


def expected_keys(context: BuildContext) -> dict[str, list[str]]:
    """split -> the ``<family>/<instruction_type>`` keys its units write (sorted)."""
    train: set[str] = set()
    for family, pool in context.train_pools.items():
        if context.per_example.get(family, 0) > 0:
            train.update(f"{family}/{t.instruction_type(c)}" for t, c in pool)
    evaluation: set[str] = set()
    for family, template_ids in context.eval_templates.items():
        for template_id in template_ids:
            template = context.templates[template_id]
            for combination in template.combinations:
                user_free = not (combination.has_history or combination.has_explicit_preference)
                if family != "product_search" or user_free:
                    evaluation.add(f"{family}/{template.instruction_type(combination)}")
    return {"train": sorted(train), "valid": sorted(evaluation), "test": sorted(evaluation)}


def _templates_digest(templates: Mapping[str, Template]) -> str:
    """Hash of every template's content (stable across processes: no set reprs)."""
    rows = [
        [t.id, t.family, t.strategy.value, t.target.value, [c.name for c in t.combinations], t.text]
        for t in templates.values()
    ]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def _spec_hash(common: Mapping[str, Any], unit: Unit, keys: Sequence[str]) -> str:
    spec = {**common, "unit": dataclasses.asdict(unit), "keys": list(keys)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def generate(
    dataset: ProcessedDataset,
    out_dir: str | Path,
    config: GenerateConfig | None = None,
    teacher: Teacher | None = None,
    counter: TokenCounter | None = None,
    progress: bool = True,
    templates: Mapping[str, Template] | None = None,
) -> dict[str, Any]:
    """Write the instruction data set of ``dataset`` to ``out_dir``; return the stats.

    Writes ``<split>/<family>/<type>/part-k-of-n.tfrecord``, ``manifest.json`` and
    ``stats.json``. Complete units of an earlier run with the same inputs are kept.
    """
    from tqdm import tqdm

    config = GenerateConfig() if config is None else config
    teacher = HeuristicTeacher() if teacher is None else teacher
    counter = WhitespaceCounter() if counter is None else counter
    templates = load_templates() if templates is None else templates
    out = Path(out_dir)
    train_examples = list(dataset.train_examples())
    context = build_context(dataset, config, teacher, counter, templates, train_examples)
    eval_items = {
        split: sorted(i for i, part in dataset.item_split.items() if part == split)
        for split in ("valid", "test")
    }
    if config.num_candidates > len(dataset.catalog):
        raise ValueError(
            f"num_candidates={config.num_candidates} exceeds the catalog ({len(dataset.catalog)})"
        )
    state = WorkerState(
        context, train_examples, {"valid": dataset.valid, "test": dataset.test}, eval_items
    )
    units = plan_units(
        len(train_examples),
        {"valid": len(dataset.valid), "test": len(dataset.test)},
        {split: len(items) for split, items in eval_items.items()},
        config.train_shards,
        config.eval_shards,
    )
    keys = expected_keys(context)
    common = {
        "format_version": FORMAT_VERSION,
        "generator_version": GENERATOR_VERSION,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "config": config.output_spec(),
        "teacher": teacher.name,
        "token_counter": counter_name(counter),
        "templates": _templates_digest(templates),
    }
    done: dict[Unit, dict[str, Any]] = {}
    pending: list[Unit] = []
    for unit in units:
        path = unit_record_path(out, unit.split, unit.index, unit.count)
        complete = load_complete_unit(out, path, _spec_hash(common, unit, keys[unit.split]))
        if complete is None:
            pending.append(unit)
        else:
            done[unit] = complete
    if pending:
        # The files about to be rewritten no longer match an earlier run's manifest: drop it
        # first, so that a run stopped midway leaves no manifest naming mixed files.
        for name in ("manifest.json", "stats.json"):
            (out / name).unlink(missing_ok=True)
    workers = config.workers if getattr(teacher, "process_safe", False) else 1
    with tqdm(
        total=len(units),
        initial=len(done),
        desc="instruction units",
        unit="unit",
        disable=not progress,
    ) as bar:
        for unit, payloads, template_ids, stats in rendered_units(state, pending, workers):
            unexpected = set(payloads) - set(keys[unit.split])
            if unexpected:
                raise RuntimeError(f"unit {unit}: records of unplanned types {sorted(unexpected)}")
            files = {
                part_path(unit.split, key, unit.index, unit.count): payloads.get(key, [])
                for key in keys[unit.split]
            }
            ids_by_file = {
                part_path(unit.split, key, unit.index, unit.count): ids
                for key, ids in template_ids.items()
            }
            done[unit] = write_unit(
                out,
                unit_record_path(out, unit.split, unit.index, unit.count),
                _spec_hash(common, unit, keys[unit.split]),
                files,
                ids_by_file,
                stats,
            )
            bar.update(1)
            bar.set_postfix(records=sum(u["stats"]["num_records"] for u in done.values()))
    ordered = [(unit, done[unit]) for unit in units]
    manifest = build_manifest(common, config.seed, config.max_input_tokens, counter, ordered, keys)
    stats_json = build_stats(ordered, dataset.name, common)
    write_json_atomic(out / "manifest.json", manifest)
    write_json_atomic(out / "stats.json", stats_json)
    return stats_json


def default_output_dir(dataset_name: str) -> Path:
    """``$INSTRUCTREC_DATA_DIR/instructions/<dataset>`` (data dir default ~/.cache/instructrec)."""
    from instructrec_jax.data.paths import data_dir

    return data_dir() / "instructions" / dataset_name


if __name__ == "__main__":
    from instructrec_jax.instructions.cli import generate_main

    sys.exit(generate_main())
