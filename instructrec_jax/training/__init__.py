"""instructrec_jax.training."""
