"""Command lines of the instruction layer (thin wrappers around library functions).

python -m instructrec_jax.instructions list-templates [--json]
python -m instructrec_jax.instructions.generate --dataset=ml-100k --out=DIR [flags]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from instructrec_jax.cli_errors import UsageError, checked_settings, run_main
from instructrec_jax.instructions.templates import Template, load_templates


def template_rows(templates: dict[str, Template]) -> list[dict[str, Any]]:
    """One JSON-able row per template: id, family, strategy, target, instruction types."""
    return [
        {
            "id": template.id,
            "family": template.family,
            "strategy": template.strategy.value,
            "target": template.target.value,
            "task_form": template.task_form.value,
            "combinations": [c.name for c in template.combinations],
            "instruction_types": [template.instruction_type(c) for c in template.combinations],
            "summary": template.summary,
        }
        for template in templates.values()
    ]


def list_templates_main(argv: Sequence[str] | None = None) -> int:
    """``list-templates``: print every template with its codes, family and strategy."""
    return run_main(_list_templates, argv, "python -m instructrec_jax.instructions list-templates")


def _list_templates(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructrec_jax.instructions list-templates")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--templates-dir", default=None, help="directory of *.toml templates")
    args = parser.parse_args(argv)
    rows = template_rows(load_templates(args.templates_dir))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(
            f"{row['id']:<4} {row['family']:<20} {row['strategy']:<11} "
            f"{row['target']:<19} {' '.join(row['combinations'])}"
        )
    return 0


def _parse_per_example(text: str) -> dict[str, int]:
    per_example = {}
    for part in filter(None, text.split(",")):
        family, _, count = part.partition("=")
        if not count.isdigit():
            raise argparse.ArgumentTypeError(f"--per-example: expected family=N, got {part!r}")
        per_example[family.strip()] = int(count)
    return per_example


def _generate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m instructrec_jax.instructions.generate")
    parser.add_argument("--dataset", required=True, help="dataset name, e.g. ml-100k")
    parser.add_argument("--out", default=None, help="output dir (default: data dir)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--templates", default="paper", help="'paper' (39), 'all' (+pairwise) or ids: A1,B7"
    )
    parser.add_argument("--strategies", default="plain,turnaround,relatedness,cot")
    parser.add_argument(
        "--per-example",
        type=_parse_per_example,
        default=None,
        help="records per training example, e.g. recommendation=1,personalized_search=1",
    )
    parser.add_argument("--num-candidates", type=int, default=10)
    parser.add_argument("--max-input-tokens", type=int, default=512)
    parser.add_argument("--train-shards", type=int, default=8)
    parser.add_argument("--eval-shards", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sentencepiece", default=None, help="count tokens with this model")
    parser.add_argument("--teacher", choices=("heuristic", "chat"), default="heuristic")
    parser.add_argument("--chat-base-url", default="https://api.openai.com/v1")
    parser.add_argument("--chat-model", default="gpt-4o-mini")
    parser.add_argument("--chat-api-key-env", default="OPENAI_API_KEY")
    parser.add_argument("--chat-cache", default=None, help="sqlite cache path")
    parser.add_argument("--chat-concurrency", type=int, default=8)
    parser.add_argument("--dry-run", action="store_true", help="chat teacher: print prompts only")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--data-dir", default=None, help="data root (default: data dir)")
    parser.add_argument(
        "--dataset-arg",
        action="append",
        default=[],
        help="reader argument KEY=VALUE (integers parsed), e.g. num_users=50",
    )
    return parser


def _reader_kwargs(pairs: Sequence[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--dataset-arg: expected KEY=VALUE, got {pair!r}")
        kwargs[key] = int(value) if value.lstrip("-").isdigit() else value
    return kwargs


def _dry_run(dataset: Any, teacher: Any) -> int:
    """Print the chat teacher's prompts and how many calls a generation would make."""
    from instructrec_jax.instructions.teachers import AnnotationRequest

    examples = [*dataset.train_examples(), *dataset.valid, *dataset.test]
    requests = [AnnotationRequest(e.history, e.target, e.review, dataset.catalog) for e in examples]
    teacher.dry_run(requests)
    return 0


def generate_main(argv: Sequence[str] | None = None) -> int:
    """``generate``: build the instruction data set of a named dataset."""
    return run_main(_generate, argv, "python -m instructrec_jax.instructions generate")


def _generate(argv: list[str]) -> int:
    from pathlib import Path

    from instructrec_jax.data.registry import prepare_dataset
    from instructrec_jax.instructions.generate import (
        GenerateConfig,
        default_output_dir,
        default_per_example,
        generate,
    )

    args = _generate_parser().parse_args(argv)
    templates = load_templates()
    if args.templates == "paper":
        template_ids: tuple[str, ...] = ()
    elif args.templates == "all":
        template_ids = tuple(templates)
    else:
        template_ids = tuple(t.strip() for t in args.templates.split(",") if t.strip())
    config = checked_settings(
        GenerateConfig,
        seed=args.seed,
        template_ids=template_ids,
        strategies=tuple(s.strip() for s in args.strategies.split(",") if s.strip()),
        per_example=args.per_example or default_per_example(),
        num_candidates=args.num_candidates,
        max_input_tokens=args.max_input_tokens,
        train_shards=args.train_shards,
        eval_shards=args.eval_shards,
        workers=args.workers,
    )
    out_dir = Path(args.out) if args.out else default_output_dir(args.dataset)
    counter = None
    if args.sentencepiece:
        from instructrec_jax.instructions.tokens import SentencePieceFileCounter

        counter = SentencePieceFileCounter(args.sentencepiece)
    teacher = None
    if args.teacher == "chat":
        from instructrec_jax.instructions.chat_teacher import ChatTeacher, ChatTeacherConfig

        teacher = ChatTeacher(
            ChatTeacherConfig(
                base_url=args.chat_base_url,
                model=args.chat_model,
                api_key_env=args.chat_api_key_env,
                cache_path=args.chat_cache or str(out_dir / "teacher.sqlite"),
                concurrency=args.chat_concurrency,
            )
        )
    dataset = prepare_dataset(
        args.dataset, cache_dir=args.data_dir, **_reader_kwargs(args.dataset_arg)
    )
    if args.dry_run:
        if teacher is None:
            raise UsageError("--dry-run needs --teacher=chat")
        return _dry_run(dataset, teacher)
    stats = generate(dataset, out_dir, config, teacher, counter, progress=not args.no_progress)
    total = stats["total"]
    print(
        f"wrote {total['num_records']} records to {out_dir} "
        f"(truncation rate {total['truncation_rate']:.4f}, "
        f"avg input words {total['avg_input_words']:.1f})",
        file=sys.stderr,
    )
    return 0
