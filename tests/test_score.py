"""The score CLI: token and text lines, HF and trainer checkpoints, T5X score semantics."""

from __future__ import annotations

import json
import re

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

import gin
from instructrec_jax.checkpoints import export_hf
from instructrec_jax.gin_cli import REPO_GIN_DIR
from instructrec_jax.models.losses import sequence_log_likelihood
from instructrec_jax.models.t5 import Transformer, init_params
from instructrec_jax.score import ScoreInputError, bucket_length, main, score_file
from tests.t5_configs import tiny_t5_config

CONFIG = tiny_t5_config(vocab_size=100, d_model=16, head_dim=8, d_ff=32)
# Unoptimized XLA code compiles several times faster for these tiny reference programs.
fast_apply = jax.jit(
    Transformer(CONFIG).apply, compiler_options={"xla_backend_optimization_level": 0}
)
# flan_t5_tiny.gin narrowed to CONFIG.
TINY_MODEL_BINDINGS = [
    "--gin.VOCAB_SIZE=100",
    "--gin.T5Config.d_model=16",
    "--gin.T5Config.num_heads=2",
    "--gin.T5Config.head_dim=8",
    "--gin.T5Config.d_ff=32",
    "--gin.T5Config.num_encoder_layers=1",
    "--gin.T5Config.num_decoder_layers=1",
    "--gin.T5Config.dtype='float32'",
]
PAIRS = [
    ([5, 6, 7, 1], [8, 9, 1]),
    ([11, 1], [12, 13, 14, 15, 16, 17, 18, 19, 20, 1]),
    ([3, 1], [1]),
]


@pytest.fixture(scope="module")
def params():
    return jax.tree_util.tree_map(np.asarray, init_params(CONFIG, jax.random.PRNGKey(0)))


@pytest.fixture(autouse=True)
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def reference_score(params, inputs: list[int], targets: list[int]) -> float:
    """Unpadded, unbatched teacher-forced log-likelihood."""
    encoder = np.array([inputs], np.int32)
    target = np.array([targets], np.int32)
    decoder_inputs = np.pad(target[:, :-1], ((0, 0), (1, 0)))
    logits = fast_apply({"params": params}, encoder, decoder_inputs)
    return float(sequence_log_likelihood(logits, target)[0])


def write_lines(path, records) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


def test_token_lines_with_hf_checkpoint(tmp_path, params):
    checkpoint = export_hf(params, CONFIG, tmp_path / "hf")
    records = [
        {"id": i, "encoder_input_tokens": inputs, "decoder_target_tokens": targets}
        for i, (inputs, targets) in enumerate(PAIRS)
    ]
    write_lines(tmp_path / "pairs.jsonl", records)
    out = tmp_path / "scores.jsonl"
    assert (
        main(
            [
                f"--checkpoint={checkpoint}",
                f"--input={tmp_path / 'pairs.jsonl'}",
                f"--output={out}",
                "--batch_size=2",
                "--dtype=float32",
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [0, 1, 2]
    for line, (inputs, targets) in zip(lines, PAIRS):
        assert line["encoder_input_tokens"] == inputs
        assert line["score"] == pytest.approx(reference_score(params, inputs, targets), abs=1e-4)
        assert line["score"] < 0


def test_partitioned_scoring_equals_single_device(tmp_path, params):
    checkpoint = export_hf(params, CONFIG, tmp_path / "hf")
    records = [
        {"encoder_input_tokens": inputs, "decoder_target_tokens": targets}
        for inputs, targets in PAIRS
    ]
    write_lines(tmp_path / "pairs.jsonl", records)

    def score_on_two_partitions(batch_size: int) -> np.ndarray:
        return score_file(
            str(checkpoint),
            str(tmp_path / "pairs.jsonl"),
            str(tmp_path / "out.jsonl"),
            config=CONFIG,
            batch_size=batch_size,
            num_partitions=2,
        )

    want = [reference_score(params, inputs, targets) for inputs, targets in PAIRS]
    np.testing.assert_allclose(score_on_two_partitions(4), want, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="multiple of the mesh's data axis"):
        score_on_two_partitions(3)


def test_text_lines_with_sentencepiece_and_trainer_checkpoint(tmp_path, params, capsys):
    import sentencepiece

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "\n".join(f"the user watched movie number {i} and liked it" for i in range(50))
    )
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(tmp_path / "spm"),
        vocab_size=36,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        minloglevel=2,
    )
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(tmp_path / "spm.model"))
    state = {"params": params, "opt_state": {"count": np.int32(1)}, "step": np.int32(1)}
    ocp.PyTreeCheckpointer().save(tmp_path / "model_dir" / "checkpoint_1" / "state", state)
    write_lines(tmp_path / "text.jsonl", [{"inputs": "the user watched", "targets": "movie 7"}])
    out = tmp_path / "scores.jsonl"
    argv = [
        f"--checkpoint={tmp_path / 'model_dir'}",
        f"--input={tmp_path / 'text.jsonl'}",
        f"--output={out}",
        f"--vocab={tmp_path / 'spm.model'}",
        "--gin_file=gin/models/flan_t5_tiny.gin",
        *TINY_MODEL_BINDINGS,
    ]
    assert main(argv) == 0
    line = json.loads(out.read_text())
    # An empty text target would score EOS alone, above every real title: refused, and
    # the earlier output stays whole.
    write_lines(tmp_path / "empty.jsonl", [{"inputs": "the user watched", "targets": " "}])
    flags = [f"--input={tmp_path / 'empty.jsonl'}" if f.startswith("--input=") else f for f in argv]
    assert main(flags) == 1
    assert "empty.jsonl:1: 'targets' is empty" in capsys.readouterr().err
    assert json.loads(out.read_text()) == line
    inputs = [*tokenizer.encode("the user watched"), 1]
    targets = [*tokenizer.encode("movie 7"), 1]
    assert line["inputs"] == "the user watched"
    assert line["score"] == pytest.approx(reference_score(params, inputs, targets), abs=1e-4)


def test_trainer_checkpoint_without_gin_is_an_error(tmp_path, params, capsys):
    state = {"params": params, "opt_state": {}, "step": np.int32(1)}
    ocp.PyTreeCheckpointer().save(tmp_path / "checkpoint_1" / "state", state)
    write_lines(
        tmp_path / "p.jsonl", [{"encoder_input_tokens": [3, 1], "decoder_target_tokens": [1]}]
    )
    argv = [
        f"--checkpoint={tmp_path}",
        f"--input={tmp_path / 'p.jsonl'}",
        f"--output={tmp_path / 'o.jsonl'}",
    ]
    assert main(argv) == 2
    assert "--gin_file" in capsys.readouterr().err


def _token_pairs_file(tmp_path):
    records = [
        {"encoder_input_tokens": inputs, "decoder_target_tokens": targets}
        for inputs, targets in PAIRS
    ]
    write_lines(tmp_path / "pairs.jsonl", records)
    return tmp_path / "pairs.jsonl"


def _scores(path) -> list[float]:
    return [json.loads(line)["score"] for line in path.read_text().splitlines()]


def test_hf_checkpoint_takes_t5config_bindings_on_top_of_its_config(tmp_path, params, capsys):
    checkpoint = export_hf(params, CONFIG, tmp_path / "hf")
    pairs = _token_pairs_file(tmp_path)
    out = tmp_path / "scores.jsonl"
    flags = [f"--checkpoint={checkpoint}", f"--input={pairs}", f"--output={out}"]
    assert main([*flags, "--gin.T5Config.dtype='float32'"]) == 0
    want = [reference_score(params, inputs, targets) for inputs, targets in PAIRS]
    np.testing.assert_allclose(_scores(out), want, atol=1e-4, rtol=0)
    assert main([*flags, "--gin.VOCAB_SIZE=100"]) == 2
    assert re.search(r"only T5Config.<field> bindings .* \['VOCAB_SIZE'\]", capsys.readouterr().err)


def test_gin_files_are_found_in_the_search_paths(tmp_path, params, capsys):
    state = {"params": params, "opt_state": {"count": np.int32(1)}, "step": np.int32(1)}
    ocp.PyTreeCheckpointer().save(tmp_path / "model_dir" / "checkpoint_1" / "state", state)
    folder = tmp_path / "my_gin"
    folder.mkdir()
    (folder / "my_tiny.gin").write_text((REPO_GIN_DIR / "models" / "flan_t5_tiny.gin").read_text())
    out = tmp_path / "scores.jsonl"
    flags = [
        f"--checkpoint={tmp_path / 'model_dir'}",
        f"--input={_token_pairs_file(tmp_path)}",
        f"--output={out}",
        *TINY_MODEL_BINDINGS,
    ]
    assert main([*flags, f"--gin_search_paths={folder}", "--gin_file=my_tiny.gin"]) == 0
    want = [reference_score(params, inputs, targets) for inputs, targets in PAIRS]
    np.testing.assert_allclose(_scores(out), want, atol=1e-4, rtol=0)
    gin.clear_config()
    assert main([*flags, "--gin_file=my_tiny.gin"]) == 2
    assert "gin file 'my_tiny.gin' not found" in capsys.readouterr().err


@pytest.mark.parametrize("batch_size", ["0", "-4"])
def test_a_batch_size_below_one_is_a_usage_error(tmp_path, params, batch_size):
    checkpoint = export_hf(params, CONFIG, tmp_path / "hf")
    out = tmp_path / "scores.jsonl"
    flags = [f"--checkpoint={checkpoint}", f"--input={_token_pairs_file(tmp_path)}"]
    with pytest.raises(SystemExit) as exit_info:
        main([*flags, f"--output={out}", f"--batch_size={batch_size}"])
    assert exit_info.value.code == 2
    assert not out.exists()


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ('{"encoder_input_tokens": [3, 0, 1], "decoder_target_tokens": [1]}', "0 is padding"),
        ('{"encoder_input_tokens": [3, 1], "decoder_target_tokens": [100]}', r"\[1, 100\)"),
        ('{"encoder_input_tokens": [3, 1]}', "decoder_target_tokens"),
        ('{"inputs": "a", "targets": "b"}', "--vocab"),
        ('{"something": 1}', "needs"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, params, line, message):
    checkpoint = export_hf(params, CONFIG, tmp_path / "hf")
    good = '{"encoder_input_tokens": [3, 1], "decoder_target_tokens": [1]}'
    (tmp_path / "bad.jsonl").write_text(f"{good}\n\n{line}\n")
    with pytest.raises(ScoreInputError, match=message) as error:
        score_file(str(checkpoint), str(tmp_path / "bad.jsonl"), str(tmp_path / "o.jsonl"))
    assert "bad.jsonl:3" in str(error.value)


def test_bucket_lengths_are_powers_of_two():
    assert [bucket_length(n) for n in (1, 8, 9, 16, 17, 100)] == [8, 8, 16, 16, 32, 128]


def test_an_unwritable_output_and_a_misspelled_macro_stop_before_scoring(tmp_path, params, capsys):
    checkpoint = export_hf(params, CONFIG, tmp_path / "hf")
    flags = [f"--checkpoint={checkpoint}", f"--input={_token_pairs_file(tmp_path)}"]
    (tmp_path / "a_file").write_text("")
    assert main([*flags, f"--output={tmp_path / 'a_file' / 'scores.jsonl'}"]) == 2
    assert "--output: cannot write" in capsys.readouterr().err
    assert main([*flags, f"--output={tmp_path}"]) == 2
    assert "is a folder" in capsys.readouterr().err
    out = tmp_path / "scores.jsonl"
    tiny = ["--gin_file=gin/models/flan_t5_tiny.gin", *TINY_MODEL_BINDINGS]
    assert main([*flags, f"--output={out}", *tiny, "--gin.VOCAB_SIZ=64"]) == 2
    assert "did you mean VOCAB_SIZE" in capsys.readouterr().err
    assert not out.exists()
