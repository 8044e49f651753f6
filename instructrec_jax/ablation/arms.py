"""One arm x seed: one MODEL_DIR, trained and evaluated once.

``<work_dir>/arms/<arm>/seed_<k>/`` is a MODEL_DIR (``instructrec_jax.training``) with the
evaluation under ``eval/`` (``metrics.json``, ``results.md``, ``chart.png``) and a marker
``ablation_arm.json``: ``{"fingerprint", "settings", "status": "started" | "done"}``. The
fingerprint is a digest of everything that changes the arm's results (mixture, training
settings, seed, dataset fingerprint, vocabulary, evaluation settings). A ``done`` arm with
the same fingerprint is never redone; a ``started`` one resumes (the trainer from its latest
checkpoint, the evaluation from its finished shards); a different fingerprint in the folder
is an error, since resuming would mix two settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from instructrec_jax.ablation.config import AblationConfig, Arm
from instructrec_jax.ablation.workspace import Workspace
from instructrec_jax.atomic_files import write_json_atomic
from instructrec_jax.checkpoints import files
from instructrec_jax.json_text import parse_json_object
from instructrec_jax.tasks import naming

MARKER_FILE = "ablation_arm.json"
EVAL_DIR = "eval"


@dataclasses.dataclass(frozen=True)
class ArmRun:
    """One (arm, seed) and its MODEL_DIR."""

    arm: Arm
    seed: int
    model_dir: Path

    @property
    def metrics_path(self) -> Path:
        """The evaluation's ``metrics.json``."""
        return self.model_dir / EVAL_DIR / "metrics.json"


def arm_runs(config: AblationConfig, root: str | Path | None = None) -> list[ArmRun]:
    """Every (arm, seed) in gin order, under ``root`` (default ``<work_dir>/arms``)."""
    base = Path(root) if root is not None else Path(config.work_dir).resolve() / "arms"
    return [
        ArmRun(config.arm(name), seed, base / name / f"seed_{seed}")
        for name in config.arms
        for seed in config.seeds
    ]


def evaluation_settings(config: AblationConfig) -> dict[str, Any]:
    """The shared evaluation, as it enters every arm's fingerprint (``report_split`` only
    when it is not ``test``, so earlier test-split arms keep their fingerprints)."""
    settings: dict[str, Any] = {
        "scenarios": list(config.scenarios),
        "protocols": list(config.protocols),
        "max_test_examples": config.max_test_examples,
        "max_valid_examples": config.max_valid_examples,
        "data_seed": config.data_seed,
        "bootstrap_resamples": config.bootstrap_resamples,
    }
    if config.report_split != "test":
        settings["report_split"] = config.report_split
    return settings


def run_settings(run: ArmRun, config: AblationConfig, workspace: Workspace) -> dict[str, Any]:
    """Everything that changes the run's results (JSON-able); a custom mixture's members
    (``ablation.mixtures``) count, so redefining one under the same name retrains."""
    settings = {
        "arm": run.arm.name,
        "mixture": run.arm.mixture,
        "training": dict(run.arm.settings),
        "seed": run.seed,
        "dataset": config.dataset,
        "dataset_fingerprint": workspace.dataset_fingerprint,
        "vocabulary": workspace.vocab_path,  # the same path for every vocabulary: see digest
        "vocabulary_digest": files.content_digest(workspace.vocab_path),
        "evaluation": evaluation_settings(config),
        "baselines": list(config.baselines) if _evaluates_baselines(run, config) else [],
        "num_tasks": workspace.mixture_sizes.get(run.arm.mixture),
    }
    for name, members in config.mixtures.items():
        if naming.custom_mixture_name(config.dataset, name) == run.arm.mixture:
            settings["mixture_members"] = list(members)
    return settings


def fingerprint(settings: dict[str, Any]) -> str:
    """16 hex digits of the settings' canonical JSON."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_marker(model_dir: Path) -> dict[str, Any] | None:
    """The arm's marker, or None when the folder has none."""
    path = model_dir / MARKER_FILE
    if not path.is_file():
        return None
    return parse_json_object(path.read_text(), str(path))


def is_done(run: ArmRun, digest: str) -> bool:
    """Whether the run finished with these settings (raises if it holds other settings)."""
    marker = read_marker(run.model_dir)
    if marker is None:
        return False
    if marker.get("fingerprint") != digest:
        raise ValueError(
            f"{run.model_dir} holds arm {run.arm.name!r} trained with other settings "
            f"(fingerprint {marker.get('fingerprint')} != {digest}); rename the arm or "
            "remove the folder"
        )
    return marker.get("status") == "done" and run.metrics_path.is_file()


def _evaluates_baselines(run: ArmRun, config: AblationConfig) -> bool:
    return run.arm.name == config.reference and run.seed == config.seeds[0]


def train_arm(run: ArmRun, workspace: Workspace) -> None:
    """Train (or resume) the run's MODEL_DIR to its step count."""
    from instructrec_jax.training import train

    training = run.arm.training
    model = training.model_config(workspace.model_vocab_size)
    train(training.train_config(run.model_dir, run.arm.mixture, model, run.seed, False))


def evaluate_arm(run: ArmRun, config: AblationConfig, workspace: Workspace) -> None:
    """Evaluate the run's latest checkpoint on the shared candidate sets into ``eval/``."""
    from instructrec_jax.evaluate import evaluate_checkpoint
    from instructrec_jax.evaluation.runner import EvaluationConfig

    evaluate_checkpoint(
        checkpoint_path=str(run.model_dir),
        dataset=str(workspace.processed_dir),
        vocabulary=workspace.vocab_path,
        output_dir=str(run.model_dir / EVAL_DIR),
        model_config=run.arm.training.model_config(workspace.model_vocab_size),
        baselines=config.baselines if _evaluates_baselines(run, config) else (),
        hard_negative_retriever="sasrec" if "hard" in config.protocols else None,
        evaluation=EvaluationConfig(
            scenarios=config.scenarios,
            protocols=config.protocols,
            max_test_examples=config.max_test_examples,
            max_valid_examples=config.max_valid_examples,
            seed=config.data_seed,
            bootstrap_resamples=config.bootstrap_resamples,
            report_split=config.report_split,
        ),
        max_input_tokens=run.arm.training.input_length,
        progress=False,
        baselines_dir=str(Path(config.work_dir).resolve() / "workspace" / "baselines"),
    )


def run_arm(run: ArmRun, config: AblationConfig, workspace: Workspace) -> bool:
    """Train and evaluate the run unless it is done; returns whether work was done."""
    settings = run_settings(run, config, workspace)
    digest = fingerprint(settings)
    if is_done(run, digest):
        return False
    run.model_dir.mkdir(parents=True, exist_ok=True)
    marker = {"fingerprint": digest, "settings": settings, "status": "started"}
    write_json_atomic(run.model_dir / MARKER_FILE, marker)
    train_arm(run, workspace)
    evaluate_arm(run, config, workspace)
    write_json_atomic(run.model_dir / MARKER_FILE, {**marker, "status": "done"})
    return True
