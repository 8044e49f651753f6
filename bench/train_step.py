"""Train-step throughput: our jitted JAX step vs HF transformers' PyTorch T5, side by side.

    python bench/train_step.py [--preset=tiny] [--batch=16] [--inputs=128] [--targets=32]
                               [--steps=10] [--repeats=3] [--heap=reuse|default]
                               [--platform=cpu|gpu] [--dtype=float32|bfloat16] [--remat=...]
                               [--vocab=N] [--compare=hf|none] [--target=1.5]

Same architecture (T5 v1.1 / Flan-T5 gated-GELU, untied head), same batch and lengths,
no dropout, parameters stored in float32 and compute in ``--dtype`` (default float32 on CPU,
bfloat16 on GPU; HF runs under ``torch.autocast`` for bfloat16); both optimizers are
Adafactor with factored second moments, update clipping 1.0, parameter scaling, constant
learning rate (ours: optax-based factored Adafactor; HF:
``transformers.optimization.Adafactor``). Timings alternate between the two
implementations (``--repeats`` rounds of ``--steps`` steps each, best round reported), so a
busy machine slows both alike. MFU = model FLOPs of the step (``training/flops.py``) per
second / measured FLOP/s of a large matmul of ``--dtype`` in this same process (JAX, one
device; the best of a measurement after every round). The last line turns ``--target`` x
HF's speed into the ms/step and the MFU it would take (above 100%: beyond the measured peak).
``--heap=reuse`` (default) keeps freed memory in glibc's heap as the trainer does
(``instructrec_jax/host_memory.py``); it is process-wide, so both implementations get it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import jax
import numpy as np

from instructrec_jax.host_memory import reuse_freed_memory
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.partitioning import Partitioner, make_mesh, standard_logical_axis_rules
from instructrec_jax.training.flops import measure_matmul_peak, train_step_flops
from instructrec_jax.training.optimizer import (
    AdafactorConfig,
    learning_rate_schedule,
)
from instructrec_jax.training.state import build_layout, init_state
from instructrec_jax.training.step import jit_train_step, make_train_step


def make_batch(config: T5Config, batch: int, inputs: int, targets: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    encoder = rng.integers(2, config.vocab_size, size=(batch, inputs)).astype(np.int32)
    target = rng.integers(2, config.vocab_size, size=(batch, targets)).astype(np.int32)
    decoder_inputs = np.concatenate([np.zeros((batch, 1), np.int32), target[:, :-1]], axis=1)
    return {
        "encoder_input_tokens": encoder,
        "decoder_input_tokens": decoder_inputs,
        "decoder_target_tokens": target,
        "decoder_loss_weights": np.ones_like(target),
    }


class JaxStep:
    """Our sharded train step on a one-device mesh."""

    def __init__(self, config: T5Config, batch: dict[str, np.ndarray]) -> None:
        mesh = make_mesh(devices=jax.devices()[:1])
        rules = standard_logical_axis_rules()
        layout = build_layout(
            config, Partitioner(mesh, rules), learning_rate_schedule(1e-3), AdafactorConfig()
        )
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
        pure = make_train_step(
            EncoderDecoderModel(config), layout, num_microbatches=1, dropout=False, seed=0
        )
        self._step = jit_train_step(pure, layout, sharding)
        self._state = init_state(layout, config, seed=0)
        self._batch = jax.device_put(batch, sharding)

    def run(self, steps: int) -> float:
        """Seconds for ``steps`` steps (blocking at the end)."""
        start = time.perf_counter()
        for _ in range(steps):
            self._state, metrics = self._step(self._state, self._batch)
        jax.block_until_ready(metrics["loss"])
        return time.perf_counter() - start


class TorchStep:
    """HF transformers' T5ForConditionalGeneration with transformers' Adafactor."""

    def __init__(self, config: T5Config, batch: dict[str, np.ndarray], device: str) -> None:
        import torch
        from hf_reference import untied_hf_t5
        from transformers.optimization import Adafactor

        self._device = torch.device(device)
        self._model = untied_hf_t5(config).to(self._device).train()
        hf_params = sum(p.numel() for p in self._model.parameters())
        print(
            f"HF: torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{hf_params:,} parameters (ours {config.num_params():,})"
        )
        # Parameters stay float32 (as ours); compute in bfloat16 when ours does.
        self._autocast = (
            torch.autocast(self._device.type, dtype=torch.bfloat16)
            if config.dtype == "bfloat16"
            else contextlib.nullcontext()
        )
        # CUDA runs asynchronously: a reading must wait for the device's queue.
        self._synchronize = torch.cuda.synchronize if self._device.type == "cuda" else None
        self._optimizer = Adafactor(
            self._model.parameters(),
            lr=1e-3,
            scale_parameter=True,
            relative_step=False,
            warmup_init=False,
            clip_threshold=1.0,
            decay_rate=-0.8,
            beta1=None,
            weight_decay=0.0,
        )
        arrays = {
            "input_ids": batch["encoder_input_tokens"],
            "attention_mask": batch["encoder_input_tokens"] > 0,
            "decoder_input_ids": batch["decoder_input_tokens"],
            "labels": batch["decoder_target_tokens"],
        }
        self._inputs = {
            name: torch.from_numpy(array.astype(np.int64)).to(self._device)
            for name, array in arrays.items()
        }

    def run(self, steps: int) -> float:
        """Seconds for ``steps`` steps (synchronizing the device at the end)."""
        start = time.perf_counter()
        for _ in range(steps):
            with self._autocast:
                loss = self._model(**self._inputs).loss
            loss.backward()
            self._optimizer.step()
            self._optimizer.zero_grad(set_to_none=True)
        if self._synchronize is not None:
            self._synchronize()
        return time.perf_counter() - start


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="tiny", help="T5Config preset (tiny, small, ...)")
    parser.add_argument("--layers", type=int, default=None, help="override enc = dec layers")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--inputs", type=int, default=128)
    parser.add_argument("--targets", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--heap",
        choices=("reuse", "default"),
        default="reuse",
        help="reuse: glibc keeps freed memory (host_memory.py, as the trainer does); "
        "applies to both implementations in this process",
    )
    parser.add_argument("--platform", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default=None,
        help="compute dtype of both (default: float32 on CPU, bfloat16 on GPU)",
    )
    parser.add_argument(
        "--target", type=float, default=1.5, help="speed-up over HF to translate into MFU"
    )
    parser.add_argument("--remat", default=None, help="override the preset's remat policy")
    parser.add_argument(
        "--vocab", type=int, default=None, help="override the vocabulary size (demo: 4000)"
    )
    parser.add_argument(
        "--compare",
        choices=("hf", "none"),
        default="hf",
        help="none: time ours alone (PyTorch is then never imported)",
    )
    return parser.parse_args()


def _config(args: argparse.Namespace, dtype: str) -> T5Config:
    """The preset with the command line's overrides, without dropout."""
    overrides = {"dtype": dtype, "dropout_rate": 0.0}
    if args.layers:
        overrides.update(num_encoder_layers=args.layers, num_decoder_layers=args.layers)
    if args.remat:
        overrides.update(remat_policy=args.remat)
    if args.vocab:
        overrides.update(vocab_size=args.vocab)
    return T5Config.preset(args.preset, **overrides)


def main() -> None:
    args = _parse_args()
    on_gpu = args.platform == "gpu"
    if on_gpu:
        # With HF on the same card, JAX takes part of it and PyTorch allocates the rest.
        fraction = "0.45" if args.compare == "hf" else "0.9"
        os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", fraction)
    platform = "cuda" if on_gpu else "cpu"
    os.environ["JAX_PLATFORMS"] = platform  # read by host_memory; the backend is not up yet
    jax.config.update("jax_platforms", platform)
    heap_reuse = args.heap == "reuse" and reuse_freed_memory()

    dtype = args.dtype or ("bfloat16" if on_gpu else "float32")
    config = _config(args, dtype)
    batch = make_batch(config, args.batch, args.inputs, args.targets)
    print(f"config: {config} ({config.num_params() / 1e6:.1f}M parameters)")
    print(
        f"batch {args.batch} x (inputs {args.inputs} + targets {args.targets}), {dtype}, "
        f"{jax.devices()[0].device_kind}"
    )
    print(f"jax {jax.__version__}; cpu_count {os.cpu_count()}")
    print(f"heap: {'freed memory reused' if heap_reuse else 'glibc defaults'} (process-wide)")

    timed: dict[str, JaxStep | TorchStep] = {"jax (ours)": _built("ours", JaxStep, config, batch)}
    if args.compare == "hf":
        timed["hf torch"] = _built("HF", TorchStep, config, batch, "cuda" if on_gpu else "cpu")
    times: dict[str, list[float]] = {name: [] for name in timed}
    peaks = []
    for round_index in range(args.repeats):
        for name, step in timed.items():
            times[name].append(step.run(args.steps) / args.steps)
        # Every round, so that a slow spell of a shared machine cannot lower the peak.
        peaks.append(measure_matmul_peak(size=8192 if on_gpu else 2048, dtype=dtype, repeats=3))
        rounds = ", ".join(f"{name} {values[-1] * 1e3:.1f}" for name, values in times.items())
        print(f"round {round_index + 1}/{args.repeats} (ms/step): {rounds}")
    peak = max(peaks)

    tokens = args.batch * (args.inputs + args.targets)
    flops = train_step_flops(config, args.batch, args.inputs, args.targets)
    print(f"measured {dtype} matmul peak: {peak / 1e9:.1f} GFLOP/s; step FLOPs {flops / 1e9:.2f} G")
    for name, values in times.items():
        best = min(values)
        print(
            f"{name:>11}: {best * 1e3:8.1f} ms/step  {tokens / best:10.0f} tokens/s  "
            f"MFU {flops / best / peak:6.1%}  (rounds ms: "
            f"{', '.join(f'{t * 1e3:.1f}' for t in values)})"
        )
    if "hf torch" in times:
        ratio = min(times["hf torch"]) / min(times["jax (ours)"])
        print(f"speed-up (ours / HF, tokens/s): {ratio:.2f}x")
        print(_target_line(args.target, min(times["hf torch"]), flops, peak))


def _target_line(target: float, hf_seconds: float, flops: float, peak: float) -> str:
    """What ``target`` x HF's speed means: ms/step and the MFU it takes at the measured peak."""
    seconds = hf_seconds / target
    needed = flops / seconds / peak
    verdict = "above the measured peak: unreachable" if needed > 1.0 else "within the peak"
    return (
        f"target {target:.2f}x HF: {seconds * 1e3:.1f} ms/step, "
        f"MFU {needed:.1%} of the measured peak ({verdict})"
    )


def _built(label: str, factory: type, *args: object) -> JaxStep | TorchStep:
    """``factory(*args)``, compiled and warmed up by two steps, with the time it took printed."""
    clock = time.perf_counter()
    step = factory(*args)
    step.run(2)
    print(f"{label}: built, compiled and warmed up in {time.perf_counter() - clock:.1f} s")
    return step


if __name__ == "__main__":
    main()
