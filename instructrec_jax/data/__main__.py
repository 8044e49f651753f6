"""``python -m instructrec_jax.data``: see ``instructrec_jax.data.cli``."""

import sys

from instructrec_jax.data.cli import main

sys.exit(main())
