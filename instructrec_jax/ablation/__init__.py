"""SeqIO mixture ablations as one resumable job (``python -m instructrec_jax.ablate``).

- ``config``: :class:`AblationConfig` (gin ``ablation.*``) and the :class:`Arm` s it names;
- ``workspace``: data, instructions, vocabulary and SeqIO registration shared by all arms;
- ``arms``: one arm x seed = one MODEL_DIR, trained and evaluated once (completion marker);
- ``runner``: every arm in order, resuming; collecting arms that ran elsewhere;
- ``launch``: one ``tpu_scripts/launch.sh`` command per arm;
- ``report`` / ``charts``: the table with 95% intervals, paired tests, the two figures.
"""
