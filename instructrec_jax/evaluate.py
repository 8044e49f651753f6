"""Evaluate a checkpoint offline, the way T5X users run eval jobs.

    python -m instructrec_jax.evaluate --gin_file=gin/runs/eval.gin \\
        --gin_file=gin/models/flan_t5_small.gin \\
        --gin.CHECKPOINT_PATH="'/tmp/run/checkpoint_1000'" --gin.DATASET="'ml-100k'" \\
        --gin.VOCABULARY="'/path/sentencepiece.model'" --gin.EVAL_OUTPUT_DIR="'/tmp/eval'"

The model config comes from a gin model file, or from an HF ``config.json``
(``--gin.evaluate.hf_config="'/path/config.json'"``), or from the checkpoint itself (an HF
folder's ``config.json``, the ``config.gin`` T5X and the trainer write beside
``checkpoint_<step>``, or the trainer's ``train_config.json`` there). The compute dtype is
the model config's unless ``--gin.evaluate.dtype="'float32'"`` says otherwise (the score
CLI's rule).
Writes ``metrics.json``, ``results.md``, ``chart.png`` and resumable ``shards/`` to
``EVAL_OUTPUT_DIR``. Several processes (``--coordinator_address=host:port
--num_processes=N --process_id=i``; TPU VM slices and SLURM jobs are detected) split the
users and process 0 writes the reports (:mod:`instructrec_jax.evaluation.hosts`).
Compiled programs are kept on disk for the next job
(``--compilation_cache_dir``, :mod:`instructrec_jax.compilation_cache`). A thin wrapper
around :func:`evaluate`, itself a wrapper around
:func:`instructrec_jax.evaluation.runner.run_evaluation`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gin
from instructrec_jax import compilation_cache
from instructrec_jax.chat_client import ChatConfig
from instructrec_jax.checkpoints import files
from instructrec_jax.cli_errors import UsageError, checked_settings, run_main
from instructrec_jax.evaluation import baselines as baseline_lib
from instructrec_jax.evaluation.hosts import Hosts
from instructrec_jax.evaluation.runner import EvaluationConfig, EvaluationResult, run_evaluation
from instructrec_jax.gin_cli import (
    REPO_GIN_DIR,
    add_gin_flags,
    parse_gin_files,
    parse_with_gin_flags,
    search_folders,
)
from instructrec_jax.host_memory import reuse_freed_memory
from instructrec_jax.inference.buckets import ScoringBuckets
from instructrec_jax.models.config import T5Config
from instructrec_jax.train import add_cluster_flags, cluster_config

if TYPE_CHECKING:
    from instructrec_jax.data.processed import ProcessedDataset
    from instructrec_jax.evaluation.instructrec_scorer import InstructRecScorer

REQUIRED_MACROS = ("CHECKPOINT_PATH", "DATASET", "VOCABULARY", "EVAL_OUTPUT_DIR")
BASELINE_CONFIGS = tuple(
    getattr(baseline_lib, f"{name}Config")
    for name in ("SASRec", "GRU4Rec", "BERT4Rec", "BPR", "TEM", "DSSM")
)

gin.external_configurable(EvaluationConfig, name="EvaluationConfig")
gin.external_configurable(ScoringBuckets, name="ScoringBuckets")
# The trained baselines' configs, for ``evaluate.baseline_configs`` (gin/runs/eval.gin).
for _config_class in BASELINE_CONFIGS:
    gin.external_configurable(_config_class, name=_config_class.__name__)
gin.external_configurable(ChatConfig, name="chat_ranker")


def evaluate_checkpoint(
    checkpoint_path: str,
    dataset: str,
    vocabulary: str,
    output_dir: str,
    model_config: T5Config | None = None,
    hf_config: str | None = None,
    dtype: str | None = None,
    baselines: Sequence[str] = ("random", "popularity", "sasrec"),
    hard_negative_retriever: str | None = "sasrec",
    evaluation: EvaluationConfig | None = None,
    buckets: ScoringBuckets | None = None,
    num_partitions: int | None = None,
    length_normalize: bool = False,
    max_input_tokens: int = 512,
    progress: bool = True,
    baselines_dir: str | None = None,
    baseline_configs: Mapping[str, baseline_lib.TrainingConfig] | None = None,
    zero_shot_checkpoints: Mapping[str, str] | None = None,
    chat_ranker: ChatConfig | None = None,
    generation_beam_size: int = 20,
    source_dataset: str | None = None,
) -> EvaluationResult:
    """Load everything, evaluate InstructRec and the baselines, write the reports.

    Args:
      checkpoint_path: HF folder, T5X legacy or Orbax ``checkpoint_<step>`` directory.
      dataset: processed-dataset directory or dataset name (``ml-100k``).
      vocabulary: SentencePiece model of the checkpoint.
      output_dir: where reports and resumable shards go.
      model_config: a ``T5Config`` (the gin-bound one, set by ``main``).
      hf_config: HF ``config.json`` to take the model config from instead.
      dtype: compute dtype; None (default) keeps the model config's, as the score CLI
        does (``float32`` scores exactly on CPU).
      baselines: registry names of the baselines to rank beside InstructRec
        (``random``, ``popularity``, ``sasrec``, ``bert4rec``, ``gru4rec``, ``bpr``,
        ``tem``, ``dssm``; TEM and DSSM read text through ``vocabulary``).
      hard_negative_retriever: name of the baseline proposing hard negatives (must
        implement ``top_items``: ``sasrec``, ``dssm`` or another trained baseline; it is
        built if not among ``baselines``).
      evaluation: scenarios, protocols, caps, seed.
      buckets: scoring shape buckets and batch size.
      num_partitions: model-axis size of the mesh on several devices.
      length_normalize: rank by mean instead of summed token log-likelihood.
      max_input_tokens: instruction budget in tokens (EOS included).
      progress: show a progress bar.
      baselines_dir: where trained baselines (SASRec, ...) are saved and reused; default
        ``output_dir`` (so evaluations sharing it train each baseline once).
      baseline_configs: baseline name -> config (``SASRecConfig``, ``BERT4RecConfig``,
        ``GRU4RecConfig``, ``BPRConfig``, ``TEMConfig``, ``DSSMConfig``; gin:
        ``{'bert4rec': @BERT4RecConfig()}``); others take their defaults.
      zero_shot_checkpoints: row name -> a checkpoint we did not fine-tune (HF folder, T5X
        or Orbax; e.g. the untuned Flan-T5), scored by the same scorer on the same
        candidates. Its model config is its folder's ``config.json`` if any, else the
        evaluated model's; its vocabulary its folder's ``spiece.model`` if any, else
        ``vocabulary``.
      chat_ranker: an OpenAI-compatible endpoint ranking the same instructions (the
        GPT-3.5 row; :mod:`instructrec_jax.evaluation.chat_ranker`), or None.
      generation_beam_size: beams of the ``full_catalog`` protocol (>= 20, its top cutoff).
      source_dataset: the dataset the checkpoint was trained on when it differs from
        ``dataset`` (cross-domain, :mod:`instructrec_jax.evaluation.cross_domain`): the
        row is named after it and the target titles' coverage by ``vocabulary`` (the
        source's) is recorded in ``metrics.json``.
    """
    from instructrec_jax.evaluation import job
    from instructrec_jax.evaluation.cross_domain import cross_domain_name, vocabulary_coverage

    evaluation = evaluation or EvaluationConfig()
    data = job.load_dataset(dataset)
    config = job.resolve_model_config(checkpoint_path, hf_config, model_config, dtype)
    # The concrete step directory, resolved once: it is loaded and names the shards, so
    # evaluating a MODEL_DIR while its trainer saves a newer step keys the scores right.
    step_dir = job.resolve_checkpoint_dir(checkpoint_path)
    name = cross_domain_name("InstructRec", source_dataset)
    render = (evaluation.seed, max_input_tokens, buckets, num_partitions, length_normalize)
    instructrec, vocab = _checkpoint_ranker(step_dir, config, vocabulary, data, render, name)
    zero_shot = []
    zero_shot_settings = {}
    for row_name, path in (zero_shot_checkpoints or {}).items():
        zero_dir = job.resolve_checkpoint_dir(path)
        folder = Path(path)
        zero_config = job.resolve_model_config(
            path,
            folder / "config.json" if (folder / "config.json").is_file() else None,
            config,
            dtype,
        )
        zero_vocab = folder / "spiece.model" if (folder / "spiece.model").is_file() else vocabulary
        ranker, _ = _checkpoint_ranker(zero_dir, zero_config, zero_vocab, data, render, row_name)
        zero_shot.append(ranker)
        zero_shot_settings[row_name] = {"checkpoint": zero_dir, "vocabulary": str(zero_vocab)}
    if chat_ranker is not None:
        from instructrec_jax.evaluation.chat_ranker import make_chat_ranker

        zero_shot.append(make_chat_ranker(chat_ranker, instructrec.renderer))
    baselines_dir = baselines_dir or output_dir
    configs = dict(baseline_configs or {})
    # Several processes: process 0 trains (and saves) the baselines first, the others then
    # reload them when they share its directory (or train the same ones, seeded, if not).
    with Hosts.current().writer_first("baselines built"):
        baseline_scorers = job.make_baselines(
            baselines, data, evaluation.seed, baselines_dir, configs, str(vocabulary)
        )
    retriever = None
    if "hard" in evaluation.protocols:
        if hard_negative_retriever is None:
            raise UsageError("protocol 'hard' needs evaluate.hard_negative_retriever")
        by_name = {scorer.name: scorer for scorer in baseline_scorers}
        retriever = by_name.get(hard_negative_retriever)
        if retriever is None:
            with Hosts.current().writer_first("retriever built"):
                retriever = job.make_baselines(
                    [hard_negative_retriever],
                    data,
                    evaluation.seed,
                    baselines_dir,
                    {k: v for k, v in configs.items() if k == hard_negative_retriever},
                    str(vocabulary),
                )[0]
    run_settings = {
        # Not MODEL_DIR: evaluating a run again after more training must not reuse the
        # shards scored with the older parameters. The fingerprints key by content: a
        # checkpoint or vocabulary replaced at the same path is scored anew.
        "checkpoint": step_dir,
        "checkpoint_fingerprint": files.metadata_fingerprint(step_dir),
        "model_config": dataclasses.asdict(config),
        "vocabulary": str(vocabulary),
        "vocabulary_digest": files.content_digest(str(vocabulary)),
        "length_normalize": length_normalize,
        "max_input_tokens": max_input_tokens,
        "baselines": list(baselines),
    }
    if zero_shot_settings:
        run_settings["zero_shot_checkpoints"] = zero_shot_settings
    if chat_ranker is not None:
        run_settings["chat_ranker"] = {"base_url": chat_ranker.base_url, "model": chat_ranker.model}
    if source_dataset is not None:
        run_settings["source_dataset"] = source_dataset
        run_settings["vocabulary_coverage"] = vocabulary_coverage(
            (item.title for item in data.catalog.values()), vocab
        )
    catalog_rankers = []
    if "full_catalog" in evaluation.protocols:
        catalog_rankers = _catalog_rankers(
            [instructrec, *zero_shot[: len(zero_shot_settings)]],
            baseline_scorers,
            data,
            evaluation.seed,
            baselines_dir,
            generation_beam_size,
        )
        run_settings["generation_beam_size"] = generation_beam_size
    return run_evaluation(
        data,
        output_dir,
        instructrec,
        baseline_scorers,
        evaluation,
        retriever,
        progress,
        run_settings,
        zero_shot=zero_shot,
        catalog_rankers=catalog_rankers,
    )


RenderChoices = tuple[int, int, "ScoringBuckets | None", "int | None", bool]


def _checkpoint_ranker(
    step_dir: str,
    config: T5Config,
    vocabulary: str | Path,
    data: ProcessedDataset,
    render: RenderChoices,
    name: str,
) -> tuple[InstructRecScorer, Any]:
    """An ``InstructRecScorer`` (named ``name``) over one checkpoint, and its vocabulary.

    ``render`` is (seed, max_input_tokens, buckets, num_partitions, length_normalize).
    """
    from instructrec_jax.evaluation import job
    from instructrec_jax.evaluation.instructrec_scorer import RenderSettings
    from instructrec_jax.tasks.vocab import SentencePieceCounter, get_vocabulary

    seed, max_input_tokens, buckets, num_partitions, length_normalize = render
    engine = job.load_engine(step_dir, config, buckets, num_partitions, length_normalize)
    vocab = get_vocabulary(str(vocabulary))
    settings = RenderSettings(
        seed=seed, max_input_tokens=max_input_tokens, counter=SentencePieceCounter(vocab)
    )
    scorer = job.make_instructrec_scorer(engine, vocab, data.catalog, settings=settings, name=name)
    return scorer, vocab


def _catalog_rankers(
    rankers: Sequence[InstructRecScorer],
    baseline_scorers: Sequence[Any],
    data: ProcessedDataset,
    seed: int,
    baselines_dir: str,
    beam_size: int,
) -> list[Any]:
    """``full_catalog`` rankers: each checkpoint generating, and SASRec's full ranking."""
    from instructrec_jax.evaluation import job
    from instructrec_jax.evaluation.full_catalog import (
        GenerativeCatalogRanker,
        SASRecCatalogRanker,
    )
    from instructrec_jax.inference.generation import ConstrainedGenerator

    out: list[Any] = []
    for ranker in rankers:
        engine = ranker.engine
        trie = job.make_title_trie(
            data.catalog, ranker.tokenizer, ranker.renderer.settings.max_target_tokens
        )
        generator = ConstrainedGenerator(
            engine.model, engine.params, trie, engine.buckets, engine.partitioner
        )
        out.append(
            GenerativeCatalogRanker(
                generator, ranker.tokenizer, ranker.renderer, beam_size, ranker.name
            )
        )
    sasrec = next((s for s in baseline_scorers if s.name == "sasrec"), None)
    if sasrec is None:
        with Hosts.current().writer_first("sasrec built"):
            sasrec = job.make_baselines(["sasrec"], data, seed, baselines_dir)[0]
    out.append(SASRecCatalogRanker(sasrec))
    return out


# The gin-configurable face of ``evaluate_checkpoint`` (bound by ``gin/runs/eval.gin``).
# Python callers such as the demo call ``evaluate_checkpoint`` itself, so bindings left in
# gin's global config by an earlier parse can never leak into their call.
evaluate = gin.configurable("evaluate", denylist=["model_config"])(evaluate_checkpoint)


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(flags, gin bindings from ``--gin.NAME=VALUE`` and ``--gin_bindings``)."""
    parser = argparse.ArgumentParser(prog="python -m instructrec_jax.evaluate", description=__doc__)
    add_gin_flags(parser)
    compilation_cache.add_flag(parser)
    add_cluster_flags(parser)
    return parse_with_gin_flags(parser, argv)


def parse_gin(files: Sequence[str], bindings: Sequence[str], search_paths: Sequence[str]) -> None:
    """Parse files then bindings; every required macro must end up with a value."""
    import instructrec_jax.models.gin_configurables  # noqa: F401  (registers T5Config)

    folders = [*search_folders(search_paths), str(REPO_GIN_DIR.parent)]
    parse_gin_files(files, bindings, folders, read_by_code=REQUIRED_MACROS)
    for name in REQUIRED_MACROS:
        try:
            value = gin.query_parameter(f"%{name}")
        except ValueError:
            value = None
        if value is None or value is gin.REQUIRED:
            raise UsageError(f"gin macro {name} is not set (e.g. --gin.{name}=\"'...'\")")


def gin_model_config() -> T5Config | None:
    """The gin-bound ``T5Config`` if a model gin file was given, else None."""
    from instructrec_jax.models.gin_configurables import configured_t5_config, t5_config_is_bound

    return configured_t5_config() if t5_config_is_bound() else None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags and gin, run :func:`evaluate`; returns the exit code (2 for usage errors,
    1 for failures; :mod:`instructrec_jax.cli_errors`)."""
    reuse_freed_memory()  # first: before TF and XLA start their threads
    return run_main(_evaluate_main, argv, "python -m instructrec_jax.evaluate")


def _evaluate_main(argv: list[str]) -> int:
    from instructrec_jax.training.distributed import initialize

    flags, bindings = parse_args(argv)
    parse_gin(flags.gin_file, bindings, flags.gin_search_paths.split(","))
    model_config = checked_settings(gin_model_config)
    # Several processes (flags, a TPU VM slice or SLURM): each scores its share of the users
    # and process 0 writes the reports (evaluation/hosts.py).
    distributed = checked_settings(lambda: cluster_config(flags))
    initialize(distributed)
    writer = Hosts.current().is_writer
    cache = compilation_cache.describe(compilation_cache.enable(flags.compilation_cache_dir))
    if writer:
        print(cache)
    result = evaluate(model_config=model_config)
    if writer:
        print(f"wrote {result.metrics_path}, {result.table_path}, {result.chart_path}")
        print(result.table_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
