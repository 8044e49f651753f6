"""instructrec_jax.evaluation."""
