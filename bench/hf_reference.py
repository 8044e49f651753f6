"""The HF PyTorch reference model of the benchmarks: our config as transformers builds it.

Imported by ``bench/train_step.py`` and ``bench/score.py`` (run as scripts, so ``bench/`` is
on ``sys.path``).
"""

from __future__ import annotations

from typing import Any

from instructrec_jax.checkpoints.hf import hf_config_dict
from instructrec_jax.models.config import T5Config


def untied_hf_t5(config: T5Config, seed: int = 0) -> Any:
    """A random ``T5ForConditionalGeneration`` of ``config`` (float32, dropout off).

    Built from the config.json our exporter writes. transformers 5.x ties ``lm_head`` to the
    input embedding whatever ``tie_word_embeddings`` says, so the head gets its own copy of
    the weights: same parameters, same optimizer work as our untied Flan-T5 head.
    """
    import torch
    import transformers

    hf_config = transformers.T5Config(**{**hf_config_dict(config), "dropout_rate": 0.0})
    torch.manual_seed(seed)
    model = transformers.T5ForConditionalGeneration(hf_config)
    model.lm_head.weight = torch.nn.Parameter(model.shared.weight.detach().clone())
    if model.lm_head.weight.data_ptr() == model.shared.weight.data_ptr():
        raise AssertionError("the HF reference head is still tied to the embedding")
    return model
