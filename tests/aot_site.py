"""Install the ``.[aot]`` compilers for the test suite only: ``python tests/aot_site.py DIR``.

The compile-check tests compile for TPU slices and GPU machines with no accelerator present,
which needs libtpu and the CUDA PJRT plugin (the ``aot`` extra, about 400 MB). ``make test``
installs them into ``DIR`` (``.venv/aot-site``) with no dependencies, at the versions the
installed jax asks for, and the tests put ``DIR`` on their subprocesses' ``PYTHONPATH``
(``$INSTRUCTREC_AOT_SITE``). The virtual environment that ``make demo`` and users run stays
CPU-only, so no TPU/GPU backend start-up noise reaches them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

# The packages of jax's ``tpu`` and ``cuda12-local`` extras that jax itself does not pull.
COMPILER_PACKAGES = ("libtpu", "jax-cuda12-plugin", "jax-cuda12-pjrt")


def compiler_pins(jax_version: str) -> list[str]:
    """``name==version`` of each compiler package jax ``jax_version``'s extras resolve to."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--report",
                str(report),
                f"jax[tpu,cuda12-local]=={jax_version}",
            ],
            check=True,
        )
        resolved = json.loads(report.read_text())["install"]
    pins = [
        f"{entry['metadata']['name']}=={entry['metadata']['version']}"
        for entry in resolved
        if entry["metadata"]["name"].lower().replace("_", "-") in COMPILER_PACKAGES
    ]
    if len(pins) != len(COMPILER_PACKAGES):
        raise SystemExit(f"aot_site: jax {jax_version}'s extras resolved to {pins}")
    return pins


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python tests/aot_site.py DIR")
    pins = compiler_pins(version("jax"))
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade"]
    subprocess.run([*install, "--target", sys.argv[1], *pins], check=True)
    print(f"aot_site: {', '.join(pins)} in {sys.argv[1]}")


if __name__ == "__main__":
    main()
