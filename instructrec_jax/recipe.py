"""What the from-scratch jobs share: the demo (``demo.py``) and the ablation (``ablation/``).

Both start from a dataset name and nothing else: prepare the data, render the instructions
with the heuristic teacher, train a SentencePiece vocabulary and register the SeqIO tasks,
fine-tune a T5 preset from scratch, and evaluate. :class:`RecipeConfig` holds the settings
they share (their gin names stay ``demo.<field>`` and ``ablation.<field>``), and the three
functions below are their first stages, each caching or resuming as its library call does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instructrec_jax.data.processed import ProcessedDataset
    from instructrec_jax.models.config import T5Config
    from instructrec_jax.training import TrainConfig


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How a from-scratch job fine-tunes its model (an ablation arm may override each).

    Attributes:
      model_preset: a ``T5Config`` preset.
      train_steps: optimizer steps.
      batch_size: global batch (packed rows).
      learning_rate: peak learning rate. From scratch, 1e-2 with T5's rsqrt decay reached a
        training loss of 5.8 after 25 steps where T5X's fine-tuning default (1e-3,
        constant) was still at 8.3.
      learning_rate_schedule: ``rsqrt`` or ``constant`` (see ``training.optimizer``).
      warmup_steps: steps at the peak rate before the rsqrt decay starts.
      input_length, target_length: task feature lengths in tokens.
    """

    model_preset: str = "tiny"
    train_steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-2
    learning_rate_schedule: str = "rsqrt"
    warmup_steps: int = 100
    input_length: int = 256
    target_length: int = 32

    def model_config(self, vocab_size: int) -> T5Config:
        """The ``model_preset`` at the (padded) model vocabulary size, in float32."""
        from instructrec_jax.models.config import T5Config

        return T5Config.preset(self.model_preset, vocab_size=vocab_size, dtype="float32")

    def train_config(
        self, model_dir: Path, mixture: str, model: T5Config, seed: int, progress_bar: bool = True
    ) -> TrainConfig:
        """Training from scratch on ``mixture`` into ``model_dir``: these settings, 4
        checkpoints and 20 log lines over the run, no in-training evaluation."""
        from instructrec_jax.training import TrainConfig

        return TrainConfig(
            model_dir=str(model_dir),
            mixture_or_task_name=mixture,
            task_feature_lengths={"inputs": self.input_length, "targets": self.target_length},
            train_steps=self.train_steps,
            batch_size=self.batch_size,
            model=model,
            learning_rate=self.learning_rate,
            learning_rate_schedule=self.learning_rate_schedule,
            warmup_steps=self.warmup_steps,
            seed=seed,
            checkpoint_period=max(self.train_steps // 4, 1),
            log_period=max(self.train_steps // 20, 1),
            eval_period=0,
            validation_split=None,
            progress_bar=progress_bar,
        )


TRAINING_SETTINGS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainingSettings))


@dataclasses.dataclass(frozen=True)
class RecipeConfig(TrainingSettings):
    """Data, vocabulary and evaluation settings of a from-scratch job, and its training
    settings (:class:`TrainingSettings`); the defaults fit a 15-minute run on 2 CPU cores.

    Attributes:
      work_dir: everything the job writes.
      dataset: a dataset name ``instructrec_jax.data.prepare_dataset`` knows.
      dataset_kwargs: reader arguments (``path`` for recbole, ``num_users`` for synthetic).
      max_history: history items kept per example.
      vocab_size: SentencePiece pieces (before the 100 extra ids and padding to 128).
      title_pieces: each catalog title is one more piece of the vocabulary (a
        SentencePiece user-defined symbol), so a title is one token in every instruction
        and one (plus EOS) as a scored target: the from-scratch model learns items as
        units instead of spelling them from sub-words.
      vocab_model_type: SentencePiece ``unigram`` (T5's) or ``bpe``: on the generated
        instructions BPE keeps whole words where unigram splits them, so an ml-100k
        instruction is about 20% shorter and a packed step holds more examples.
      workers: processes rendering instructions (the output does not depend on it).
      shuffle_buffer_size: per-task shuffle buffer of the training input.
      scenarios: evaluation scenarios.
      protocols: protocols run on every scenario and ``max_test_examples`` users (the
        paper's: ``random`` = 1 positive + 9 random negatives).
      max_test_examples: cap on test users per scenario (None: all).
      max_valid_examples: validation users per scenario used to choose each template.
      mixtures: more training mixtures, name -> member tasks (``family/type`` keys or bare
        types), registered as ``instructrec_<dataset>_<name>`` beside the generated ones
        (``tasks.mixtures``), so ``mixture`` (or an arm) can name them.
    """

    work_dir: str = "output"
    dataset: str = "ml-100k"
    dataset_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    max_history: int = 20
    vocab_size: int = 4000
    title_pieces: bool = False
    vocab_model_type: str = "unigram"
    workers: int = 2
    shuffle_buffer_size: int = 2000
    scenarios: tuple[str, ...] = ("sequential", "personalized_search", "product_search")
    protocols: tuple[str, ...] = ("random",)
    max_test_examples: int | None = None
    max_valid_examples: int | None = 64
    mixtures: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)


def prepare_processed(config: RecipeConfig, root: Path, seed: int) -> tuple[ProcessedDataset, Path]:
    """Prepare ``config.dataset`` (splits seeded by ``seed``) and save it under
    ``root/processed``; returns the dataset and that folder."""
    from instructrec_jax.data import PrepareConfig, prepare_dataset

    dataset = prepare_dataset(
        config.dataset,
        PrepareConfig(max_history=config.max_history, seed=seed),
        **config.dataset_kwargs,
    )
    processed_dir = root / "processed"
    dataset.save(processed_dir)
    return dataset, processed_dir


def generate_instructions(
    config: RecipeConfig, dataset: ProcessedDataset, root: Path, seed: int
) -> tuple[Path, dict[str, Any]]:
    """Render the instruction data with the heuristic teacher under ``root/instructions``;
    returns that folder and the generation statistics."""
    from instructrec_jax.instructions.generate import GenerateConfig, generate

    instructions_dir = root / "instructions"
    stats = generate(dataset, instructions_dir, GenerateConfig(seed=seed, workers=config.workers))
    return instructions_dir, stats


def install_tasks(
    config: RecipeConfig, dataset: ProcessedDataset, root: Path, seed: int
) -> tuple[str, Any, list[str]]:
    """Train (or reuse, under ``root/vocab_cache``) the vocabulary of the instructions in
    ``root/instructions`` (with ``config.title_pieces``, the titles of ``dataset``'s catalog
    as whole pieces) and register the dataset's SeqIO tasks and mixtures on it.

    Returns:
      (the vocabulary's path, the ``seqio`` vocabulary, the registered names).
    """
    from instructrec_jax.tasks.environment import install_dataset_tasks

    titles = [item.title for item in dataset.catalog.values()] if config.title_pieces else []
    return install_dataset_tasks(
        config.dataset,
        str(root / "instructions"),
        vocab_size=config.vocab_size,
        cache_dir=str(root / "vocab_cache"),
        seed=seed,
        shuffle_buffer_size=config.shuffle_buffer_size,
        custom_mixtures=config.mixtures,
        whole_pieces=titles,
        vocab_model_type=config.vocab_model_type,
    )
