"""Compile time of the real train step, unrolled vs scanned layer stacks, side by side.

    python bench/compile_scan.py [--preset=small] [--layers=8,16] [--batch=8] [--inputs=512]
                                 [--targets=64] [--dtype=bfloat16] [--remat=<policy>]
                                 [--d_model=N --num_heads=N --d_ff=N] [--fsdp]
                                 [--topology=v4-8|v4:2x2x1]

For each depth in ``--layers`` (encoder and decoder both), builds the train state layout
(``training/state.build_layout``) and the train step (``training/step.make_train_step``)
exactly as the trainer does, then lowers and compiles it ahead of time from abstract
shapes (nothing is allocated or run), once with ``scan_layers=False`` and once with
``True``. Prints lower and compile seconds per variant and the unrolled / scanned ratio.

Default target: this host's CPU devices (always available). ``--topology`` compiles for a
Cloud TPU slice instead through ``jax.experimental.topologies`` (needs ``libtpu``
importable, ``pip install libtpu``; no TPU has to be present): an accelerator name from
:data:`TPU_TOPOLOGIES` or a raw ``<kind>:<AxBxC>`` topology name.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from instructrec_jax.models.config import REMAT_POLICIES, T5Config
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.partitioning import Partitioner, make_mesh, standard_logical_axis_rules
from instructrec_jax.training.optimizer import AdafactorConfig, learning_rate_schedule
from instructrec_jax.training.state import build_layout
from instructrec_jax.training.step import jit_train_step, make_train_step

# Cloud TPU accelerator types -> jax topology names (chips as X x Y x Z).
TPU_TOPOLOGIES = {
    "v4-8": "v4:2x2x1",
    "v4-16": "v4:2x2x2",
    "v4-32": "v4:2x2x4",
    "v5p-8": "v5p:2x2x1",
    "v5litepod-8": "v5e:2x4",
    "v6e-8": "v6e:2x4",
}


def topology_devices(name: str) -> list[jax.Device]:
    """The devices of a TPU topology (``v4-8`` or ``v4:2x2x1``), for compilation only."""
    try:
        import libtpu  # noqa: F401
    except ImportError as error:
        raise SystemExit(
            f"--topology={name} needs libtpu (pip install libtpu); without it, leave "
            "--topology out to compile for this host's CPU"
        ) from error
    from jax.experimental import topologies

    topology = TPU_TOPOLOGIES.get(name, name)
    if ":" not in topology:
        raise SystemExit(f"unknown --topology {name!r}: give one of {sorted(TPU_TOPOLOGIES)}")
    return list(topologies.get_topology_desc(topology, "tpu").devices)


def abstract_batch(
    batch: int, inputs: int, targets: int, sharding: NamedSharding
) -> dict[str, jax.ShapeDtypeStruct]:
    """Shapes of one training batch [batch, inputs] / [batch, targets] (int32)."""
    shapes = {
        "encoder_input_tokens": (batch, inputs),
        "decoder_input_tokens": (batch, targets),
        "decoder_target_tokens": (batch, targets),
        "decoder_loss_weights": (batch, targets),
    }
    return {
        name: jax.ShapeDtypeStruct(shape, jnp.int32, sharding=sharding)
        for name, shape in shapes.items()
    }


def compile_seconds(config: T5Config, mesh: Mesh, fsdp: bool, shape: Sequence[int]) -> tuple:
    """(lower seconds, compile seconds) of the train step for ``config`` on ``mesh``."""
    rules = standard_logical_axis_rules(fsdp)
    layout = build_layout(
        config, Partitioner(mesh, rules), learning_rate_schedule(1e-3), AdafactorConfig()
    )
    step = make_train_step(
        EncoderDecoderModel(config), layout, num_microbatches=1, dropout=False, seed=0
    )
    batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
    jitted = jit_train_step(step, layout, batch_sharding)
    batch = abstract_batch(*shape, batch_sharding)
    start = time.perf_counter()
    lowered = jitted.lower(layout.abstract_state, batch)
    lowered_at = time.perf_counter()
    lowered.compile()
    done = time.perf_counter()
    return lowered_at - start, done - lowered_at


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--layers", default="8,16", help="comma-separated depths")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--inputs", type=int, default=512)
    parser.add_argument("--targets", type=int, default=64)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--remat", default=None, choices=REMAT_POLICIES)
    parser.add_argument("--vocab", type=int, default=None)
    parser.add_argument("--d_model", type=int, default=None)
    parser.add_argument("--num_heads", type=int, default=None)
    parser.add_argument("--d_ff", type=int, default=None)
    parser.add_argument("--fsdp", action="store_true")
    parser.add_argument("--topology", default=None, help="TPU slice, e.g. v4-8 (needs libtpu)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    overrides = {
        name: value
        for name, value in (
            ("dtype", args.dtype),
            ("remat_policy", args.remat),
            ("vocab_size", args.vocab),
            ("d_model", args.d_model),
            ("num_heads", args.num_heads),
            ("d_ff", args.d_ff),
        )
        if value is not None
    }
    base = T5Config.preset(args.preset, **overrides)
    devices = topology_devices(args.topology) if args.topology else jax.devices()
    mesh = make_mesh(devices=devices)
    target = args.topology or f"{len(devices)} {devices[0].platform} device(s) of this host"
    print(
        f"train step of {args.preset} ({base.d_model} wide, remat {base.remat_policy}, "
        f"{base.dtype}), batch {args.batch} x ({args.inputs} + {args.targets}), for {target}"
    )
    shape = (args.batch, args.inputs, args.targets)
    for layers in (int(value) for value in args.layers.split(",")):
        seconds = {}
        for scan in (False, True):
            config = base.replace(
                num_encoder_layers=layers, num_decoder_layers=layers, scan_layers=scan
            )
            lower, compile_ = compile_seconds(config, mesh, args.fsdp, shape)
            seconds[scan] = lower + compile_
            name = "scanned " if scan else "unrolled"
            print(
                f"{layers:3d} layers {name}: lower {lower:6.1f} s  compile {compile_:6.1f} s  "
                f"total {lower + compile_:6.1f} s",
                flush=True,
            )
        print(f"{layers:3d} layers unrolled / scanned: {seconds[False] / seconds[True]:.2f}x")


if __name__ == "__main__":
    main()
