"""Command line: ``python -m instructrec_jax.data prepare --dataset=NAME [options]``.

Examples::

    python -m instructrec_jax.data prepare --dataset=ml-100k
    python -m instructrec_jax.data prepare --dataset=ml-100k --json
    python -m instructrec_jax.data prepare --dataset=amazon2018 --category=Video_Games \\
        --manual_dir=DIR
    python -m instructrec_jax.data prepare --dataset=recbole --path=DIR/NAME \\
        --dump_sequences=seqs.jsonl

A thin wrapper around ``registry.prepare_dataset`` and ``summary.summarize``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from instructrec_jax.cli_errors import UsageError, checked_settings, run_main
from instructrec_jax.data.config import PrepareConfig
from instructrec_jax.data.registry import READERS, prepare_dataset
from instructrec_jax.data.summary import format_summary, summarize, write_sequences


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--flag=value`` syntax)."""
    parser = argparse.ArgumentParser(prog="python -m instructrec_jax.data")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="read, filter and split; print statistics")
    prepare.add_argument("--dataset", required=True, choices=sorted(READERS))
    prepare.add_argument("--category", help="amazon2018: e.g. Video_Games")
    prepare.add_argument("--manual_dir", help="amazon2018: folder with the .json.gz files")
    prepare.add_argument("--reviews", default="auto", choices=("auto", "5core", "full"))
    prepare.add_argument("--path", help="recbole: DIR/NAME prefix of NAME.inter, NAME.item")
    prepare.add_argument("--num_users", type=int, default=200, help="synthetic")
    prepare.add_argument("--num_items", type=int, default=300, help="synthetic")
    prepare.add_argument("--num_categories", type=int, default=8, help="synthetic")
    defaults = PrepareConfig()
    prepare.add_argument("--k_core", type=int, default=defaults.k_core)
    prepare.add_argument("--max_history", type=int, default=defaults.max_history)
    prepare.add_argument("--num_negatives", type=int, default=defaults.num_negatives)
    prepare.add_argument("--seed", type=int, default=defaults.seed)
    prepare.add_argument("--cache_dir", help="data root (default $INSTRUCTREC_DATA_DIR)")
    prepare.add_argument("--no_cache", action="store_true", help="recompute, write nothing")
    prepare.add_argument("--skip_bad_lines", action="store_true")
    prepare.add_argument("--json", action="store_true", help="print one JSON object")
    prepare.add_argument("--dump_sequences", help="write user sequences as JSON lines here")
    return parser


def reader_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The reader keyword arguments the chosen dataset takes, from the flags."""
    if args.dataset == "synthetic":
        return {
            "num_users": args.num_users,
            "num_items": args.num_items,
            "num_categories": args.num_categories,
        }
    kwargs: dict[str, Any] = {"skip_bad_lines": args.skip_bad_lines}
    if args.dataset == "amazon2018":
        if not args.category or not args.manual_dir:
            raise UsageError("--dataset=amazon2018 needs --category and --manual_dir")
        kwargs.update(category=args.category, manual_dir=args.manual_dir, reviews=args.reviews)
    elif args.dataset == "recbole":
        if not args.path:
            raise UsageError("--dataset=recbole needs --path=DIR/NAME")
        kwargs["path"] = args.path
    return kwargs


def run_prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare the dataset, optionally dump sequences; returns the summary (+ seconds)."""
    config = checked_settings(
        PrepareConfig,
        k_core=args.k_core,
        max_history=args.max_history,
        num_negatives=args.num_negatives,
        seed=args.seed,
    )
    started = time.perf_counter()
    dataset = prepare_dataset(
        args.dataset,
        config,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        **reader_arguments(args),
    )
    summary = summarize(dataset)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if args.dump_sequences:
        summary["dumped_sequences"] = write_sequences(dataset, args.dump_sequences)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad flags, 1 for bad input data)."""
    return run_main(_prepare_main, argv, "python -m instructrec_jax.data")


def _prepare_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    summary = run_prepare(args)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(format_summary(summary))
        print(f"took {summary['seconds']:.2f} s")
        if args.dump_sequences:
            print(f"wrote {summary['dumped_sequences']} sequences to {args.dump_sequences}")
    return 0
