"""instructrec_jax.tasks."""
