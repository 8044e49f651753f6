"""instructrec_jax.checkpoints."""
