"""What every arm shares: the processed dataset, its instructions, the vocabulary, the tasks.

Built once under ``<work_dir>/workspace`` with the library calls the demo uses (each caches
or resumes), so the arms train on the same instructions and are evaluated on the same
candidate sets.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from instructrec_jax.ablation.config import AblationConfig
from instructrec_jax.recipe import generate_instructions, install_tasks, prepare_processed


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

    from instructrec_jax.tasks.vocab import model_vocab_size

    root = Path(config.work_dir).resolve() / "workspace"
    dataset, processed_dir = prepare_processed(config, root, config.data_seed)
    generate_instructions(config, dataset, root, config.data_seed)
    vocab_path, vocabulary, names = install_tasks(config, dataset, root, config.data_seed)
    sizes = {
        name: len(seqio.MixtureRegistry.get(name).tasks)
        for name in names
        if name in seqio.MixtureRegistry.names()
    }
    return Workspace(
        processed_dir, str(vocab_path), model_vocab_size(vocabulary), dataset.fingerprint, sizes
    )
