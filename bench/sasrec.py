"""Random, Popularity and SASRec on one dataset with the paper's protocol.

Test split, 1 positive + the dataset's 9 fixed random negatives, metrics HR@1/3/5 and
NDCG@3/5 (shared ``ranking_metrics``), plus SASRec's training time and early-stopping
epoch. "wall s" is elapsed time (fit + scoring, compilation included); "cpu s" is the
process's CPU time over all threads, a fairer figure on a shared machine. Example::

    python bench/sasrec.py --dataset ml-100k --seed 0
    python bench/sasrec.py --dataset synthetic --max_epochs 30

Set ``--model_dir`` to save the trained SASRec there (or reuse one saved earlier).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from instructrec_jax.data.registry import prepare_dataset
from instructrec_jax.evaluation.baselines import SASRecConfig, make_baseline
from instructrec_jax.evaluation.metrics import ranking_metrics

REPORTED = ("HR@1", "HR@3", "HR@5", "NDCG@3", "NDCG@5")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--cache_dir", default=None, help="data root (default: data layer's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="test", choices=("valid", "test"))
    parser.add_argument("--max_epochs", type=int, default=SASRecConfig.max_epochs)
    parser.add_argument("--patience", type=int, default=SASRecConfig.patience)
    parser.add_argument("--loss", default=SASRecConfig.loss, choices=("ce", "bce"))
    parser.add_argument("--model_dir", default=None)
    parser.add_argument("--json_out", default=None, help="also write the results as JSON")
    return parser.parse_args()


def main():
    args = parse_args()
    dataset = prepare_dataset(args.dataset, cache_dir=args.cache_dir)
    examples = dataset.split_examples(args.split)
    print(
        f"{dataset.name}: {len(dataset.sequences)} users, {len(dataset.catalog)} items, "
        f"{len(examples)} {args.split} examples x {len(examples[0].candidates)} candidates"
    )
    config = SASRecConfig(max_epochs=args.max_epochs, patience=args.patience, loss=args.loss)
    options = {
        "random": {},
        "popularity": {},
        "sasrec": {"config": config, "progress": True, "model_dir": args.model_dir},
    }
    positives = np.zeros(len(examples), dtype=np.int64)
    results = {}
    header = "".join(f"{name:>9}" for name in REPORTED)
    print(f"{'baseline':<12}{header}{'wall s':>9}{'cpu s':>9}")
    for name, kwargs in options.items():
        start, cpu_start = time.perf_counter(), time.process_time()
        scorer = make_baseline(name, dataset, args.seed, **kwargs)
        metrics = ranking_metrics(scorer.score(examples), positives)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start  # all threads of this process
        results[name] = {"metrics": metrics, "seconds": seconds, "cpu_seconds": cpu_seconds}
        row = "".join(f"{metrics[key]:9.4f}" for key in REPORTED)
        print(f"{name:<12}{row}{seconds:9.1f}{cpu_seconds:9.1f}")
        if name == "sasrec":
            training = scorer.training
            results[name]["training"] = {k: v for k, v in training.items() if k != "history"}
            print(
                f"  SASRec: trained {training['train_seconds']:.1f} s, "
                f"{training['epochs_run']} epochs, best epoch {training['best_epoch']} "
                f"(valid NDCG@5 {training['valid_metrics'].get('NDCG@5', float('nan')):.4f})"
            )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
