"""The embedded end-to-end job behind ``make demo``: MovieLens-100K, from nothing to a table.

    python -m instructrec_jax.demo [--gin_file=gin/runs/demo.gin] [--gin.TRAIN_STEPS=4000]

Stages, each a library call of its own package (nothing here is demo-only logic):
1. data: fetch ml-100k from PyPI's recbole wheel, prepare leave-one-out sequences;
2. instructions: render the instruction data with the heuristic teacher;
3. tasks: train a SentencePiece vocabulary on it and register the SeqIO tasks;
4. training: fine-tune ``flan_t5_tiny`` from scratch on a training mixture;
5. evaluation: rerank the test users' candidates under every protocol, beside Random,
   Popularity and SASRec on the same candidates; print the table, write the chart.

Every stage caches or resumes: rerunning skips finished work (the trainer resumes from its
latest checkpoint, evaluation from its finished shards) and XLA's compiled programs come
from the on-disk cache (``--compilation_cache_dir``). Settings live in
``gin/runs/demo.gin``; ``--gin.NAME=VALUE`` overrides any of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import gin
from instructrec_jax import compilation_cache
from instructrec_jax.cli_errors import run_main
from instructrec_jax.gin_cli import (
    add_gin_flags,
    parse_gin_files,
    parse_with_gin_flags,
    search_folders,
)
from instructrec_jax.host_memory import reuse_freed_memory
from instructrec_jax.recipe import (
    RecipeConfig,
    generate_instructions,
    install_tasks,
    prepare_processed,
)

DEFAULT_GIN_FILE = "runs/demo.gin"


@dataclasses.dataclass(frozen=True)
class DemoConfig(RecipeConfig):
    """Knobs of the demo: :class:`~instructrec_jax.recipe.RecipeConfig`'s (data, vocabulary,
    training, evaluation; defaults fit about 15 minutes on 2 CPU cores) and these.

    Attributes:
      work_dir: everything the demo writes (instructions, vocabulary, model, reports).
      seed: seeds data splits, instructions, initialization, negatives.
      mixture: training task or mixture; ``{dataset}`` is replaced by the short name.
      hard_protocols, hard_scenarios, hard_max_test_examples: the costlier protocols
        (``hard``: 9 SASRec negatives; ``full100``; ``grouped100``: 10 groups of 10 then
        rerank), run as a second evaluation on fewer scenarios and users to fit the budget.
      baselines: baselines ranked on the same candidates.
    """

    work_dir: str = "demo_output"
    seed: int = 0
    mixture: str = "instructrec_{dataset}_all"
    hard_protocols: tuple[str, ...] = ("hard", "full100", "grouped100")
    hard_scenarios: tuple[str, ...] = ("sequential",)
    hard_max_test_examples: int | None = 200
    baselines: tuple[str, ...] = ("random", "popularity", "sasrec")


# Gin binds the demo's knobs through this wrapper (``demo.train_steps = ...``); Python
# callers build ``DemoConfig`` directly and see no gin state.
GinDemoConfig = gin.external_configurable(DemoConfig, name="demo")


def _stage(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.monotonic()


def _done(started: float) -> None:
    print(f"   ({time.monotonic() - started:.0f} s)", flush=True)


def run_demo(config: DemoConfig) -> Path | None:
    """Run every stage; return the path of the Markdown results table (None when both
    evaluations were switched off, e.g. ``--gin.demo.protocols="()"
    --gin.demo.hard_protocols="()"`` to train a model only)."""
    from instructrec_jax.evaluate import evaluate_checkpoint
    from instructrec_jax.evaluation.runner import EvaluationConfig
    from instructrec_jax.tasks.naming import dataset_short_name
    from instructrec_jax.tasks.vocab import model_vocab_size
    from instructrec_jax.training import train

    work_dir = Path(config.work_dir).resolve()
    started = _stage(f"1/5 data: {config.dataset}")
    dataset, processed_dir = prepare_processed(config, work_dir, config.seed)
    print(
        f"   {len(dataset.sequences)} users, {len(dataset.catalog)} items, "
        f"{sum(len(s.item_ids) for s in dataset.sequences.values())} interactions; "
        f"test users {len(dataset.test)}"
    )
    _done(started)

    started = _stage("2/5 instructions (heuristic teacher)")
    instructions_dir, stats = generate_instructions(config, dataset, work_dir, config.seed)
    print(f"   {stats['total']['num_records']} records in {instructions_dir}")
    _done(started)

    started = _stage("3/5 vocabulary and SeqIO tasks")
    vocab_path, vocabulary, names = install_tasks(config, dataset, work_dir, config.seed)
    mixture = config.mixture.format(dataset=dataset_short_name(config.dataset))
    print(f"   vocabulary {vocab_path} ({vocabulary.vocab_size} ids); {len(names)} tasks/mixtures")
    _done(started)

    started = _stage(f"4/5 fine-tune flan_t5_{config.model_preset} from scratch on {mixture}")
    model_config = config.model_config(model_vocab_size(vocabulary))
    model_dir = work_dir / "model"
    result = train(config.train_config(model_dir, mixture, model_config, config.seed))
    print(f"   step {result.step}: {result.final_metrics}")
    _done(started)

    started = _stage("5/5 evaluation: InstructRec vs baselines on the same candidates")
    table_paths = []
    for name, scenarios, protocols, max_test in (
        ("eval", config.scenarios, config.protocols, config.max_test_examples),
        (
            "eval_hard",
            config.hard_scenarios,
            config.hard_protocols,
            config.hard_max_test_examples,
        ),
    ):
        if not scenarios or not protocols:
            continue
        evaluation = evaluate_checkpoint(
            checkpoint_path=str(model_dir),
            dataset=str(processed_dir),
            vocabulary=vocab_path,
            output_dir=str(work_dir / name),
            model_config=model_config,
            baselines=config.baselines,
            evaluation=EvaluationConfig(
                scenarios=scenarios,
                protocols=protocols,
                max_test_examples=max_test,
                max_valid_examples=config.max_valid_examples,
                seed=config.seed,
            ),
            max_input_tokens=config.input_length,
            baselines_dir=str(work_dir / "baselines"),
        )
        table_paths.append(evaluation.table_path)
        print(evaluation.table_path.read_text())
        print(f"metrics: {evaluation.metrics_path}\nchart:   {evaluation.chart_path}\n")
    _done(started)
    return table_paths[0] if table_paths else None


class DemoFlags(NamedTuple):
    """The demo's command line: gin files, bindings and search folders, and the cache."""

    gin_files: list[str]
    bindings: list[str]
    search_folders: list[str]
    compilation_cache_dir: str | None


def parse_flags(argv: Sequence[str]) -> DemoFlags:
    """The flags; the gin files default to ``runs/demo.gin``."""
    parser = argparse.ArgumentParser(prog="python -m instructrec_jax.demo", description=__doc__)
    add_gin_flags(parser)
    compilation_cache.add_flag(parser)
    flags, bindings = parse_with_gin_flags(parser, argv)
    return DemoFlags(
        flags.gin_file or [DEFAULT_GIN_FILE],
        bindings,
        search_folders(flags.gin_search_paths),
        flags.compilation_cache_dir,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse gin files and bindings, then run the demo; returns the exit code (2 for usage
    errors, 1 for failures; :mod:`instructrec_jax.cli_errors`)."""
    reuse_freed_memory()  # first: before TF and XLA start their threads
    return run_main(_demo_main, argv, "python -m instructrec_jax.demo")


def _demo_main(argv: list[str]) -> int:
    from instructrec_jax.tf_setup import import_tensorflow

    import_tensorflow()  # first, so TF's import is quiet and never sees an accelerator
    flags = parse_flags(argv)
    parse_gin_files(flags.gin_files, flags.bindings, flags.search_folders)
    print(compilation_cache.describe(compilation_cache.enable(flags.compilation_cache_dir)))
    from instructrec_jax.training import PREEMPTED_EXIT_CODE, PreemptedError

    try:
        run_demo(GinDemoConfig())
    except PreemptedError as preempted:  # SIGTERM while training: rerunning resumes
        print(str(preempted), file=sys.stderr)
        return PREEMPTED_EXIT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
