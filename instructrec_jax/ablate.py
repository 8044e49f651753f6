"""SeqIO mixture ablations as one job: every arm trained, evaluated on the same candidates,
reported with 95% intervals, paired tests and the paper's two figures.

    python -m instructrec_jax.ablate --gin_file=gin/runs/ablation.gin [--gin.NAME=VALUE ...]
    python -m instructrec_jax.ablate --gin_file=... --collect_only
    python -m instructrec_jax.ablate --gin_file=... --launch_tpu --tpu_name=irec \\
        --tpu_zone=us-central2-b --remote_root=gs://bucket/ablation [--dry-run]

A finished arm (same settings fingerprint) is never redone and a killed job resumes
(:mod:`instructrec_jax.ablation.arms`). ``--launch_tpu`` starts one ``tpu_scripts/launch.sh``
per arm instead (``--dry-run`` prints the gcloud commands); ``--collect_only`` reports arms
whose MODEL_DIRs (with ``eval/metrics.json``) were copied under ``<work_dir>/arms``.
Exit status: 0 done, 2 bad configuration, 143 preempted while training (rerun resumes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import gin
from instructrec_jax import compilation_cache
from instructrec_jax.ablation.config import AblationConfig
from instructrec_jax.gin_cli import (
    add_gin_flags,
    parse_with_gin_flags,
    resolve_gin_files,
    search_folders,
)
from instructrec_jax.host_memory import reuse_freed_memory

DEFAULT_GIN_FILE = "runs/ablation.gin"
GinAblationConfig = gin.external_configurable(AblationConfig, name="ablation")


def build_parser() -> argparse.ArgumentParser:
    """Gin flags, the compilation cache, and the collect / TPU launch modes."""
    parser = argparse.ArgumentParser(prog="python -m instructrec_jax.ablate", description=__doc__)
    add_gin_flags(parser)
    compilation_cache.add_flag(parser)
    parser.add_argument("--collect_only", action="store_true", help="report, train nothing")
    parser.add_argument("--launch_tpu", action="store_true", help="launch arms on a TPU VM")
    parser.add_argument("--tpu_name", default=None)
    parser.add_argument("--tpu_zone", default=None)
    parser.add_argument("--tpu_project", default=None)
    parser.add_argument("--remote_root", default=None, help="MODEL_DIR root of launched arms")
    parser.add_argument("--dry-run", dest="dry_run", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags and gin, then run, collect or launch the ablation."""
    reuse_freed_memory()  # first: before TF and XLA start their threads
    from instructrec_jax.tf_setup import import_tensorflow

    import_tensorflow()
    parser = build_parser()
    flags, bindings = parse_with_gin_flags(parser, sys.argv[1:] if argv is None else argv)
    if flags.launch_tpu and not (flags.tpu_name and flags.tpu_zone and flags.remote_root):
        parser.error("--launch_tpu needs --tpu_name, --tpu_zone and --remote_root")
    try:
        files = resolve_gin_files(
            flags.gin_file or [DEFAULT_GIN_FILE], search_folders(flags.gin_search_paths)
        )
        gin.parse_config_files_and_bindings(files, bindings, finalize_config=False)
        config = GinAblationConfig()
    except (SyntaxError, ValueError, OSError) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    if flags.launch_tpu:
        from instructrec_jax.ablation.launch import launch_commands, run_launches

        commands = launch_commands(
            config,
            flags.remote_root,
            flags.tpu_name,
            flags.tpu_zone,
            flags.tpu_project,
            flags.dry_run,
        )
        return run_launches(commands)
    print(compilation_cache.describe(compilation_cache.enable(flags.compilation_cache_dir)))
    from instructrec_jax.ablation.runner import run_ablation
    from instructrec_jax.training import PREEMPTED_EXIT_CODE, PreemptedError

    try:
        run_ablation(config, collect_only=flags.collect_only)
    except PreemptedError as preempted:
        print(str(preempted), file=sys.stderr)
        return PREEMPTED_EXIT_CODE
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
