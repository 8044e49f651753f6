"""TensorFlow is imported quietly and without accelerators."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from instructrec_jax import tf_setup


@pytest.mark.parametrize(
    "prelude",
    # The trainer's order: its modules (orbax, hence TF) are imported before TF is configured.
    ["", "import instructrec_jax.training\n"],
    ids=["tf-first", "after-the-trainer"],
)
def test_import_prints_nothing_and_hides_accelerators(prelude):
    code = (
        prelude + "from instructrec_jax.tf_setup import import_tensorflow\n"
        "tf = import_tensorflow()\n"
        "assert tf.config.get_visible_devices('GPU') == []\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "ok"
    assert result.stderr == ""


def test_filter_keeps_real_messages(capfd):
    with tf_setup.filtered_native_stderr(noise=("noise-line",)):
        os.write(2, b"noise-line from a C library\nreal problem\n")
    captured = capfd.readouterr()
    assert "real problem" in captured.err
    assert "noise-line" not in captured.err
