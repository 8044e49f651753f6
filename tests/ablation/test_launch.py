"""One tpu_scripts/launch.sh per arm; its dry run prints the gcloud command."""

from __future__ import annotations

import shlex
import subprocess

from instructrec_jax.ablation.launch import REPO, launch_commands
from tests.ablation.helpers import small_config


def test_launch_commands_dry_run_one_gcloud_launch_per_arm(tmp_path):
    config = small_config(tmp_path)
    commands = launch_commands(config, "gs://b/abl", "irec", "us-central2-b", dry_run=True)
    assert len(commands) == 3
    assert "--gin.MODEL_DIR='gs://b/abl/ladder_1/seed_0'" in commands[1]
    assert "--gin.LEARNING_RATE=0.005" in commands[1]
    assert "--gin.MIXTURE_OR_TASK_NAME='instructrec_synthetic_all'" in commands[0]
    completed = subprocess.run(
        ["bash", *commands[2]],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    (ssh,) = [shlex.split(line) for line in completed.stdout.splitlines()]
    assert ssh[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh"]
    assert "all_but_p1_i1_t3/seed_0" in ssh[-2] + ssh[-1] + " ".join(ssh)
