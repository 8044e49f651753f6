"""SeqIO tasks and mixtures over the generated instructions, and their vocabulary.

Modules (import the one you need; this package imports nothing heavy by itself):

- ``vocab``: ``train_vocabulary``, ``vocabulary_for_dataset`` (cached per key and size),
  ``get_vocabulary`` (checks the file first), ``SentencePieceCounter``,
  ``padded_vocab_size`` / ``model_vocab_size`` (multiple of 128).
- ``manifest``: ``load_manifest(dir, dataset)`` -> ``InstructionsManifest``.
- ``registry``: ``register_dataset_tasks(dataset, instructions_dir, vocabulary, ...)``,
  ``reset_registry(prefix)``.
- ``environment``: where definition modules look (env vars, ``DIR/vocab/spm.model``),
  ``register_from_environment``, ``install_dataset_vocabulary``.
- ``naming``, ``mixtures``, ``sources``, ``preprocessors``: the pieces.
- ``cli`` (``python -m instructrec_jax.tasks list|train_vocab``).

Typical use::

    import seqio
    from instructrec_jax.tasks.registry import register_dataset_tasks
    register_dataset_tasks("ml-100k", "/data/instructions/ml-100k", "/data/spm.model")
    task = seqio.get_mixture_or_task("instructrec_ml100k_all")

or, from gin, ``MIXTURE_OR_TASK_MODULE = 'instructrec_jax_tasks.ml100k'``.
"""
