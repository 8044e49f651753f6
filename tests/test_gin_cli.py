"""Shared gin command-line flags."""

from __future__ import annotations

import argparse

import pytest

from instructrec_jax import gin_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="x")
    gin_cli.add_gin_flags(parser)
    return parser


def test_gin_dot_flags_become_bindings_after_gin_bindings():
    flags, bindings = gin_cli.parse_with_gin_flags(
        _parser(),
        ["--gin_file=a.gin", "--gin_bindings=X = 1", "--gin.MODEL_DIR='/tmp/r'", "--gin_file=b"],
    )
    assert flags.gin_file == ["a.gin", "b"]
    assert bindings == ["X = 1", "MODEL_DIR = '/tmp/r'"]


@pytest.mark.parametrize("argument", ["--gin.MODEL_DIR", "--other=1"])
def test_anything_else_is_a_usage_error(argument, capsys):
    with pytest.raises(SystemExit):
        gin_cli.parse_with_gin_flags(_parser(), [argument])
    assert argument in capsys.readouterr().err


def test_an_unquoted_string_value_is_a_usage_error_that_shows_the_quoting(capsys):
    with pytest.raises(SystemExit):
        gin_cli.parse_with_gin_flags(_parser(), ["--gin.WORK_DIR=/tmp/demo"])
    error = capsys.readouterr().err
    assert "--gin.WORK_DIR=/tmp/demo: not a gin value" in error
    assert "--gin.WORK_DIR=\"'/tmp/demo'\"" in error


@pytest.mark.parametrize("value", ["'/tmp/r'", "8000", "%OTHER", "@demo_fn()", "[1, 2]", "None"])
def test_gin_values_of_every_kind_pass_the_syntax_check(value):
    assert gin_cli.binding_syntax_error(f"NAME = {value}") is None


def test_gin_files_resolve_in_search_folders_then_repo(tmp_path):
    (tmp_path / "mine.gin").write_text("X = 1\n")
    folders = gin_cli.search_folders(f"{tmp_path},")
    assert folders[0] == str(tmp_path)
    assert gin_cli.resolve_gin_file("mine.gin", folders) == str(tmp_path / "mine.gin")
    repo_file = gin_cli.resolve_gin_file("runs/finetune.gin", folders)
    assert repo_file.endswith("gin/runs/finetune.gin")
    with pytest.raises(gin_cli.GinFileNotFoundError, match=r"missing\.gin"):
        gin_cli.resolve_gin_file("missing.gin", folders)


def test_a_macro_nothing_reads_is_refused_with_the_closest_name(tmp_path):
    (tmp_path / "base.gin").write_text("STEPS = 10\nf.steps = %STEPS\nf.rate = %RATE\n")
    (tmp_path / "run.gin").write_text("include 'base.gin'\nRATE = 0.1\n")
    files, folders = [str(tmp_path / "run.gin")], [str(tmp_path)]
    # Macros read through an include, by the bindings themselves, or by the code pass.
    gin_cli.check_macros_used(["STEPS = 5", "RATE = 1.0"], files, folders)
    gin_cli.check_macros_used(["EXTRA = 1", "g.x = %EXTRA"], files, folders)
    gin_cli.check_macros_used(["MODULE = 'm'"], files, folders, read_by_code=["MODULE"])
    gin_cli.check_macros_used(["f.steps = 3"], files, folders)  # parameters: gin's job
    with pytest.raises(gin_cli.UnusedMacroError, match=r"--gin\.STEPZ: .*did you mean STEPS\?"):
        gin_cli.check_macros_used(["STEPZ = 5"], files, folders)
    with pytest.raises(gin_cli.UnusedMacroError, match=r"--gin\.QQ: [^?]*$"):
        gin_cli.check_macros_used(["QQ = 5"], files, folders)
