"""instructrec_jax.data."""
