"""instructrec_jax.models."""
