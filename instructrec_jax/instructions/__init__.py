"""instructrec_jax.instructions."""
