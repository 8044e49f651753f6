"""Compile a run's train step (or evaluation scoring step) for a TPU slice or GPU machine
you do not have, and say whether it fits: the MaxText ``train_compile.py`` of this project.

    python -m instructrec_jax.compile_check --topology=v4-8 \\
        --gin_file=runs/finetune.gin --gin_file=models/flan_t5_xl.gin \\
        --gin.BATCH_SIZE=32 --gin.FSDP=True [--find_max_batch] [--json]

Takes ``train``'s gin arguments (``--gin_file``, ``--gin.NAME=VALUE``, ``--gin_search_paths``;
``MODEL_DIR``, ``MIXTURE_OR_TASK_NAME`` and the task module are not needed), builds the run's
real mesh, logical axis rules, abstract sharded train state and step, and compiles them
ahead of time for ``--topology`` (:mod:`instructrec_jax.aot.topologies`: ``v4-8``, ``v5p-16``,
``v5litepod-16``, ``v6e-8``, ``h100x8``, ``h200x8``, ``cpu:8``; ``--num_slices`` slices or GPU
hosts) with no accelerator attached. Prints the bytes per device (parameters, optimizer
state, temporaries, total) against the device's memory, whether it fits, the compile time
and XLA's FLOP count of one device's program (XLA counts a loop body once, so with
``scan_layers`` it misses most of the layers' FLOPs; the train step's count from the model's
shapes is printed beside it). ``--find_max_batch`` also searches the largest global batch
that fits, and ``--compare_remat=full,minimal,...`` (or ``all``) compiles the same step once
per remat policy (:data:`instructrec_jax.models.REMAT_POLICIES`) and reports each one's
bytes per device.
``--mode=score`` compiles the evaluation scoring step instead (``--batch_size``
instructions of ``inputs`` tokens, ``--num_candidates`` candidates of ``targets`` tokens).

Exit status: 0 fits, 1 does not fit, 2 usage or configuration error (one line).
TPU and GPU targets need the compilers: ``pip install -e '.[aot]'`` (libtpu, CUDA plugin).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from instructrec_jax.aot import MODES
from instructrec_jax.cli_errors import UsageError, run_main
from instructrec_jax.gin_cli import add_gin_flags, parse_with_gin_flags

if TYPE_CHECKING:  # JAX is imported only after the backends are set up
    from instructrec_jax.aot.programs import Program
    from instructrec_jax.aot.report import CompileResult

GIB = 1 << 30
# The compile check needs no model directory and no task (so no task module, whose import
# may need generated data); these stand in for them. Bindings given later override them.
PLACEHOLDER_BINDINGS = (
    "MODEL_DIR = 'unused-by-compile_check'",
    "MIXTURE_OR_TASK_NAME = 'unused-by-compile_check'",
    "MIXTURE_OR_TASK_MODULE = None",
)
# What libtpu and the CUDA plugin print when they start on a host without their hardware.
BACKEND_NOISE = (
    "cudart_stub.cc",
    "Could not find cuda drivers",
    "All log messages before absl::InitializeLog()",
    "Logging before InitGoogle()",
    "TPU accelerator type",
    "host bounds for accelerator type",
    "TPU_WORKER_HOSTNAMES",
    "Source Location Trace",
    "libtpu_init_utils.cc",
)


PROG = "python -m instructrec_jax.compile_check"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(flags, gin bindings)."""
    parser = _Parser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    add_gin_flags(parser)
    parser.add_argument("--topology", required=True, help="v4-8, v5p-16, h100x8, cpu:8, ...")
    parser.add_argument("--num_slices", type=int, default=1, help="TPU slices or GPU hosts")
    parser.add_argument("--mode", choices=MODES, default="train")
    parser.add_argument("--batch_size", type=int, default=None, help="default: BATCH_SIZE")
    parser.add_argument("--num_candidates", type=int, default=20, help="--mode=score")
    parser.add_argument(
        "--device_memory_gib", type=float, default=None, help="override the device's memory"
    )
    parser.add_argument("--find_max_batch", action="store_true")
    parser.add_argument("--max_batch_limit", type=int, default=1 << 16)
    parser.add_argument(
        "--compare_remat",
        default=None,
        help="comma-separated remat policies (or 'all') to compile side by side",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--json_out", default=None, help="also write the JSON object here")
    return parse_with_gin_flags(parser, argv)


def _check_positive(flags: argparse.Namespace) -> None:
    for name in ("batch_size", "num_candidates", "device_memory_gib", "max_batch_limit"):
        value = getattr(flags, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name} must be positive, got {value}")


def remat_policies(value: str | None) -> tuple[str, ...]:
    """The policies ``--compare_remat`` names, checked against the model's list."""
    from instructrec_jax.models.config import REMAT_POLICIES

    if value is None:
        return ()
    names = (
        REMAT_POLICIES
        if value.strip() == "all"
        else tuple(name.strip() for name in value.split(",") if name.strip())
    )
    unknown = [name for name in names if name not in REMAT_POLICIES]
    if unknown or not names:
        raise UsageError(
            f"--compare_remat names unknown policies {unknown or [value]}; known: "
            f"{', '.join(REMAT_POLICIES)} or all"
        )
    return names


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / GIB:.2f} GiB"


def result_json(result: CompileResult) -> dict[str, Any]:
    """One compile as JSON (bytes per device)."""
    return {
        "batch_size": result.batch_size,
        "fits": result.fits,
        "bytes_per_device": result.memory.total,
        "memory": dataclasses.asdict(result.memory),
        "lower_seconds": round(result.lower_seconds, 3),
        "compile_seconds": round(result.compile_seconds, 3),
        "flops": result.flops,
        "compiler_error": result.compiler_error,
    }


def describe(summary: dict[str, Any]) -> str:
    """The human-readable report of :func:`run`'s summary."""
    memory = summary["memory"]
    verdict = "fits" if summary["fits"] else "DOES NOT FIT"
    flops = "n/a" if summary["flops"] is None else f"{summary['flops']:.4g}"
    lines = [
        f"target      {summary['target']}: {summary['description']}, "
        f"{summary['num_devices']} devices, mesh {summary['mesh']}",
        f"program     {summary['program']}, {summary['parameters'] / 1e9:.3f}B parameters, "
        f"global batch {summary['shape']}",
        f"per device  parameters {_gib(memory['parameters'])}, optimizer state "
        f"{_gib(memory['optimizer_state'])}, arguments {_gib(memory['arguments'])}, "
        f"temporaries {_gib(memory['temporaries'])}, outputs {_gib(memory['outputs'])} "
        f"(aliased {_gib(memory['aliased'])})",
        f"total       {_gib(summary['bytes_per_device'])} of {_gib(summary['device_memory_bytes'])}"
        f": {verdict}",
        f"compile     {summary['compile_seconds']:.1f} s (lowering {summary['lower_seconds']:.1f}"
        f" s); XLA FLOPs per device {flops}",
    ]
    if "model_flops_per_device" in summary:
        lines[-1] += f" (model count {summary['model_flops_per_device']:.4g})"
    if summary["compiler_error"]:
        lines.append(f"compiler    {summary['compiler_error']}")
    if "max_batch" in summary:
        probes = ", ".join(
            f"{probe['batch_size']}:{'fits' if probe['fits'] else 'no'}"
            for probe in summary["max_batch_search"]
        )
        lines.append(f"max batch   {summary['max_batch']} (compiled {probes})")
    for entry in summary.get("remat_comparison", ()):
        policy = f"remat       {entry['remat_policy']:<33}"
        outcome = "fits" if entry["fits"] else "does not fit"
        lines.append(
            f"{policy} total {_gib(entry['bytes_per_device'])}, temporaries "
            f"{_gib(entry['memory']['temporaries'])}: {outcome} ({entry['compile_seconds']:.1f} s)"
        )
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Check:
    """A validated check: the target, the run's config, its mesh on the target's devices."""

    target: Any
    config: Any
    mesh: Any
    device_memory_bytes: int
    granularity: int


def prepare(flags: argparse.Namespace, bindings: Sequence[str]) -> Check:
    """Target, gin config and mesh, checked before anything is compiled.

    Raises UsageError, gin_setup.GinConfigError, TargetError, MeshError or ValueError.
    """
    from instructrec_jax.aot import topologies
    from instructrec_jax.aot.programs import batch_granularity
    from instructrec_jax.tf_setup import import_tensorflow

    _check_positive(flags)
    remat_policies(flags.compare_remat)  # a bad name stops before anything compiles
    target = topologies.parse_target(flags.topology, flags.num_slices)
    topologies.prepare_backends(target)  # before anything starts a JAX backend
    import_tensorflow()  # as train does: the task module may use TF, never an accelerator
    from instructrec_jax.training import gin_setup
    from instructrec_jax.training.program import train_mesh

    gin_setup.parse(
        flags.gin_file, [*PLACEHOLDER_BINDINGS, *bindings], flags.gin_search_paths.split(",")
    )
    config = gin_setup.build_train_config()
    if flags.batch_size is not None:
        config = dataclasses.replace(config, batch_size=flags.batch_size)
    devices = topologies.target_devices(target)
    dcn = (target.num_slices, 1) if target.platform == "gpu" and target.num_slices > 1 else None
    mesh = train_mesh(config, devices, dcn)
    granularity = batch_granularity(flags.mode, config, mesh)
    if config.batch_size % granularity:
        raise UsageError(
            f"global batch {config.batch_size} is not a multiple of {granularity} (the mesh's "
            f"data axis {mesh.shape['data']} x microbatches for --mode=train)"
        )
    memory = target.device_memory_bytes
    if flags.device_memory_gib is not None:
        memory = int(flags.device_memory_gib * GIB)
    return Check(target, config, mesh, memory, granularity)


def _model_flops(config: Any) -> float:
    """The train step's matmul FLOPs counted from the model's shapes (training/flops.py)."""
    from instructrec_jax.training.flops import train_step_flops

    lengths = config.task_feature_lengths
    return train_step_flops(
        config.model, config.batch_size, int(lengths["inputs"]), int(lengths["targets"])
    )


def run(flags: argparse.Namespace, check: Check) -> dict[str, Any]:
    """Compile at the configured batch (and search the largest one with
    ``--find_max_batch``); the summary :func:`describe` prints."""
    from instructrec_jax.aot.max_batch import find_max_batch
    from instructrec_jax.aot.programs import build_program
    from instructrec_jax.aot.report import compile_program

    config, target = check.config, check.target
    results: dict[int, CompileResult] = {}
    programs: dict[int, Program] = {}

    def compile_at(batch_size: int) -> CompileResult:
        if batch_size not in results:
            programs[batch_size] = build_program(
                flags.mode, config, check.mesh, batch_size, flags.num_candidates
            )
            results[batch_size] = compile_program(
                programs[batch_size], batch_size, check.device_memory_bytes
            )
        return results[batch_size]

    result = compile_at(config.batch_size)
    program = programs[config.batch_size]
    summary = {
        "target": target.name,
        "platform": target.platform,
        "description": target.description,
        "num_slices": target.num_slices,
        "num_devices": int(check.mesh.devices.size),
        "mesh": dict(check.mesh.shape),
        "mode": flags.mode,
        "program": program.name,
        "parameters": config.model.num_params(),
        "global_batch_size": config.batch_size,
        "shape": program.shape,
        "device_memory_bytes": check.device_memory_bytes,
        "physical_memory_bytes": target.physical_memory_bytes,
        **result_json(result),
    }
    if flags.mode == "train":
        summary["model_flops_per_device"] = _model_flops(config) / summary["num_devices"]
    if flags.find_max_batch:
        best, probes = find_max_batch(
            compile_at, check.granularity, config.batch_size, flags.max_batch_limit
        )
        summary["max_batch"] = best
        summary["max_batch_search"] = [result_json(probe) for probe in probes]
    if flags.compare_remat:
        summary["remat_comparison"] = compare_remat(
            flags, check, remat_policies(flags.compare_remat)
        )
    return summary


def compare_remat(
    flags: argparse.Namespace, check: Check, policies: Sequence[str]
) -> list[dict[str, Any]]:
    """One compile per remat policy at the configured batch, everything else unchanged: a
    list of :func:`result_json` objects with ``remat_policy`` added, in ``policies`` order."""
    from instructrec_jax.aot.programs import build_program
    from instructrec_jax.aot.report import compile_program

    rows = []
    for policy in policies:
        model = dataclasses.replace(check.config.model, remat_policy=policy)
        config = dataclasses.replace(check.config, model=model)
        program = build_program(
            flags.mode, config, check.mesh, config.batch_size, flags.num_candidates
        )
        result = compile_program(program, config.batch_size, check.device_memory_bytes)
        rows.append({"remat_policy": policy, **result_json(result)})
    return rows


def _main(argv: list[str]) -> int:
    flags, bindings = parse_args(argv)
    from instructrec_jax.tf_setup import filtered_native_stderr

    with filtered_native_stderr(BACKEND_NOISE):  # JAX's import loads the backend plugins
        try:
            check = prepare(flags, bindings)
        except ValueError as error:
            # A target, mesh, gin binding or batch that names no valid check.
            raise UsageError(str(error).strip()) from error
    summary = run(flags, check)
    text = json.dumps(summary, sort_keys=True)
    if flags.json_out:
        from instructrec_jax.atomic_files import write_json_atomic

        write_json_atomic(flags.json_out, summary)
    print(text if flags.json else describe(summary))
    return 0 if summary["fits"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, compile, report; returns the exit status (0 fits, 1 does not, 2 usage, with
    one line on stderr)."""
    return run_main(_main, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
