"""InstructRec task definitions and instruction templates (installed as `instructrec_jax_tasks`).

`templates/*.toml` hold the instruction templates, one file per family. The modules beside
this file register SeqIO tasks and mixtures; gin names them in MIXTURE_OR_TASK_MODULE.
"""
