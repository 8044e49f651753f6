"""Import TensorFlow the way this project needs it: quiet, and never on an accelerator.

TensorFlow is only the input pipeline here (SeqIO, TFDS, TFRecord). Left alone it grabs
all GPU memory and TPU chips at import, which starves JAX, and prints pages of logs. Every
module of the package that needs TF gets it through ``import_tensorflow()``.
"""

from __future__ import annotations

import contextlib
import os
from types import ModuleType

_configured = False


def quiet_tensorflow_environment() -> None:
    """Set the environment variables that silence TF's C++ logs (before TF's import)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def import_tensorflow() -> ModuleType:
    """Return the ``tensorflow`` module with accelerators hidden from it.

    Safe to call many times; the device configuration happens once per process.
    """
    global _configured
    quiet_tensorflow_environment()
    import tensorflow as tf

    if not _configured:
        _configured = True
        for kind in ("GPU", "TPU"):
            # RuntimeError: TF was initialized before us; ValueError: no such device type.
            with contextlib.suppress(RuntimeError, ValueError):
                tf.config.set_visible_devices([], kind)
        tf.get_logger().setLevel("ERROR")
    return tf
