"""Plain-Python builders for an evaluation job: dataset, model, InstructRec ranker, baselines.

``evaluate.py`` (gin, command line) and the demo both go through these, then call
:func:`instructrec_jax.evaluation.runner.run_evaluation`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from instructrec_jax.cli_errors import UsageError
from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import Item
from instructrec_jax.evaluation.instructrec_scorer import (
    InstructionRenderer,
    InstructRecScorer,
    RenderSettings,
    TextTokenizer,
    rank_templates,
)
from instructrec_jax.evaluation.scorer import CandidateScorer
from instructrec_jax.inference.buckets import EOS_ID, ScoringBuckets
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.inference.trie import TitleTrie
from instructrec_jax.instructions.teachers import HeuristicTeacher, Teacher
from instructrec_jax.instructions.templates import Template, load_templates
from instructrec_jax.models.config import T5Config


def load_dataset(name_or_dir: str | Path) -> ProcessedDataset:
    """A processed dataset from its directory, or prepared (and cached) by name."""
    from instructrec_jax.data import load_processed, prepare_dataset

    if Path(name_or_dir).is_dir():
        return load_processed(name_or_dir)
    return prepare_dataset(str(name_or_dir))


def resolve_model_config(
    checkpoint_path: str | Path,
    hf_config: str | Path | None = None,
    gin_config: T5Config | None = None,
    dtype: str | None = None,
) -> T5Config:
    """The model config: an HF ``config.json`` if given, else the gin-bound one, else the
    one the checkpoint brings (an HF folder's ``config.json``, or the ``config.gin`` T5X
    and the trainer write beside ``checkpoint_<step>``). ``dtype`` overrides the activation
    dtype; None keeps the config's (as the score CLI does). A checkpoint that brings no
    config and was given none is a :class:`~instructrec_jax.cli_errors.UsageError`."""
    from instructrec_jax.checkpoints.hf import config_from_hf
    from instructrec_jax.checkpoints.loader import checkpoint_model_config, missing_config_message

    if hf_config is not None:
        config = config_from_hf(hf_config)
    elif gin_config is not None:
        config = gin_config
    else:
        found = checkpoint_model_config(checkpoint_path)
        if found is None:
            raise UsageError(missing_config_message(checkpoint_path))
        config = found
    return config.replace(dtype=dtype) if dtype else config


def resolve_checkpoint_dir(checkpoint_path: str | Path) -> str:
    """The concrete checkpoint directory ``checkpoint_path`` names now.

    A MODEL_DIR resolves to its highest ``checkpoint_<step>``; any other checkpoint to
    itself. Resolve once and use the result for loading and for cache keys alike, so a
    newer step written meanwhile cannot be mistaken for the one that was scored.
    """
    from instructrec_jax.checkpoints.loader import step_directory

    return step_directory(checkpoint_path)[1]


def load_model_params(checkpoint_path: str | Path, config: T5Config, shardings: Any = None) -> Any:
    """Parameters of any checkpoint format ``checkpoints.load_params`` reads; with
    ``shardings`` as arrays so laid out, each process reading only its slices."""
    from instructrec_jax.checkpoints import load_params

    return load_params(str(checkpoint_path), config, shardings)


def scoring_mesh(num_partitions: int | None = None) -> Any:
    """The scoring engine's ('data', 'model') mesh over *this process's* devices, or None
    with one device. Each process of a multi-process evaluation scores its own users
    (:mod:`instructrec_jax.evaluation.hosts`), so no mesh spans processes."""
    import jax

    devices = jax.local_devices()
    if len(devices) == 1:
        return None
    from instructrec_jax.partitioning import make_mesh

    return make_mesh(num_partitions, devices=devices)


def load_engine(
    checkpoint_path: str | Path,
    config: T5Config,
    buckets: ScoringBuckets | None = None,
    num_partitions: int | None = None,
    length_normalize: bool = False,
) -> ScoringEngine:
    """:func:`make_engine` over a checkpoint, loaded straight into the engine's parameter
    shardings (each process reads only the slices its devices hold)."""
    shardings = None
    mesh = scoring_mesh(num_partitions)
    if mesh is not None:
        from instructrec_jax.models.t5 import abstract_params
        from instructrec_jax.partitioning import Partitioner

        shardings = Partitioner(mesh).param_shardings(abstract_params(config))
    params = load_model_params(checkpoint_path, config, shardings)
    return make_engine(config, params, buckets, num_partitions, length_normalize)


def make_engine(
    config: T5Config,
    params: Any,
    buckets: ScoringBuckets | None = None,
    num_partitions: int | None = None,
    length_normalize: bool = False,
) -> ScoringEngine:
    """A scoring engine; with several local devices, a ('data', 'model') mesh over them
    (:func:`scoring_mesh`) and sharded params.

    The batch size is rounded up to a multiple of the data-axis size.
    """
    import jax

    from instructrec_jax.models.model import EncoderDecoderModel
    from instructrec_jax.models.t5 import abstract_params
    from instructrec_jax.partitioning import Partitioner

    buckets = buckets or ScoringBuckets()
    model = EncoderDecoderModel(config)
    mesh = scoring_mesh(num_partitions)
    if mesh is None:
        # This process's own device: in a multi-process evaluation each scores its users.
        partitioner = Partitioner.single_device(jax.local_devices()[0])
    else:
        partitioner = Partitioner(mesh)
        data = mesh.shape["data"]
        batch = -(-buckets.batch_size // data) * data
        buckets = dataclasses.replace(buckets, batch_size=batch)
    shardings = partitioner.param_shardings(abstract_params(config))
    return ScoringEngine(model, params, buckets, partitioner, shardings, length_normalize)


def make_instructrec_scorer(
    engine: ScoringEngine,
    tokenizer: TextTokenizer,
    catalog: Mapping[str, Item],
    instruction_type: str = "p1_i0_t3",
    template_id: str | None = None,
    teacher: Teacher | None = None,
    templates: Mapping[str, Template] | None = None,
    settings: RenderSettings | None = None,
    name: str = "InstructRec",
) -> InstructRecScorer:
    """InstructRec bound to ``template_id`` (default: the first template of the type)."""
    templates = load_templates() if templates is None else templates
    if template_id is None:
        choices = rank_templates(templates, instruction_type)
        if not choices:
            raise ValueError(f"no plain T3 template renders {instruction_type!r}")
        template_id = choices[0]
    renderer = InstructionRenderer(
        catalog, teacher or HeuristicTeacher(), templates, settings or RenderSettings()
    )
    return InstructRecScorer(engine, tokenizer, renderer, instruction_type, template_id, name)


def make_baselines(
    names: Sequence[str],
    dataset: ProcessedDataset,
    seed: int,
    model_dir: str | Path | None,
    configs: Mapping[str, Any] | None = None,
    vocabulary: str | None = None,
) -> list[CandidateScorer]:
    """Baselines by registry name; the trained ones (SASRec, BERT4Rec, GRU4Rec, BPR, TEM,
    DSSM) are trained, or reloaded from ``model_dir/<name>``.

    Args:
      names: registry names.
      dataset: the processed dataset.
      seed: seeds every baseline.
      model_dir: where trained baselines are saved and reused (None: not saved).
      configs: baseline name -> its config (e.g. ``{"bert4rec": BERT4RecConfig(...)}``);
        the others take their defaults.
      vocabulary: SentencePiece model for the baselines that read text (TEM, DSSM).
    """
    from instructrec_jax.evaluation.baselines import make_baseline, trained_class

    configs = dict(configs or {})
    unknown = sorted(set(configs) - set(names))
    if unknown:
        raise ValueError(f"baseline configs for {unknown}, which are not among {list(names)}")
    scorers = []
    for name in names:
        kwargs: dict[str, Any] = {}
        scorer_class = trained_class(name)
        if name in configs:
            kwargs["config"] = configs[name]
        if scorer_class is not None and model_dir is not None:
            kwargs["model_dir"] = str(Path(model_dir) / name)
        if scorer_class is not None and "vocabulary" in scorer_class.fit_options:
            kwargs["vocabulary"] = vocabulary
        scorers.append(make_baseline(name, dataset, seed, **kwargs))
    return scorers


def make_title_trie(
    catalog: Mapping[str, Item], tokenizer: TextTokenizer, max_title_tokens: int = 64
) -> TitleTrie:
    """Trie of every catalog title's token ids (cut to ``max_title_tokens`` - 1, as scored)."""
    trie = TitleTrie(())
    for item_id, item in catalog.items():
        tokens = [t for t in tokenizer.encode(item.title) if t != EOS_ID][: max_title_tokens - 1]
        trie.add(item_id, tokens)
    return trie
