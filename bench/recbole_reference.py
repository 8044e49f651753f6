"""RecBole's own SASRec, GRU4Rec, BERT4Rec and BPR on our processed data: a reference run.

A sanity check of this repository's JAX baselines against RecBole (``pip install
recbole==1.2.1``; it also needs pandas, scikit-learn, tensorboard, colorlog, texttable,
thop; RecBole's ``quick_start`` needs ray, which this script avoids). Our processed dataset
(after its k-core filter and its seeded tie order) is written as a RecBole atomic
``.inter`` file whose timestamps are the positions in each user's sequence, so RecBole's
leave-one-out split (``order: TO``, ``split: LS valid_and_test``) holds out exactly our
validation and test items. RecBole then trains each model with its own defaults (epochs
capped by ``--epochs``, its early stopping on validation NDCG@5) and evaluates on its own
1 + 9 uniformly sampled negatives (``mode: uni9``; ours also exclude same-title items, so
the candidate sets differ while following the same rule). Example::

    python bench/recbole_reference.py --dataset ml-100k --models SASRec,GRU4Rec,BPR

PyTorch >= 2.6 loads checkpoints with ``weights_only=True``; RecBole's best-model
checkpoint holds its config object, so the script sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
for its own run (a checkpoint it wrote itself). RecBole 1.2.1 also predates NumPy 2: the
removed ``np.float_``-style aliases are restored before it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

from instructrec_jax.data.registry import prepare_dataset

REPORTED = ("hit@1", "hit@3", "hit@5", "ndcg@3", "ndcg@5")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--cache_dir", default=None, help="data root (default: data layer's)")
    parser.add_argument("--models", default="SASRec,GRU4Rec,BERT4Rec,BPR")
    parser.add_argument("--epochs", type=int, default=50, help="cap on RecBole's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json_out", default=None)
    return parser.parse_args()


def write_atomic(dataset, directory: Path) -> str:
    """``directory/<name>/<name>.inter`` with position timestamps; returns the name."""
    name = "instructrec"
    folder = directory / name
    folder.mkdir(parents=True)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user_id, sequence in dataset.sequences.items():
        lines.extend(f"{user_id}\t{item}\t{step}" for step, item in enumerate(sequence.item_ids))
    (folder / f"{name}.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return name


def numpy2_aliases() -> None:
    """RecBole 1.2.1 aliases ``np.float = np.float_`` (and the like) when it builds a
    config; NumPy 2 removed the underscored names, so give them back (same types)."""
    import numpy as np

    for old, new in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_)):
        if old not in np.__dict__:
            setattr(np, old, new)


def run_model(model_name: str, data_path: Path, dataset_name: str, args) -> dict:
    """Train and test one RecBole model; returns its test metrics and seconds."""
    numpy2_aliases()
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    settings = {
        "data_path": str(data_path),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "eval_args": {
            "split": {"LS": "valid_and_test"},
            "order": "TO",
            "group_by": "user",
            "mode": "uni9",
        },
        "metrics": ["Hit", "NDCG"],
        "topk": [1, 3, 5],
        "valid_metric": "NDCG@5",
        "epochs": args.epochs,
        "seed": args.seed,
        "device": "cpu",
        "use_gpu": False,
        "show_progress": False,
        "checkpoint_dir": str(data_path / "saved"),
        # CE-trained sequential models take no sampled negatives; BPR one per positive.
        "train_neg_sample_args": None,
    }
    if model_name == "BPR":
        settings["train_neg_sample_args"] = {"distribution": "uniform", "sample_num": 1}
    config = Config(model=model_name, dataset=dataset_name, config_dict=settings)
    init_seed(config["seed"], config["reproducibility"])
    data = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, data)
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    start = time.perf_counter()
    _, best_valid = trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    test = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    return {
        "test": {key: float(value) for key, value in test.items()},
        "valid": {key: float(value) for key, value in best_valid.items()},
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    dataset = prepare_dataset(args.dataset, cache_dir=args.cache_dir)
    results = {}
    json_out = Path(args.json_out).resolve() if args.json_out else None
    # RecBole writes its logs (log_tensorboard/, saved/) under the working directory: the
    # temporary one, so that a run leaves nothing in the checkout.
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        name = write_atomic(dataset, Path(tmp))
        header = "".join(f"{metric:>9}" for metric in REPORTED)
        print(f"{dataset.name} via RecBole, test, 1 + 9 sampled negatives")
        print(f"{'model':<10}{header}{'wall s':>9}")
        for model_name in [m for m in args.models.split(",") if m]:
            result = run_model(model_name, Path(tmp), name, args)
            results[model_name] = result
            values = "".join(f"{result['test'][metric]:9.4f}" for metric in REPORTED)
            print(f"{model_name:<10}{values}{result['seconds']:9.1f}", flush=True)
    if json_out:
        json_out.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
