"""What every arm shares: the processed dataset, its instructions, the vocabulary, the tasks.

Built once under ``<work_dir>/workspace`` with the library calls the demo uses (each caches
or resumes), so the arms train on the same instructions and are evaluated on the same
candidate sets.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from instructrec_jax.ablation.config import AblationConfig


@dataclasses.dataclass(frozen=True)
class Workspace:
    """Paths and facts every arm reads.

    Attributes:
      processed_dir: the processed dataset (``load_processed``).
      vocab_path: the SentencePiece model.
      model_vocab_size: the model's vocabulary size (padded).
      dataset_fingerprint: the processed dataset's fingerprint.
      mixture_sizes: registered mixture name -> number of member tasks.
    """

    processed_dir: Path
    vocab_path: str
    model_vocab_size: int
    dataset_fingerprint: str
    mixture_sizes: dict[str, int]


def build_workspace(config: AblationConfig) -> Workspace:
    """Prepare data, instructions and vocabulary (cached), register the SeqIO tasks."""
    import seqio

    from instructrec_jax.data import PrepareConfig, prepare_dataset
    from instructrec_jax.instructions.generate import GenerateConfig, generate
    from instructrec_jax.tasks.environment import install_dataset_tasks
    from instructrec_jax.tasks.vocab import model_vocab_size

    root = Path(config.work_dir).resolve() / "workspace"
    dataset = prepare_dataset(
        config.dataset,
        PrepareConfig(max_history=config.max_history, seed=config.data_seed),
        **config.dataset_kwargs,
    )
    processed_dir = root / "processed"
    dataset.save(processed_dir)
    instructions_dir = root / "instructions"
    generate(
        dataset, instructions_dir, GenerateConfig(seed=config.data_seed, workers=config.workers)
    )
    vocab_path, vocabulary, names = install_dataset_tasks(
        config.dataset,
        str(instructions_dir),
        vocab_size=config.vocab_size,
        cache_dir=str(root / "vocab_cache"),
        seed=config.data_seed,
        shuffle_buffer_size=config.shuffle_buffer_size,
    )
    sizes = {
        name: len(seqio.MixtureRegistry.get(name).tasks)
        for name in names
        if name in seqio.MixtureRegistry.names()
    }
    return Workspace(
        processed_dir, str(vocab_path), model_vocab_size(vocabulary), dataset.fingerprint, sizes
    )
