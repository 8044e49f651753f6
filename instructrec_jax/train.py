"""Fine-tune with gin, the way T5X users do.

    python -m instructrec_jax.train \\
        --gin_file=gin/runs/finetune.gin --gin_file=gin/models/flan_t5_small.gin \\
        --gin.MIXTURE_OR_TASK_NAME="'instructrec_ml100k_all'" --gin.MODEL_DIR="'/tmp/run'"

Several processes: ``--coordinator_address=host:port --num_processes=N --process_id=i``
(TPU VM slices and SLURM jobs are detected without flags). The resolved gin config is
written to ``MODEL_DIR/config.gin``. Compiled programs are kept on disk
(``--compilation_cache_dir``, :mod:`instructrec_jax.compilation_cache`), so a restarted run
skips XLA's compiles. On SIGTERM (preemption) the run saves its current step and exits with
status 143; rerunning the same command resumes there. Everything here is a thin wrapper around
:func:`instructrec_jax.training.train`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from instructrec_jax import compilation_cache
from instructrec_jax.cli_errors import UsageError, run_main
from instructrec_jax.gin_cli import add_gin_flags, parse_with_gin_flags
from instructrec_jax.host_memory import reuse_freed_memory
from instructrec_jax.training.distributed import DistributedConfig, initialize


def add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of a run spanning several processes (the trainer's and ``evaluate``'s):
    ``--coordinator_address``, ``--num_processes``, ``--process_id``."""
    parser.add_argument("--coordinator_address", default=None)
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--process_id", type=int, default=None)


def cluster_config(flags: argparse.Namespace) -> DistributedConfig:
    """The ``DistributedConfig`` of :func:`add_cluster_flags`' flags (raises ``ValueError``
    when they are given only in part)."""
    return DistributedConfig(flags.coordinator_address, flags.num_processes, flags.process_id)


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(flags, gin bindings from ``--gin.NAME=VALUE``)."""
    parser = argparse.ArgumentParser(
        prog="python -m instructrec_jax.train", description=__doc__, allow_abbrev=False
    )
    add_gin_flags(parser)
    compilation_cache.add_flag(parser)
    add_cluster_flags(parser)
    return parse_with_gin_flags(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, check, train; returns the process exit code (2 for usage errors, 1 for
    failures, 143 when preempted; :mod:`instructrec_jax.cli_errors`)."""
    reuse_freed_memory()  # first: before TF and XLA start their threads
    return run_main(_train_main, argv, "python -m instructrec_jax.train")


def _train_main(argv: list[str]) -> int:
    from instructrec_jax.tf_setup import import_tensorflow
    from instructrec_jax.training import gin_setup

    import_tensorflow()  # before any task module: TF must never claim GPU memory or TPUs
    flags, bindings = parse_args(argv)
    import jax

    try:  # gin and distributed setup failures: one line, exit status 2
        gin_setup.parse(
            flags.gin_file,
            bindings,
            flags.gin_search_paths.split(","),
        )
        config = gin_setup.build_train_config()
        initialize(cluster_config(flags))
    except ValueError as error:  # GinConfigError, TrainConfig's own checks
        raise UsageError(str(error)) from error
    cache_dir = compilation_cache.enable(flags.compilation_cache_dir)
    if jax.process_index() == 0:
        print(compilation_cache.describe(cache_dir))

    from instructrec_jax.training import PREEMPTED_EXIT_CODE, PreemptedError, train

    try:  # train() runs the preflight checks (SetupError: a UsageError, exit status 2)
        result = train(config, run_files={"config.gin": gin_setup.config_text()})
    except PreemptedError as preempted:
        print(str(preempted), file=sys.stderr)
        return PREEMPTED_EXIT_CODE
    print(f"trained to step {result.step}; final metrics: {result.final_metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
