"""Candidates scored per second: encode-once scoring vs per-pair full forward passes.

Three scorers, same model dimensions (Flan-T5-small by default, random weights, float32),
same token inputs, same machine, one run:

- ours: ``ScoringEngine`` (encode each instruction once, cross keys/values once, all its
  candidates decoded in one batched pass; bucketed shapes, host padding included);
- naive: our model run on every (instruction, candidate) pair (T5X rank classification);
- hf: HF transformers PyTorch ``T5ForConditionalGeneration`` run on every pair, batched
  ``--pair_batch`` pairs per forward pass (what peers' evaluation code does).

A per-pair scorer's cost does not depend on N (every pair is a full forward pass), so
naive and hf are timed on the first ``--pair_budget`` pairs of the same inputs and
reported as candidates per second. Compilation / warm-up calls are excluded; each timing
is the best of ``--repeats`` rounds that alternate the three scorers, so a shared
machine's load changes affect all of them alike.

    python bench/score.py                      # flan-t5-small dims, 10 and 100 candidates
    python bench/score.py --size=base --repeats=1
"""

from __future__ import annotations

import argparse
import functools
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.host_memory import reuse_freed_memory
from instructrec_jax.inference import buckets as buckets_lib
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.model import EncoderDecoderModel, score_candidates_by_pairs
from instructrec_jax.models.t5 import Transformer, init_params


def make_inputs(seed, num_instructions, num_candidates, input_length, title_lengths, vocab):
    """Instructions of exactly ``input_length`` tokens (EOS last), titles of varied length."""
    rng = np.random.default_rng(seed)
    instructions = [
        [*rng.integers(2, vocab, input_length - 1).tolist(), 1] for _ in range(num_instructions)
    ]
    low, high = title_lengths
    candidates = [
        [
            [*rng.integers(2, vocab, int(rng.integers(low, high + 1)) - 1).tolist(), 1]
            for _ in range(num_candidates)
        ]
        for _ in range(num_instructions)
    ]
    return instructions, candidates


def interleaved_best_times(runs, repeats):
    """Best wall time per named run; rounds alternate the runs so load drifts hit all."""
    for run in runs.values():
        run()  # warm-up (compilation)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def pairs_of(instructions, candidates, budget):
    pairs = [(i, c) for i, row in zip(instructions, candidates) for c in row]
    return pairs[:budget]


def ours_run(module, params, instructions, candidates, target_bucket):
    n = len(candidates[0])
    spec = buckets_lib.ScoringBuckets(
        input_lengths=(len(instructions[0]),),
        target_lengths=(target_bucket,),
        candidate_counts=(n,),
        batch_size=len(instructions),
    )
    engine = ScoringEngine(module, params, spec)
    return lambda: engine.score(instructions, candidates)


def naive_run(module, params, pairs, pair_batch, target_length):
    # Not through the partitioner on purpose: the baseline is plain jit of the naive path.
    score = jax.jit(
        functools.partial(score_candidates_by_pairs, EncoderDecoderModel(module.config))
    )

    def run():
        for start in range(0, len(pairs), pair_batch):
            chunk = pairs[start : start + pair_batch]
            encoder = buckets_lib.pad_token_rows([i for i, _ in chunk], len(chunk[0][0]))
            targets = buckets_lib.pad_token_rows([c for _, c in chunk], target_length)
            # One candidate per row: [P, 1, T] with the instruction repeated per pair.
            np.asarray(score(params, jnp.asarray(encoder), jnp.asarray(targets)[:, None]))

    return run


def hf_model(config):
    from hf_reference import untied_hf_t5

    return untied_hf_t5(config).eval()


def hf_run(model, pairs, pair_batch, target_length):
    import torch

    def run():
        with torch.no_grad():
            for start in range(0, len(pairs), pair_batch):
                chunk = pairs[start : start + pair_batch]
                encoder = torch.from_numpy(
                    buckets_lib.pad_token_rows([i for i, _ in chunk], len(chunk[0][0])).astype(
                        np.int64
                    )
                )
                labels = torch.from_numpy(
                    buckets_lib.pad_token_rows([c for _, c in chunk], target_length).astype(
                        np.int64
                    )
                )
                decoder_inputs = torch.cat([torch.zeros_like(labels[:, :1]), labels[:, :-1]], dim=1)
                logits = model(
                    input_ids=encoder,
                    attention_mask=(encoder > 0).long(),
                    decoder_input_ids=decoder_inputs,
                ).logits
                log_probs = torch.log_softmax(logits.float(), dim=-1)
                picked = log_probs.gather(-1, labels[..., None])[..., 0]
                (picked * (labels > 0)).sum(-1).numpy()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="small", choices=["small", "base"])
    parser.add_argument("--input_length", type=int, default=512)
    parser.add_argument("--title_min", type=int, default=8)
    parser.add_argument("--title_max", type=int, default=16)
    parser.add_argument("--candidates", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--instructions", type=int, default=2)
    parser.add_argument("--pair_batch", type=int, default=10)
    parser.add_argument("--pair_budget", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip_naive", action="store_true")
    args = parser.parse_args()
    # As the score CLI does; process-wide, so all three scorers get it
    # (INSTRUCTREC_HEAP_REUSE=0 to compare with glibc's defaults).
    print(f"heap reuse (all scorers): {reuse_freed_memory()}")

    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    config = T5Config.preset(args.size, dtype="float32")
    module = Transformer(config)
    params = init_params(config, jax.random.PRNGKey(0))
    model = hf_model(config)
    print(
        f"flan-t5-{args.size} dims, random weights, float32; {args.input_length}-token "
        f"instructions, titles {args.title_min}-{args.title_max} tokens; device "
        f"{jax.devices()[0].platform}, {os.cpu_count()} CPU cores visible"
    )
    for n in args.candidates:
        instructions, candidates = make_inputs(
            n,
            args.instructions,
            n,
            args.input_length,
            (args.title_min, args.title_max),
            config.vocab_size,
        )
        pairs = pairs_of(instructions, candidates, args.pair_budget)
        runs = {
            "ours": ours_run(module, params, instructions, candidates, args.title_max),
            "hf": hf_run(model, pairs, args.pair_batch, args.title_max),
        }
        if not args.skip_naive:
            runs["naive"] = naive_run(module, params, pairs, args.pair_batch, args.title_max)
        seconds = interleaved_best_times(runs, args.repeats)
        ours = len(instructions) * n / seconds["ours"]
        hf = len(pairs) / seconds["hf"]
        line = (
            f"N={n:4d}: ours {ours:8.1f} cand/s | hf per-pair {hf:7.1f} cand/s | "
            f"ours/hf {ours / hf:6.1f}x"
        )
        if not args.skip_naive:
            naive = len(pairs) / seconds["naive"]
            line += f" | naive {naive:7.1f} cand/s | ours/naive {ours / naive:6.1f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
