"""Entry point of ``python -m instructrec_jax.tasks`` (see ``instructrec_jax.tasks.cli``)."""

from __future__ import annotations

import sys

from instructrec_jax.tasks.cli import main

if __name__ == "__main__":
    sys.exit(main())
