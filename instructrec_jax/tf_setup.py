"""Import TensorFlow the way this project needs it: quiet, and never on an accelerator.

TensorFlow is only the input pipeline here (SeqIO, TFDS, TFRecord). Left alone it grabs
all GPU memory and TPU chips at import, which starves JAX, and prints logs from its C++
runtime before any Python setting can reach them (absl's "before InitializeLog" lines and
the CUDA stub's "Could not find cuda drivers"). Every module of the package that needs TF
gets it through ``import_tensorflow()``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

# Lines TF's native libraries print at import that carry no information for our users.
NATIVE_IMPORT_NOISE: tuple[str, ...] = (
    "All log messages before absl::InitializeLog() is called",
    "cudart_stub.cc",
    "Could not find cuda drivers",
    "oneDNN custom operations are on",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "TF-TRT Warning",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
)

# TF's CUDA platform, asked for its devices so that they can be hidden, reports a machine
# without a GPU (or a driver) as an error; JAX's own device discovery is not affected.
DEVICE_DISCOVERY_NOISE: tuple[str, ...] = ("failed call to cuInit",)

_configured = False


def quiet_tensorflow_environment() -> None:
    """Set the environment variables that silence TF's C++ logs (before TF's import)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@contextlib.contextmanager
def filtered_native_stderr(noise: tuple[str, ...] = NATIVE_IMPORT_NOISE) -> Iterator[None]:
    """Capture file descriptor 2 (native code's stderr) and replay it without ``noise``.

    Lines that match none of the ``noise`` substrings are written back to stderr when the
    block ends, so real errors are never swallowed.
    """
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not any(pattern in line for pattern in noise):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_tensorflow() -> ModuleType:
    """Return the ``tensorflow`` module with accelerators hidden from it.

    Safe to call many times; the import filtering and device configuration happen once per
    process.
    """
    global _configured
    if _configured:
        import tensorflow as tf

        return tf
    quiet_tensorflow_environment()
    if "tensorflow" in sys.modules:
        import tensorflow as tf
    else:
        with filtered_native_stderr():
            import tensorflow as tf
    _configured = True
    with filtered_native_stderr(DEVICE_DISCOVERY_NOISE):
        for kind in ("GPU", "TPU"):
            # RuntimeError: TF was initialized before us; ValueError: no such device type.
            with contextlib.suppress(RuntimeError, ValueError):
                tf.config.set_visible_devices([], kind)
    tf.get_logger().setLevel("ERROR")
    return tf
