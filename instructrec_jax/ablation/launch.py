"""One TPU VM launch per (arm, seed): ``tpu_scripts/launch.sh ... -- <train.py flags>``.

Each command trains the arm with ``gin/runs/finetune.gin`` and the arm's model preset
(``gin/models/flan_t5_<preset>.gin``), its mixture, seed and overrides as ``--gin.`` macros,
into ``<remote_root>/<arm>/seed_<k>`` (a gs:// folder, say). Once the runs are done and
evaluated there (``python -m instructrec_jax.evaluate ... --gin.evaluate.output_dir=
'<MODEL_DIR>/eval'``), copy the MODEL_DIRs under ``<work_dir>/arms`` and run the ablation with
``--collect_only`` to build the report from them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from instructrec_jax.ablation.arms import arm_runs
from instructrec_jax.ablation.config import AblationConfig
from instructrec_jax.tasks import naming

REPO = Path(__file__).resolve().parents[2]
LAUNCH_SCRIPT = "tpu_scripts/launch.sh"


def _gin_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def launch_commands(
    config: AblationConfig,
    remote_root: str,
    tpu_name: str,
    tpu_zone: str,
    tpu_project: str | None = None,
    dry_run: bool = False,
) -> list[list[str]]:
    """The argv of one ``launch.sh`` per (arm, seed), in gin order."""
    module = f"instructrec_jax_tasks.{naming.dataset_short_name(config.dataset)}"
    commands = []
    for run in arm_runs(config):
        settings = run.arm.settings
        model_dir = f"{remote_root.rstrip('/')}/{run.arm.name}/seed_{run.seed}"
        target = [f"--name={tpu_name}", f"--zone={tpu_zone}"]
        if tpu_project:
            target.append(f"--project={tpu_project}")
        lengths = {"inputs": settings["input_length"], "targets": settings["target_length"]}
        commands.append(
            [
                LAUNCH_SCRIPT,
                *target,
                *(["--dry-run"] if dry_run else []),
                "--",
                "--gin_file=gin/runs/finetune.gin",
                f"--gin_file=gin/models/flan_t5_{settings['model_preset']}.gin",
                f"--gin.MIXTURE_OR_TASK_MODULE={_gin_string(module)}",
                f"--gin.MIXTURE_OR_TASK_NAME={_gin_string(run.arm.mixture)}",
                f"--gin.MODEL_DIR={_gin_string(model_dir)}",
                f"--gin.TASK_FEATURE_LENGTHS={lengths!r}",
                f"--gin.TRAIN_STEPS={settings['train_steps']}",
                f"--gin.BATCH_SIZE={settings['batch_size']}",
                f"--gin.LEARNING_RATE={settings['learning_rate']!r}",
                f"--gin.LEARNING_RATE_SCHEDULE={_gin_string(settings['learning_rate_schedule'])}",
                f"--gin.WARMUP_STEPS={settings['warmup_steps']}",
                f"--gin.SEED={run.seed}",
            ]
        )
    return commands


def run_launches(commands: Sequence[Sequence[str]]) -> int:
    """Run each command from the repository root; returns the first non-zero status or 0."""
    for command in commands:
        completed = subprocess.run(["bash", *command], cwd=REPO, check=False)
        if completed.returncode:
            return completed.returncode
    return 0
