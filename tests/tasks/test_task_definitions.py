"""The gin-importable definition module (instructrec_jax_tasks.ml100k) and the CLI."""

from __future__ import annotations

import importlib
import io
import re
import sys

import pytest
import seqio
from instructions_fixture import write_instructions_dir

import gin
from instructrec_jax.tasks import cli, environment
from instructrec_jax.tasks.manifest import ManifestError
from instructrec_jax.tasks.vocab import VocabularyError

LAYOUT = {
    ("recommendation", "p1_i0_t3"): {"train": 8, "valid": 2},
    ("personalized_search", "p1_i1_t3"): {"train": 2, "test": 2},
}
MODULE = "instructrec_jax_tasks.ml100k"


@pytest.fixture(scope="module")
def ml100k_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_instructions_dir(tmp_path_factory.mktemp("ml100k"), layout=LAYOUT)


def _import_definitions():
    if MODULE in sys.modules:
        return importlib.reload(sys.modules[MODULE])
    return importlib.import_module(MODULE)


def test_import_registers_and_reimport_replaces(monkeypatch, ml100k_dir, vocab_path):
    monkeypatch.setenv(environment.INSTRUCTIONS_DIR_ENV, ml100k_dir)
    monkeypatch.setenv(environment.VOCAB_ENV, vocab_path)
    module = _import_definitions()
    again = _import_definitions()  # safe to import twice
    assert module.REGISTERED_NAMES == again.REGISTERED_NAMES
    assert "instructrec_ml100k_seqrec_p1_i0_t3" in again.REGISTERED_NAMES
    assert "instructrec_ml100k_all_but_p1_i1_t3" in seqio.MixtureRegistry.names()
    task = seqio.get_mixture_or_task("instructrec_ml100k_seqrec_p1_i0_t3")
    assert task.output_features["inputs"].vocabulary.vocab_size > 100


def test_gin_chooses_the_mixture_rate(monkeypatch, ml100k_dir, vocab_path):
    monkeypatch.setenv(environment.INSTRUCTIONS_DIR_ENV, ml100k_dir)
    monkeypatch.setenv(environment.VOCAB_ENV, vocab_path)
    _import_definitions()
    mixture = seqio.get_mixture_or_task("instructrec_ml100k_all")
    task = seqio.get_mixture_or_task("instructrec_ml100k_seqrec_p1_i0_t3")
    assert mixture.get_rate(task) == 8.0
    try:
        gin.parse_config("instructrec_mixture_rate.kind = 'uniform'")
        assert mixture.get_rate(task) == 1.0
    finally:
        gin.clear_config()
    monkeypatch.setenv(environment.RATE_ENV, "uniform")
    assert mixture.get_rate(task) == 1.0


def test_vocabulary_defaults_to_the_directory(monkeypatch, ml100k_dir):
    monkeypatch.setenv(environment.INSTRUCTIONS_DIR_ENV, ml100k_dir)
    monkeypatch.delenv(environment.VOCAB_ENV, raising=False)
    expected = f"{ml100k_dir}/vocab/spm.model"
    with pytest.raises(VocabularyError, match=re.escape(expected) + ".*train_vocab"):
        _import_definitions()


def test_missing_directory_fails_at_import_with_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv(environment.INSTRUCTIONS_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(ManifestError, match=r"python -m instructrec_jax\.instructions\.generate"):
        _import_definitions()


def test_cli_lists_names_with_manifest_counts(ml100k_dir, vocab_path):
    out = io.StringIO()
    argv = [
        "list",
        "--dataset=ml-100k",
        f"--instructions_dir={ml100k_dir}",
        f"--vocab={vocab_path}",
    ]
    assert cli.main(argv, out=out) == 0
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()[1:]}
    assert re.search(r"task\s+train=8 validation=2$", lines["instructrec_ml100k_seqrec_p1_i0_t3"])
    assert re.search(r"task\s+train=2 test=2$", lines["instructrec_ml100k_psearch_p1_i1_t3"])
    assert lines["instructrec_ml100k_all"].endswith("train=10 (2 tasks)")
    assert lines["instructrec_ml100k_all_but_p1_i1_t3"].endswith("train=8 (1 tasks)")


def test_cli_reports_missing_input_with_status_1(tmp_path, capsys):
    argv = ["list", "--dataset=ml-100k", f"--instructions_dir={tmp_path}", "--vocab=x.model"]
    assert cli.main(argv) == 1
    assert "no generated instructions" in capsys.readouterr().err


def test_cli_train_vocab_installs_into_the_directory(tmp_path, vocab_cache_dir):
    directory = write_instructions_dir(tmp_path / "d", layout=LAYOUT, files_per_entry=1)
    out = io.StringIO()
    argv = ["train_vocab", "--dataset=ml-100k", f"--instructions_dir={directory}"]
    argv += ["--vocab_size=90", f"--cache_dir={vocab_cache_dir}"]
    assert cli.main(argv, out=out) == 0
    installed = out.getvalue().strip()
    assert installed == f"{directory}/vocab/spm.model"
    assert seqio.SentencePieceVocabulary(installed).vocab_size > 0
