"""Start-up of a train job with and without the on-disk compilation cache, side by side.

    python bench/compile_cache.py [--preset=tiny] [--batch=4] [--inputs=128] [--targets=32]

Runs three fresh processes one after another; each builds our train state and jitted train
step (as ``bench/train_step.py`` does) and runs one step:

1. ``off``: the cache turned off (``--compilation_cache_dir=`` in the entry points);
2. ``cold``: an empty cache folder (compiles, then writes the executables);
3. ``warm``: the same folder again, as a job restarted after preemption would find it.

Each prints the seconds from the start of the build to the end of the first step, plus the
process's whole wall time; the last line gives the warm start against ``off``. The cache is
enabled through :func:`instructrec_jax.compilation_cache.enable`, as the entry points do.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _child(args: argparse.Namespace) -> None:
    """Build and run one step; print a JSON line with the seconds it took."""
    os.environ["JAX_PLATFORMS"] = "cpu"
    sys.path.insert(0, str(HERE))
    from instructrec_jax import compilation_cache

    directory = compilation_cache.enable(args.cache_dir)
    import train_step  # the benchmark's step builder, after the cache is configured

    from instructrec_jax.models.config import T5Config

    config = T5Config.preset(args.preset, dtype="float32", dropout_rate=0.0)
    batch = train_step.make_batch(config, args.batch, args.inputs, args.targets)
    start = time.perf_counter()
    step = train_step.JaxStep(config, batch)
    step.run(1)
    seconds = time.perf_counter() - start
    print(json.dumps({"cache": directory, "build_and_first_step_s": seconds}))


def _run(args: argparse.Namespace, cache_dir: str) -> tuple[float, float]:
    """(build + first step, whole process) seconds of one child process."""
    command = [
        sys.executable,
        __file__,
        "--child",
        f"--cache_dir={cache_dir}",
        f"--preset={args.preset}",
        f"--batch={args.batch}",
        f"--inputs={args.inputs}",
        f"--targets={args.targets}",
    ]
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"child failed:\n{completed.stderr[-4000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return result["build_and_first_step_s"], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--inputs", type=int, default=128)
    parser.add_argument("--targets", type=int, default=32)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache_dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    print(f"preset {args.preset}, batch {args.batch} x ({args.inputs} + {args.targets})")
    with tempfile.TemporaryDirectory() as folder:
        timings = {
            "off": _run(args, ""),
            "cold": _run(args, os.path.join(folder, "cache")),
            "warm": _run(args, os.path.join(folder, "cache")),
        }
    for name, (build, wall) in timings.items():
        print(f"{name:>5}: build + first step {build:6.1f} s; process {wall:6.1f} s")
    ratio = timings["off"][0] / timings["warm"][0]
    print(f"warm cache vs off: build + first step {ratio:.2f}x faster")


if __name__ == "__main__":
    main()
