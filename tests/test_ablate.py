"""The ablate entry point's command line."""

from __future__ import annotations

from instructrec_jax import ablate


def test_cli_bad_gin_is_one_error_line(capsys):
    assert ablate.main(["--gin_file=runs/ablation.gin", "--gin.ablation.reference='x'"]) == 2
    assert "reference 'x' is not an arm" in capsys.readouterr().err
