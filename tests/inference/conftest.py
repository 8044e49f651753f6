"""A tiny float32 T5 shared by the inference tests (d_model 32, vocab 200).

Parameters are drawn with numpy from the model's abstract parameter shapes (tracing only,
no compiled initializer), which keeps the fixture cheap on a loaded machine. Jitted
reference functions are session fixtures so tests with equal shapes share compilations.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.models.config import T5Config
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.models.t5 import Transformer, abstract_params
from tests.t5_configs import tiny_t5_config

VOCAB = 200


def small_config(vocab_size: int = VOCAB) -> T5Config:
    """The float32 1+2 layer T5 of the inference and evaluation tests."""
    return tiny_t5_config(vocab_size=vocab_size, num_decoder_layers=2)


@pytest.fixture(scope="session")
def tiny_config() -> T5Config:
    return small_config()


def random_params(config: T5Config, seed: int):
    """Float32 parameters with the model's tree, drawn N(0, 1/fan_in) (scales ~1)."""
    shapes = nn.unbox(abstract_params(config))
    leaves, treedef = jax.tree_util.tree_flatten(shapes)
    rng = np.random.default_rng(seed)
    arrays = []
    for leaf in leaves:
        if len(leaf.shape) == 1:  # RMS-norm scales
            arrays.append(1.0 + 0.1 * rng.standard_normal(leaf.shape))
        else:
            arrays.append(rng.standard_normal(leaf.shape) / np.sqrt(leaf.shape[0]))
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a, jnp.float32) for a in arrays])


@pytest.fixture(scope="session")
def tiny_model(tiny_config):
    return Transformer(tiny_config), random_params(tiny_config, 0)


@pytest.fixture(scope="session")
def exact_scorer(tiny_model):
    """jitted score_candidates(params, instructions [B, L], candidates [B, N, T])."""
    module, _ = tiny_model
    return jax.jit(EncoderDecoderModel(module.config).score_candidates)


def random_tokens(rng: np.random.Generator, length: int) -> list[int]:
    """Token ids in [2, VOCAB) followed by EOS (1)."""
    return [int(t) for t in rng.integers(2, VOCAB, size=length)] + [1]


def ragged_batch(seed: int, rows: int, num_candidates: int, max_input: int, max_target: int):
    """Random instructions (1..max_input-1 tokens + EOS) and candidate lists."""
    rng = np.random.default_rng(seed)
    instructions = [random_tokens(rng, int(rng.integers(1, max_input))) for _ in range(rows)]
    candidates = [
        [random_tokens(rng, int(rng.integers(1, max_target))) for _ in range(num_candidates)]
        for _ in range(rows)
    ]
    return instructions, candidates
