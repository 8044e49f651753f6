"""``python -m instructrec_jax.instructions <command>``: list-templates, generate."""

from __future__ import annotations

import sys

from instructrec_jax.cli_errors import USAGE_EXIT
from instructrec_jax.instructions.cli import generate_main, list_templates_main

COMMANDS = {"list-templates": list_templates_main, "generate": generate_main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        given = repr(sys.argv[1]) if len(sys.argv) > 1 else "none"
        print(
            f"python -m instructrec_jax.instructions: error: unknown command {given}; usage: "
            f"python -m instructrec_jax.instructions {{{','.join(COMMANDS)}}} ...",
            file=sys.stderr,
        )
        sys.exit(USAGE_EXIT)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
