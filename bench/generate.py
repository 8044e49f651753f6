"""Benchmark instruction generation: instructions per second on a real dataset.

    INSTRUCTREC_DATA_DIR=... python bench/generate.py --dataset=ml-100k --workers=1,2

Each worker count runs in a fresh process (as the CLI would): the dataset is loaded first
(not timed), then ``generate`` is timed end to end, TensorFlow import and file writing
included. The single-worker run is the reference the others are compared with, and the
output trees are hashed to show that they are byte-identical. Target: 252K instructions
in under 60 s on 2 cores with the heuristic teacher.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAPER_INSTRUCTIONS = 252_730
REPO_ROOT = Path(__file__).resolve().parents[1]


def _tree_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(directory)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children (the workers)."""
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(u.ru_utime + u.ru_stime for u in usage)


def child(dataset_name: str, workers: int, out_dir: str) -> None:
    from instructrec_jax.data.registry import prepare_dataset
    from instructrec_jax.instructions.generate import GenerateConfig, generate

    dataset = prepare_dataset(dataset_name)
    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    stats = generate(dataset, out_dir, GenerateConfig(workers=workers), progress=False)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before
    result = {
        "workers": workers,
        "records": stats["total"]["num_records"],
        "train_records": stats["splits"]["train"]["num_records"],
        "seconds": seconds,
        "cpu_seconds": cpu,
        "digest": _tree_digest(Path(out_dir)),
    }
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.child:
        child(args.dataset, int(args.workers), args.out)
        return
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        with tempfile.TemporaryDirectory() as out_dir:
            command = [
                sys.executable,
                __file__,
                "--child",
                f"--dataset={args.dataset}",
                f"--workers={workers}",
                f"--out={out_dir}",
            ]
            env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
            output = subprocess.run(
                command, check=True, capture_output=True, text=True, env=env
            ).stdout
            line = next(x for x in output.splitlines() if x.startswith("RESULT "))
            results.append(json.loads(line[len("RESULT ") :]))
    reference = results[0]
    print(f"dataset={args.dataset} cpus={os.cpu_count()} load_avg_1m={os.getloadavg()[0]:.1f}")
    for result in results:
        rate = result["records"] / result["seconds"]
        cpu_rate = result["records"] / result["cpu_seconds"]
        print(
            f"workers={result['workers']}: {result['records']} instructions "
            f"({result['train_records']} train) in {result['seconds']:.1f} s wall = "
            f"{rate:,.0f}/s; speed vs workers={reference['workers']}: "
            f"{reference['seconds'] / result['seconds']:.2f}x; wall time for "
            f"{PAPER_INSTRUCTIONS:,}: {PAPER_INSTRUCTIONS / rate:.1f} s; "
            f"{result['cpu_seconds']:.1f} CPU s = {cpu_rate:,.0f} per CPU-second "
            f"(2 idle cores: {PAPER_INSTRUCTIONS / (2 * cpu_rate):.1f} s for "
            f"{PAPER_INSTRUCTIONS:,}); output digest {result['digest']}"
        )
    identical = len({r["digest"] for r in results}) == 1
    print(f"byte-identical across worker counts: {identical}")


if __name__ == "__main__":
    main()
