"""Subprocess driver for the resume and multi-process tests (run as a script).

    python training_driver.py --model_dir=D --steps=N --out=params.npz [--block_at=S]
        [--devices=K] [--process_id=i --num_processes=n --port=p] [--no_shuffle]

Trains the tiny model on ``training_tiny_copy`` with dropout on; writes the final params
(flattened, '/'-joined paths) to ``--out`` as .npz and the train losses to ``--out``.json.
``--block_at=S``: the eval hook at step S waits until ``checkpoint_S`` is on disk, writes
``<model_dir>/blocked`` and sleeps (the test then kills the process with SIGKILL).
``--preempt_at=S``: the eval hook at step S sends this process SIGTERM, as a scheduler's
preemption notice would; the run then saves step S and the driver exits with status 143.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--block_at", type=int, default=0)
    parser.add_argument("--preempt_at", type=int, default=0)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--process_id", type=int, default=None)
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--no_shuffle", action="store_true")
    parser.add_argument("--checkpoint_period", type=int, default=2)
    parser.add_argument("--pack", action="store_true")
    parser.add_argument("--dropout_rate", type=float, default=0.1)
    args = parser.parse_args()

    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

    from instructrec_jax.training.distributed import DistributedConfig, initialize

    if args.num_processes:
        initialize(
            DistributedConfig(f"127.0.0.1:{args.port}", args.num_processes, args.process_id),
            platform="cpu",
        )

    import jax
    import numpy as np
    import training_tiny_task  # registers the task
    from jax.experimental import multihost_utils

    from instructrec_jax.training import (
        PREEMPTED_EXIT_CODE,
        PreemptedError,
        TrainConfig,
        train,
    )

    model = training_tiny_task.tiny_model_config(dropout_rate=args.dropout_rate)
    config = TrainConfig(
        model_dir=args.model_dir,
        mixture_or_task_name="training_tiny_copy",
        task_feature_lengths={"inputs": 12, "targets": 4},
        train_steps=args.steps,
        batch_size=8,
        model=model,
        learning_rate=1e-2,
        pack=args.pack,
        shuffle=not args.no_shuffle,
        seed=7,
        checkpoint_period=args.checkpoint_period,
        log_period=1,
        eval_period=args.block_at or args.preempt_at,
        validation_split=None,
        progress_bar=False,
        peak_flops_per_device=1e9,
    )

    def block(params: object, step: int) -> dict[str, float]:
        if step == args.block_at:
            target = os.path.join(args.model_dir, f"checkpoint_{step}")
            while not os.path.isfile(os.path.join(target, "commit_success.txt")):
                time.sleep(0.05)
            with open(os.path.join(args.model_dir, "blocked"), "w") as marker:
                marker.write(str(step))
            time.sleep(3600)
        return {}

    def preempt(params: object, step: int) -> dict[str, float]:
        if step == args.preempt_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return {}

    hook = block if args.block_at else preempt if args.preempt_at else None
    try:
        result = train(config, eval_fn=hook)
    except PreemptedError as preempted:
        print(preempted, file=sys.stderr)
        sys.exit(PREEMPTED_EXIT_CODE)
    gathered = multihost_utils.process_allgather(result.params, tiled=True)
    flat = {
        jax.tree_util.keystr(path): np.asarray(leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(gathered)
    }
    if jax.process_index() == 0:
        np.savez(args.out, **flat)
        losses = [r["loss"] for r in result.history if r["split"] == "train"]
        with open(args.out + ".json", "w") as stream:
            json.dump({"losses": losses, "resumed_from": result.resumed_from_step}, stream)


if __name__ == "__main__":
    main()
