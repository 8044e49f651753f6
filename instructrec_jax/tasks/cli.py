"""``python -m instructrec_jax.tasks``: list registered tasks/mixtures, train a vocabulary.

    python -m instructrec_jax.tasks list --dataset=ml-100k [--instructions_dir=DIR] [--vocab=PATH]
    python -m instructrec_jax.tasks train_vocab --dataset=ml-100k [--vocab_size=8000]

``list`` registers the dataset's tasks and mixtures (locations as in
``instructrec_jax.tasks.environment``) and prints one line per name with its record counts
per split, taken from the manifest (mixtures: member tasks and their training records).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import TextIO

import seqio

from instructrec_jax.cli_errors import run_main
from instructrec_jax.tasks import environment

SPLITS: tuple[str, ...] = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class ProviderSummary:
    """One registered task or mixture and its example counts per split."""

    name: str
    kind: str  # "task" or "mixture"
    num_examples: dict[str, int]
    num_tasks: int = 1


def _task_counts(task: seqio.Task) -> dict[str, int]:
    return {
        split: int(task.source.num_input_examples(split) or 0)
        for split in SPLITS
        if split in task.splits
    }


def summarize(names: Sequence[str]) -> list[ProviderSummary]:
    """Summaries of registered tasks and mixtures, in the order of ``names``."""
    summaries = []
    for name in names:
        if name in seqio.MixtureRegistry.names():
            mixture = seqio.MixtureRegistry.get(name)
            total = sum(_task_counts(task).get("train", 0) for task in mixture.tasks)
            summaries.append(
                ProviderSummary(name, "mixture", {"train": total}, num_tasks=len(mixture.tasks))
            )
        else:
            task = seqio.TaskRegistry.get(name)
            summaries.append(ProviderSummary(name, "task", _task_counts(task)))
    return summaries


def format_summaries(summaries: Sequence[ProviderSummary]) -> str:
    """Aligned text table, one provider per line."""
    width = max((len(s.name) for s in summaries), default=4)
    lines = [f"{'name':<{width}}  {'kind':<9}  examples per split"]
    for summary in summaries:
        counts = " ".join(f"{split}={count}" for split, count in summary.num_examples.items())
        if summary.kind == "mixture":
            counts += f" ({summary.num_tasks} tasks)"
        lines.append(f"{summary.name:<{width}}  {summary.kind:<9}  {counts}")
    return "\n".join(lines)


def list_command(args: argparse.Namespace, out: TextIO) -> int:
    names = environment.register_from_environment(
        args.dataset, instructions_dir=args.instructions_dir, vocab=args.vocab, rate=args.rate
    )
    print(format_summaries(summarize(names)), file=out)
    return 0


def train_vocab_command(args: argparse.Namespace, out: TextIO) -> int:
    directory = environment.resolve_instructions_dir(args.dataset, args.instructions_dir)
    path = environment.install_dataset_vocabulary(
        args.dataset, directory, vocab_size=args.vocab_size, cache_dir=args.cache_dir
    )
    print(path, file=out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m instructrec_jax.tasks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("list", "train_vocab"):
        sub = commands.add_parser(command)
        sub.add_argument("--dataset", required=True, help="dataset name, e.g. ml-100k")
        sub.add_argument("--instructions_dir", default=None, help="generated directory")
        if command == "list":
            sub.add_argument("--vocab", default=None, help="SentencePiece model path or URI")
            sub.add_argument("--rate", default=None, choices=("examples", "uniform"))
        else:
            sub.add_argument(
                "--vocab_size", type=int, default=environment.DEFAULT_TRAINED_VOCAB_SIZE
            )
            sub.add_argument("--cache_dir", default=None, help="vocabulary cache directory")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run the CLI; returns the exit status (2 for bad flags, 1 for bad or missing input;
    :mod:`instructrec_jax.cli_errors`)."""

    def run(arguments: list[str]) -> int:
        args = build_parser().parse_args(arguments)
        command = list_command if args.command == "list" else train_vocab_command
        return command(args, out)

    return run_main(run, argv, "python -m instructrec_jax.tasks")
