"""instructrec_jax.inference."""
