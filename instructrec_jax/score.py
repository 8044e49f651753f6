"""Score (input, target) pairs with any checkpoint: T5X's ``score`` mode from the shell.

    python -m instructrec_jax.score --checkpoint=PATH --input=pairs.jsonl \\
        --output=scores.jsonl [--vocab=SPM_MODEL] [--gin_file=gin/models/flan_t5_small.gin] \\
        [--gin.VOCAB_SIZE=32128] [--batch_size=32] [--dtype=float32] [--num_partitions=N]
        [--compilation_cache_dir=DIR]

Each input line is a JSON object with either token ids (``encoder_input_tokens``,
``decoder_target_tokens``: lists without padding, EOS included) or text (``inputs``,
``targets``; tokenized with ``--vocab`` SentencePiece, EOS=1 appended). Each output line
repeats the input object and adds ``score``: the sum of target-token log-probabilities
(natural log), EOS included, padding excluded.

The model config: a ``--gin_file`` model if given; else the one the checkpoint brings, an HF
folder's ``config.json`` or the ``config.gin`` T5X (and ``python -m instructrec_jax.train``)
writes beside ``checkpoint_<step>``, or the ``train_config.json`` every trainer run writes
there (the demo's and the ablation arms' model directories); ``--gin.T5Config.<field>=...``
bindings apply on top. A checkpoint without any of them needs ``--gin_file`` or
``--gin.T5Config.*`` bindings.

Compute dtype: the one the model config names (config.json's ``torch_dtype``, config.gin's
``dtype``, the gin model's ``T5Config.dtype``) unless ``--dtype`` says otherwise. The
evaluate entry point (``evaluate.dtype``) and :func:`instructrec_jax.evaluation.job.
resolve_model_config` follow the same rule.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from instructrec_jax import compilation_cache
from instructrec_jax.atomic_files import check_writable, open_atomic
from instructrec_jax.checkpoints import load_params
from instructrec_jax.checkpoints.loader import checkpoint_model_config, missing_config_message
from instructrec_jax.cli_errors import UsageError, run_main
from instructrec_jax.gin_cli import (
    add_gin_flags,
    parse_gin_files,
    parse_with_gin_flags,
    search_folders,
)
from instructrec_jax.host_memory import reuse_freed_memory
from instructrec_jax.inference.buckets import (
    EOS_ID,
    pad_instruction_rows,
    pad_token_rows,
    round_up_to_bucket,
)
from instructrec_jax.json_text import parse_json_object
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.models.t5 import abstract_params
from instructrec_jax.partitioning import Partitioner, make_mesh

LENGTH_BUCKETS = tuple(8 << power for power in range(10))
"""Padded lengths: powers of two from 8 to 4096 (beyond: multiples of 4096)."""
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class ScoreExample:
    """One line of the input: its JSON object and token ids (no padding, EOS included)."""

    record: dict[str, Any]
    inputs: tuple[int, ...]
    targets: tuple[int, ...]


class ScoreInputError(ValueError):
    """A bad input line, named by file and line number."""


def _token_list(value: Any, field: str, where: str, vocab_size: int) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ScoreInputError(f"{where}: {field!r} must be a non-empty list of token ids")
    for token in value:
        if not isinstance(token, int) or isinstance(token, bool) or not 0 < token < vocab_size:
            raise ScoreInputError(
                f"{where}: {field!r} holds {token!r}; ids must be ints in [1, {vocab_size}) "
                "(0 is padding)"
            )
    return tuple(value)


def parse_line(
    line: str, where: str, vocab_size: int, tokenizer: Any | None = None
) -> ScoreExample:
    """Parse one JSON line (``where`` = "file:line" for messages) into a ScoreExample."""
    record = parse_json_object(line, where, ScoreInputError)
    if "encoder_input_tokens" in record or "decoder_target_tokens" in record:
        inputs = _token_list(
            record.get("encoder_input_tokens"), "encoder_input_tokens", where, vocab_size
        )
        targets = _token_list(
            record.get("decoder_target_tokens"), "decoder_target_tokens", where, vocab_size
        )
        return ScoreExample(record, inputs, targets)
    if "inputs" in record or "targets" in record:
        for field in ("inputs", "targets"):
            if not isinstance(record.get(field), str):
                raise ScoreInputError(f"{where}: {field!r} must be a string")
        if tokenizer is None:
            raise ScoreInputError(f"{where}: text lines need --vocab=<sentencepiece model>")
        inputs = (*tokenizer.encode(record["inputs"]), EOS_ID)
        target_pieces = tokenizer.encode(record["targets"])
        if not target_pieces:
            # EOS alone would be scored, higher than any real title: refuse it, as an empty
            # token list is refused.
            raise ScoreInputError(f"{where}: 'targets' is empty (no tokens to score)")
        targets = (*target_pieces, EOS_ID)
        where_ids = f"{where} (tokenized)"
        return ScoreExample(
            record,
            _token_list(list(inputs), "inputs", where_ids, vocab_size),
            _token_list(list(targets), "targets", where_ids, vocab_size),
        )
    raise ScoreInputError(
        f"{where}: needs 'encoder_input_tokens' + 'decoder_target_tokens' or 'inputs' + 'targets'"
    )


def read_examples(
    path: str | os.PathLike[str], vocab_size: int, vocab_path: str | None = None
) -> list[ScoreExample]:
    """All examples of a JSON-lines file (blank lines skipped)."""
    tokenizer = None
    if vocab_path is not None:
        import sentencepiece

        tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(vocab_path))
    examples = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                examples.append(parse_line(line, f"{path}:{number}", vocab_size, tokenizer))
    return examples


def bucket_length(length: int) -> int:
    """The padded length of ``length`` tokens (:data:`LENGTH_BUCKETS`), so few programs
    compile."""
    return round_up_to_bucket(length, LENGTH_BUCKETS, "length")


def score_examples(
    params: Any,
    config: T5Config,
    examples: Sequence[ScoreExample],
    batch_size: int = 32,
    partitioner: Partitioner | None = None,
) -> np.ndarray:
    """Scores [len(examples)] (nats) in input order: :meth:`EncoderDecoderModel.score_batch`.

    Examples are sorted by length and batched; every batch has ``batch_size`` rows and
    bucketed lengths, so the number of compiled programs stays small. Batches are split
    over the ``data`` axis of ``partitioner`` (default: one device; params already placed
    by it).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    partitioner = partitioner or Partitioner.single_device()
    if batch_size % partitioner.mesh.shape["data"]:
        raise ValueError(
            f"batch_size {batch_size} must be a multiple of the mesh's data axis "
            f"({partitioner.mesh.shape['data']})"
        )
    score_batch = partitioner.partition(EncoderDecoderModel(config).score_batch)
    order = sorted(
        range(len(examples)), key=lambda i: (len(examples[i].inputs), len(examples[i].targets))
    )
    scores = np.zeros(len(examples), np.float64)
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        batch = [examples[i] for i in chosen]
        encoder = pad_instruction_rows(
            [e.inputs for e in batch], bucket_length(max(len(e.inputs) for e in batch)), batch_size
        )
        targets = pad_token_rows(
            [e.targets for e in batch],
            bucket_length(max(len(e.targets) for e in batch)),
            batch_size,
        )
        features = {"encoder_input_tokens": encoder, "decoder_target_tokens": targets}
        batch_scores = np.asarray(
            score_batch(params, jax.device_put(features, partitioner.data_sharding()))
        )
        scores[chosen] = batch_scores[: len(batch)]
    return scores


def write_scores(
    path: str | os.PathLike[str], examples: Sequence[ScoreExample], scores: np.ndarray
) -> None:
    """One JSON line per example: its input fields plus ``score``; written atomically, so
    an interrupted run leaves any earlier output whole."""
    with open_atomic(path) as handle:
        for example, score in zip(examples, scores, strict=True):
            handle.write(json.dumps({**example.record, "score": float(score)}) + "\n")


def model_config_for(
    checkpoint: str,
    gin_files: Sequence[str] = (),
    gin_bindings: Sequence[str] = (),
    search_paths: str | Sequence[str] = (),
) -> T5Config:
    """The model config of ``checkpoint``.

    Given gin files, the gin model wins. Otherwise the config the checkpoint brings (an HF
    folder's config.json; the ``config.gin`` T5X or the trainer wrote in ``checkpoint_<step>``
    or its model directory; :func:`~instructrec_jax.checkpoints.loader.checkpoint_model_config`),
    with ``T5Config.<field>`` bindings applied on top (any other binding is an error:
    nothing would read it). A checkpoint that brings none needs gin files or bindings that
    bind ``T5Config``. Gin files are found as paths, in ``search_paths``, the cwd or the
    repository (:func:`instructrec_jax.gin_cli.search_folders`). Replaces any gin config
    parsed before.
    """
    brought = None if gin_files else checkpoint_model_config(checkpoint)
    if brought is None and not gin_files and not gin_bindings:
        raise UsageError(missing_config_message(checkpoint))
    if brought is not None:
        names = [binding.split("=", 1)[0].strip() for binding in gin_bindings]
        ignored = [
            name for name in names if not name.startswith("T5Config.") or name == "T5Config.preset"
        ]
        if ignored:
            raise UsageError(
                f"{checkpoint} brings its model config: only T5Config.<field> bindings apply "
                f"on top of it, not {ignored}"
            )
    from instructrec_jax.models.gin_configurables import bound_t5_fields, configured_t5_config

    parse_gin_files(gin_files, gin_bindings, [*search_folders(search_paths), str(REPO_ROOT)])
    if brought is not None:
        return brought.replace(**bound_t5_fields())
    return configured_t5_config()


def score_file(
    checkpoint: str,
    input_path: str,
    output_path: str,
    vocab_path: str | None = None,
    config: T5Config | None = None,
    batch_size: int = 32,
    num_partitions: int | None = None,
) -> np.ndarray:
    """Library form of the CLI: score every line of ``input_path`` into ``output_path``.

    ``num_partitions`` shards the model over a ('data', 'model') mesh of all devices
    (model axis of that size, T5X logical axis rules); None runs on one device.
    """
    if config is None:
        config = model_config_for(checkpoint)
    check_writable(output_path)
    examples = read_examples(input_path, config.vocab_size, vocab_path)
    host_params = load_params(checkpoint, config)
    if num_partitions is None:
        partitioner = Partitioner.single_device()
    else:
        partitioner = Partitioner(make_mesh(num_partitions))
    params = jax.device_put(host_params, partitioner.param_shardings(abstract_params(config)))
    del host_params
    scores = score_examples(params, config, examples, batch_size, partitioner)
    write_scores(output_path, examples, scores)
    return scores


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(flags, gin bindings from ``--gin.NAME=VALUE``)."""
    parser = argparse.ArgumentParser(prog="python -m instructrec_jax.score", description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--vocab", default=None, help="SentencePiece model for text lines")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument(
        "--dtype", default=None, help="compute dtype, e.g. float32 (default: the model config's)"
    )
    parser.add_argument(
        "--num_partitions", type=int, default=None, help="model-parallel size (default: 1 device)"
    )
    add_gin_flags(parser)
    compilation_cache.add_flag(parser)
    flags, bindings = parse_with_gin_flags(parser, argv)
    if flags.batch_size < 1:
        parser.error(f"--batch_size must be >= 1, got {flags.batch_size}")
    return flags, bindings


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, score the input file; returns the exit code (2 for usage errors, 1 for
    failures; :mod:`instructrec_jax.cli_errors`)."""
    reuse_freed_memory()  # first: before XLA starts its threads
    return run_main(_score_main, argv, "python -m instructrec_jax.score")


def _score_main(argv: list[str]) -> int:
    flags, bindings = parse_args(argv)
    try:
        check_writable(flags.output)
    except OSError as error:
        raise UsageError(f"--output: {error}") from error
    config = model_config_for(flags.checkpoint, flags.gin_file, bindings, flags.gin_search_paths)
    if flags.dtype is not None:
        config = config.replace(dtype=flags.dtype)
    print(compilation_cache.describe(compilation_cache.enable(flags.compilation_cache_dir)))
    scores = score_file(
        flags.checkpoint,
        flags.input,
        flags.output,
        flags.vocab,
        config,
        flags.batch_size,
        flags.num_partitions,
    )
    print(f"wrote {len(scores)} scores to {flags.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
