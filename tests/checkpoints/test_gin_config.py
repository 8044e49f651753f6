"""T5X checkpoints bring their model config: the ``config.gin`` T5X writes in MODEL_DIR."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from instructrec_jax.checkpoints.gin_config import GinConfigFileError, config_from_gin_file
from instructrec_jax.checkpoints.loader import checkpoint_model_config, load_params
from instructrec_jax.cli_errors import UsageError
from instructrec_jax.evaluation.job import resolve_model_config
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.losses import sequence_log_likelihood
from instructrec_jax.models.t5 import Transformer, init_params
from instructrec_jax.score import main as score_main
from tests.checkpoints.test_t5x_formats import CONFIG, write_t5x_legacy

# What T5X's train.py writes to MODEL_DIR/config.gin (gin.config_str() of a fine-tuning run
# with dynamic registration), for CONFIG's shape: imports, macros, references to
# configurables that are never imported here, multi-line containers, %gin.REQUIRED.
T5X_CONFIG_GIN = """\
from __gin__ import dynamic_registration
import __main__ as train_script
import seqio
from t5x import adafactor
from t5x import models
from t5x import partitioning
from t5x import utils
from t5x.examples.t5 import network

# Macros:
# ==============================================================================
ACTIVATION_DTYPE = 'float32'
BATCH_SIZE = 128
DROPOUT_RATE = 0.0
MIXTURE_OR_TASK_NAME = 'instructrec_ml100k_all'
MODEL = @models.EncoderDecoderModel()
MODEL_DIR = '/tmp/t5x_run'
OPTIMIZER = @adafactor.Adafactor()
TASK_FEATURE_LENGTHS = {'inputs': 512, 'targets': 64}
VOCABULARY = @seqio.SentencePieceVocabulary()
EMBED_DIM = 16

# Parameters for adafactor.Adafactor:
# ==============================================================================
adafactor.Adafactor.decay_rate = 0.8
adafactor.Adafactor.step_offset = 0

# Parameters for models.EncoderDecoderModel:
# ==============================================================================
models.EncoderDecoderModel.input_vocabulary = %VOCABULARY
models.EncoderDecoderModel.module = @network.Transformer()
models.EncoderDecoderModel.optimizer_def = %OPTIMIZER
models.EncoderDecoderModel.output_vocabulary = %VOCABULARY
models.EncoderDecoderModel.z_loss = 0.0001

# Parameters for partitioning.PjitPartitioner:
# ==============================================================================
partitioning.PjitPartitioner.logical_axis_rules = \\
    @partitioning.standard_logical_axis_rules()
partitioning.PjitPartitioner.num_partitions = 1

# Parameters for seqio.SentencePieceVocabulary:
# ==============================================================================
seqio.SentencePieceVocabulary.sentencepiece_model_file = \\
    'gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model'

# Parameters for network.T5Config:
# ==============================================================================
network.T5Config.dropout_rate = %DROPOUT_RATE
network.T5Config.dtype = %ACTIVATION_DTYPE
network.T5Config.emb_dim = %EMBED_DIM
network.T5Config.head_dim = 4
network.T5Config.logits_via_embedding = False
network.T5Config.mlp_activations = ('gelu', 'linear')
network.T5Config.mlp_dim = 24
network.T5Config.num_decoder_layers = 2
network.T5Config.num_encoder_layers = 1
network.T5Config.num_heads = 2
network.T5Config.vocab_size = 40

# Parameters for network.Transformer:
# ==============================================================================
network.Transformer.config = @network.T5Config()

# Parameters for train_script.train:
# ==============================================================================
train_script.train.checkpoint_cfg = @utils.CheckpointConfig()
train_script.train.eval_period = 1000
train_script.train.model_dir = %MODEL_DIR
train_script.train.total_steps = %gin.REQUIRED

# Parameters for utils.SaveCheckpointConfig:
# ==============================================================================
utils.SaveCheckpointConfig.dtype = 'float32'
utils.SaveCheckpointConfig.period = 1000
"""


def test_t5x_config_gin_maps_to_the_same_config(tmp_path):
    path = tmp_path / "config.gin"
    path.write_text(T5X_CONFIG_GIN)
    assert config_from_gin_file(str(path)) == CONFIG


def test_includes_are_followed_and_later_bindings_win(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "t5_1_1_tiny.gin").write_text(
        "ACTIVATION_DTYPE = 'bfloat16'\n"
        "network.T5Config:\n"
        "  vocab_size = 40\n  emb_dim = 16\n  num_heads = 2\n  head_dim = 4\n  mlp_dim = 24\n"
        "  num_encoder_layers = 1\n  num_decoder_layers = 2\n  dtype = %ACTIVATION_DTYPE\n"
        "  mlp_activations = ('gelu', 'linear')\n  dropout_rate = 0.0\n"
    )
    (tmp_path / "config.gin").write_text(
        "include 'base/t5_1_1_tiny.gin'\nACTIVATION_DTYPE = 'float32'\n"
    )
    assert config_from_gin_file(str(tmp_path / "config.gin")) == CONFIG


def test_the_trainers_own_config_gin_is_read_too(tmp_path):
    path = tmp_path / "config.gin"
    path.write_text(
        "VOCAB_SIZE = 100\nT5Config.preset = 'tiny'\nT5Config.vocab_size = %VOCAB_SIZE\n"
        "TrainConfig.model = @T5Config()\n"
    )
    assert config_from_gin_file(str(path)) == T5Config.preset("tiny", vocab_size=100)


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (("('gelu', 'linear')", "('relu',)"), r"mlp_activations is \('relu',\); only"),
        (("logits_via_embedding = False", "logits_via_embedding = True"), "logits_via_embedding"),
        (("network.T5Config.vocab_size = 40\n", ""), "vocab_size is not bound"),
        (("num_heads = 2", "num_heads = %HEADS"), "num_heads is %HEADS, which the file"),
        (("head_dim = 4", "head_dim = 4\nnetwork.T5Config.moe_experts = 8"), "moe_experts has no"),
        (("mlp_dim = 24", "mlp_dim = (24"), "not valid gin"),
    ],
)
def test_config_gin_that_this_model_cannot_represent_names_the_field(tmp_path, replace, message):
    path = tmp_path / "config.gin"
    path.write_text(T5X_CONFIG_GIN.replace(*replace))
    with pytest.raises(GinConfigFileError, match=message):
        config_from_gin_file(str(path))


def _reference_score(params: dict, inputs: list[int], targets: list[int]) -> float:
    target = np.array([targets], np.int32)
    logits = Transformer(CONFIG).apply(
        {"params": params},
        np.array([inputs], np.int32),
        np.pad(target[:, :-1], ((0, 0), (1, 0))),
    )
    return float(sequence_log_likelihood(logits, target)[0])


def test_score_cli_reads_a_t5x_checkpoint_with_no_gin_file(tmp_path, capsys):
    params = jax.tree_util.tree_map(np.asarray, init_params(CONFIG, jax.random.PRNGKey(5)))
    model_dir = tmp_path / "t5x_model"
    write_t5x_legacy(model_dir / "checkpoint_3", params)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"encoder_input_tokens": [5, 6, 1], "decoder_target_tokens": [7, 1]})
    )
    out = tmp_path / "scores.jsonl"
    argv = [f"--checkpoint={model_dir / 'checkpoint_3'}", f"--input={pairs}", f"--output={out}"]

    assert score_main(argv) == 2  # no config.gin yet: one line saying what to pass
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no config.gin in" in error and "--gin_file=" in error
    with pytest.raises(UsageError, match="without a model config"):
        resolve_model_config(model_dir)

    (model_dir / "config.gin").write_text(T5X_CONFIG_GIN)
    assert checkpoint_model_config(model_dir) == CONFIG
    assert resolve_model_config(model_dir / "checkpoint_3", dtype="bfloat16") == CONFIG.replace(
        dtype="bfloat16"
    )
    assert score_main(argv) == 0
    score = json.loads(out.read_text())["score"]
    assert score == pytest.approx(_reference_score(params, [5, 6, 1], [7, 1]), abs=1e-5)
    loaded = load_params(Path(model_dir))  # the library call needs no config either
    np.testing.assert_array_equal(
        loaded["decoder"]["logits_dense"]["kernel"], params["decoder"]["logits_dense"]["kernel"]
    )


def test_a_trainer_model_dir_without_gin_brings_its_train_config(tmp_path):
    import dataclasses

    params = jax.tree_util.tree_map(np.asarray, init_params(CONFIG, jax.random.PRNGKey(5)))
    model_dir = tmp_path / "arm"
    write_t5x_legacy(model_dir / "checkpoint_3", params)
    assert checkpoint_model_config(model_dir / "checkpoint_3") is None
    (model_dir / "train_config.json").write_text(
        json.dumps({"model": dataclasses.asdict(CONFIG), "train_steps": 3})
    )
    assert checkpoint_model_config(model_dir / "checkpoint_3") == CONFIG
    assert resolve_model_config(model_dir) == CONFIG
    (model_dir / "train_config.json").write_text(json.dumps({"train_steps": 3}))
    with pytest.raises(ValueError, match=r"train_config\.json: no readable model config"):
        checkpoint_model_config(model_dir)
