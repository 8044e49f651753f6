"""``python -m instructrec_jax.instructions <command>``: list-templates, generate."""

from __future__ import annotations

import sys

from instructrec_jax.instructions.cli import generate_main, list_templates_main

COMMANDS = {"list-templates": list_templates_main, "generate": generate_main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m instructrec_jax.instructions {{{','.join(COMMANDS)}}} ...")
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
