"""Subprocess driver of the multi-process evaluation test (run as a script).

    python eval_driver.py --out=DIR [--devices=K] [--process_id=i --num_processes=n
        --port=p] <evaluate.py arguments>

Runs ``python -m instructrec_jax.evaluate`` with the given arguments in a process of
``--devices`` CPU devices, joined to the job through the CLI's own distributed flags;
``EVAL_OUTPUT_DIR`` is ``DIR/process_<i>`` (processes that share no filesystem).
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--out", required=True)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--process_id", type=int, default=0)
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--port", type=int, default=None)
    args, rest = parser.parse_known_args()
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from instructrec_jax import evaluate

    out = os.path.join(args.out, f"process_{args.process_id}")
    argv = list(rest)
    argv.append(f"--gin.EVAL_OUTPUT_DIR='{out}'")
    if args.num_processes:
        argv += [
            f"--coordinator_address=127.0.0.1:{args.port}",
            f"--num_processes={args.num_processes}",
            f"--process_id={args.process_id}",
        ]
    return evaluate.main(argv)


if __name__ == "__main__":
    sys.exit(main())
