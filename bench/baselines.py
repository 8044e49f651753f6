"""Every baseline on one dataset through the evaluation job, the paper's protocol.

Trains (or reloads from ``--output_dir``) the chosen baselines, then scores them all with
``run_evaluation`` on the very candidates the InstructRec evaluation uses: test split,
1 positive + the dataset's 9 fixed random negatives (protocol ``random``; add ``hard`` for
9 hard negatives from ``--retriever``), in the three scenarios: sequential, personalized
search (TEM and DSSM read each instruction type's query) and product search (test targets
held out of training). Prints HR@1/3/5 and NDCG@3/5 per scenario, instruction type and
baseline, then each trained baseline's training time, epochs and validation NDCG@5.
"wall s" / "cpu s" are the fit's elapsed and process CPU seconds (compilation included).

TEM and DSSM read text through a SentencePiece model: ``--vocabulary`` (e.g. the
checkpoint's), else one of ``--vocab_size`` pieces trained once on the dataset's item
texts and training queries and cached under ``--output_dir``. Example::

    python bench/baselines.py --dataset ml-100k --seed 0
    python bench/baselines.py --dataset synthetic --baselines sasrec,dssm --max_epochs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from sasrec import REPORTED

from instructrec_jax.data.registry import prepare_dataset
from instructrec_jax.evaluation.baselines import DSSMConfig, make_baseline, trained_class
from instructrec_jax.evaluation.baselines.queries import text_corpus
from instructrec_jax.evaluation.runner import EvaluationConfig, run_evaluation
from instructrec_jax.instructions.teachers import HeuristicTeacher
from instructrec_jax.tasks.vocab import vocabulary_for_dataset

ALL = ("random", "popularity", "sasrec", "gru4rec", "bert4rec", "bpr", "tem", "dssm")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--cache_dir", default=None, help="data root (default: data layer's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baselines", default=",".join(ALL), help="comma-separated names")
    parser.add_argument("--protocols", default="random", help="comma-separated protocols")
    parser.add_argument("--retriever", default="sasrec", help="hard negatives' retriever")
    parser.add_argument("--max_epochs", type=int, default=None, help="cap every baseline's")
    parser.add_argument("--max_test_examples", type=int, default=None)
    parser.add_argument("--vocabulary", default=None, help="SentencePiece model for TEM/DSSM")
    parser.add_argument("--vocab_size", type=int, default=4000)
    parser.add_argument("--output_dir", default="/tmp/instructrec_bench_baselines")
    parser.add_argument("--json_out", default=None, help="also write the results as JSON")
    return parser.parse_args()


def text_vocabulary(args: argparse.Namespace, dataset, output_dir: Path) -> str:
    """``--vocabulary``, else a SentencePiece model trained on the dataset (cached)."""
    if args.vocabulary:
        return args.vocabulary
    corpus = text_corpus(dataset, HeuristicTeacher(), DSSMConfig().item_fields)
    key = f"{dataset.name}-{dataset.fingerprint}-baselines"
    return vocabulary_for_dataset(corpus, output_dir / "vocab", key, args.vocab_size)


def build(name: str, args: argparse.Namespace, dataset, vocabulary: str, model_root: Path):
    """The baseline ``name``, trained (or reloaded) with the bench's options."""
    kwargs = {}
    scorer_class = trained_class(name)
    if scorer_class is not None:
        config = scorer_class.config_class()
        if args.max_epochs is not None:
            config = dataclasses.replace(config, max_epochs=min(config.max_epochs, args.max_epochs))
        kwargs = {"config": config, "progress": False, "model_dir": str(model_root / name)}
        if "vocabulary" in scorer_class.fit_options:
            kwargs["vocabulary"] = vocabulary
    return make_baseline(name, dataset, args.seed, **kwargs)


def main() -> None:
    args = parse_args()
    names = [name for name in args.baselines.split(",") if name]
    protocols = tuple(p for p in args.protocols.split(",") if p)
    output_dir = Path(args.output_dir)
    dataset = prepare_dataset(args.dataset, cache_dir=args.cache_dir)
    print(
        f"{dataset.name}: {len(dataset.sequences)} users, {len(dataset.catalog)} items, "
        f"seed {args.seed}, protocols {', '.join(protocols)}"
    )
    vocabulary = text_vocabulary(args, dataset, output_dir)
    model_root = output_dir / f"models-{dataset.fingerprint}-seed{args.seed}"
    scorers, fits = [], {}
    for name in names:
        start, cpu_start = time.perf_counter(), time.process_time()
        scorers.append(build(name, args, dataset, vocabulary, model_root))
        fits[name] = {
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu_start,
        }
        print(f"  built {name} in {fits[name]['seconds']:.1f} s", flush=True)
    retriever = None
    if "hard" in protocols:
        by_name = {scorer.name: scorer for scorer in scorers}
        retriever = by_name.get(args.retriever) or build(
            args.retriever, args, dataset, vocabulary, model_root
        )
    config = EvaluationConfig(
        scenarios=("sequential", "personalized_search", "product_search"),
        protocols=protocols,
        max_test_examples=args.max_test_examples,
        seed=args.seed,
    )
    result = run_evaluation(
        dataset, output_dir / "eval", None, scorers, config, retriever, progress=False
    )
    print_rows(sorted(result.rows, key=lambda row: row_order(row, protocols, names)))
    print_training(scorers, fits)
    if args.json_out:
        payload = {
            "rows": [dataclasses.asdict(row) for row in result.rows],
            "fits": fits,
            "training": {s.name: training_summary(s) for s in scorers if hasattr(s, "training")},
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=1), encoding="utf-8")


def row_order(row, protocols: tuple[str, ...], names: list[str]) -> tuple:
    """Sort key: protocol, scenario (as evaluated), instruction type, baseline."""
    scenarios = ("sequential", "personalized_search", "product_search")
    return (
        protocols.index(row.protocol),
        scenarios.index(row.scenario),
        row.instruction_type,
        names.index(row.model),
    )


def print_rows(rows) -> None:
    """One line per (protocol, scenario, instruction type, baseline)."""
    header = "".join(f"{metric:>9}" for metric in REPORTED)
    print(f"{'protocol':<9}{'scenario':<21}{'type':<12}{'baseline':<11}{'users':>6}{header}")
    for row in rows:
        values = "".join(f"{row.metrics[metric]:9.4f}" for metric in REPORTED)
        print(
            f"{row.protocol:<9}{row.scenario:<21}{row.instruction_type:<12}{row.model:<11}"
            f"{row.num_examples:>6}{values}"
        )


def training_summary(scorer) -> dict:
    """The training record without the per-check history."""
    return {key: value for key, value in scorer.training.items() if key != "history"}


def print_training(scorers, fits) -> None:
    """Training time, epochs, best epoch and validation NDCG@5 of the trained baselines."""
    for scorer in scorers:
        if not hasattr(scorer, "training"):
            continue
        training = scorer.training
        print(
            f"  {scorer.name}: fit {fits[scorer.name]['seconds']:.1f} s wall, "
            f"{fits[scorer.name]['cpu_seconds']:.1f} s cpu (a reload if saved earlier); trained "
            f"{training['train_seconds']:.1f} s, {training['epochs_run']} epochs, best epoch "
            f"{training['best_epoch']} (valid NDCG@5 "
            f"{training['valid_metrics'].get('NDCG@5', float('nan')):.4f})"
        )


if __name__ == "__main__":
    main()
