"""instructrec_jax.instructions: instruction templates, teachers, rendering and generation.

Modules (import what you need; this package imports nothing heavy by itself):

- ``codes``: Preference / Intention / TaskForm / Strategy codes, Context, CodeCombination.
- ``templates``: ``load_templates()`` -> validated ``Template``s from ``tasks/templates``.
- ``teachers``: ``Teacher`` protocol, ``AnnotationRequest``, ``Annotation``,
  ``HeuristicTeacher``; ``chat_teacher.ChatTeacher`` for OpenAI-compatible endpoints.
- ``tokens``: ``TokenCounter`` protocol, ``WhitespaceCounter``, ``SentencePieceFileCounter``.
- ``render``: ``render`` one template, ``render_rank_records`` (T3 over any candidate
  list), ``render_pointwise`` / ``render_pointwise_records`` (T0, P("Yes") scoring).
- ``generate``: ``GenerateConfig``, ``generate(dataset, out_dir, config, ...)`` and the
  CLI ``python -m instructrec_jax.instructions.generate``.
- ``records``: the ``InstructionRecord`` written to TFRecord files.
"""
