"""Checks and preparation that happen before anything is compiled.

Each failure is one clear sentence: the task module that cannot be imported, the task name
that is not registered (with the closest names), a mesh that does not fit the devices or
the batch, the model directory that cannot be written (``gs://`` paths are probed with a
real write, never failing silently later).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import uuid

from jax.sharding import Mesh

from instructrec_jax.checkpoints.loader import TRAIN_CONFIG_FILE
from instructrec_jax.cli_errors import UsageError
from instructrec_jax.json_text import parse_json_object
from instructrec_jax.models.config import PARAMETER_SHAPE_FIELDS
from instructrec_jax.tf_setup import import_tensorflow
from instructrec_jax.training.config import TrainConfig
from instructrec_jax.training.input_pipeline import check_task_registered

_STEP_DIR = re.compile(r"^checkpoint_(\d+)$")


# Settings that fix the shapes of the saved state: a resumed run must keep them.
RESUME_MODEL_FIELDS = (*PARAMETER_SHAPE_FIELDS, "param_dtype")


class SetupError(UsageError):
    """A run that cannot start; the message names the offending setting."""


def import_task_module(module_name: str | None) -> None:
    """Import the module that registers the SeqIO tasks (``MIXTURE_OR_TASK_MODULE``)."""
    if not module_name:
        return
    try:
        importlib.import_module(module_name)
    except Exception as error:  # a task module fails for many reasons; name it either way
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise SetupError(
            f"MIXTURE_OR_TASK_MODULE {module_name!r} cannot be imported: {message}"
        ) from error


def check_seqio_cache(config: TrainConfig) -> None:
    """With ``use_cached_tasks``, every task must have a cache (no silent fallback)."""
    if not config.use_cached_tasks:
        return
    import seqio

    provider = seqio.get_mixture_or_task(config.mixture_or_task_name)
    tasks = provider.tasks if isinstance(provider, seqio.Mixture) else [provider]
    uncached = [task.name for task in tasks if not task.cache_dir]
    if uncached:
        raise SetupError(
            "USE_CACHED_TASKS is True but these tasks have no SeqIO cache: "
            f"{', '.join(uncached)} (run seqio's cache_tasks_main or set USE_CACHED_TASKS=False)"
        )


def prepare_model_dir(model_dir: str) -> None:
    """Create ``model_dir`` and prove it is writable (also for ``gs://``)."""
    tf = import_tensorflow()
    probe = os.path.join(model_dir, f".write_probe_{uuid.uuid4().hex}")
    try:
        tf.io.gfile.makedirs(model_dir)
        with tf.io.gfile.GFile(probe, "w") as stream:
            stream.write("ok")
        tf.io.gfile.remove(probe)
    except Exception as error:  # TF raises many types (NotFound, PermissionDenied, ...)
        hint = " (check credentials and the bucket name)" if model_dir.startswith("gs://") else ""
        raise SetupError(f"MODEL_DIR {model_dir!r} is not writable: {error}{hint}") from error


def write_model_dir_file(model_dir: str, name: str, text: str) -> None:
    """Write ``text`` to ``model_dir/name`` (local or ``gs://``)."""
    tf = import_tensorflow()
    with tf.io.gfile.GFile(os.path.join(model_dir, name), "w") as stream:
        stream.write(text)


def write_train_config(config: TrainConfig) -> None:
    """``MODEL_DIR/train_config.json``: the plain arguments of this run."""
    payload = json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True, default=str)
    write_model_dir_file(config.model_dir, TRAIN_CONFIG_FILE, payload)


def initial_checkpoint_step(path: str | None) -> int:
    """The step an initial checkpoint was saved at (0 for HF folders or no checkpoint).

    As in T5X, fine-tuning continues the step count, so TRAIN_STEPS is absolute.
    """
    if not path:
        return 0
    from instructrec_jax.checkpoints.loader import resolve_checkpoint

    try:
        _, directory = resolve_checkpoint(path)
    except (OSError, ValueError) as error:
        raise SetupError(f"INITIAL_CHECKPOINT_PATH: {error}") from error
    parts = directory.rstrip("/").split("/")
    for part in reversed(parts[-2:]):
        match = _STEP_DIR.match(part)
        if match:
            return int(match.group(1))
    return 0


def check_train_steps(config: TrainConfig) -> None:
    """TRAIN_STEPS must lie beyond the initial checkpoint's step (it is absolute).

    Not checked when MODEL_DIR holds a checkpoint: a resumed run never reads the initial
    checkpoint (its base step comes from the resumed state), so it need not exist there.
    """
    from instructrec_jax.checkpoints.loader import latest_step_dir

    if latest_step_dir(config.model_dir) is not None:
        return
    base = initial_checkpoint_step(config.initial_checkpoint_path)
    if config.train_steps <= base:
        raise SetupError(
            f"TRAIN_STEPS={config.train_steps} is not beyond the initial checkpoint's step "
            f"{base}; TRAIN_STEPS is absolute (T5X semantics): for N more steps use {base} + N"
        )


def check_mesh(config: TrainConfig) -> Mesh:
    """The run's mesh, checked: it covers the devices and its data axis divides BATCH_SIZE."""
    from instructrec_jax.partitioning import MeshError
    from instructrec_jax.training.program import train_mesh

    try:
        mesh = train_mesh(config)
    except MeshError as error:
        raise SetupError(f"mesh: {error}") from error
    except ValueError as error:
        setting = "MESH_SHAPE" if config.mesh_shape is not None else "NUM_PARTITIONS"
        raise SetupError(f"{setting}: {error}") from error
    data = mesh.shape["data"]
    if config.batch_size % data:
        raise SetupError(
            f"BATCH_SIZE={config.batch_size} is not divisible by the mesh's data axis size "
            f"{data} (mesh {dict(mesh.shape)})"
        )
    return mesh


def check_before_compile(config: TrainConfig) -> Mesh:
    """All checks that need no accelerator work, in the order a user would fix them;
    returns the run's mesh (built once, here)."""
    import_tensorflow()  # hide accelerators from TF before a task module can touch TF
    import_task_module(config.mixture_or_task_module)
    try:
        check_task_registered(config.mixture_or_task_name)
    except ValueError as error:
        raise SetupError(f"MIXTURE_OR_TASK_NAME: {error}") from error
    check_seqio_cache(config)
    mesh = check_mesh(config)
    check_train_steps(config)
    check_resume_settings(config)
    return mesh


def _resume_settings(saved: dict) -> dict[str, object]:
    """The state-shaping settings of a ``train_config.json`` payload, by display name."""
    model = saved.get("model", {})
    settings: dict[str, object] = {
        f"T5Config.{name}": model.get(name) for name in RESUME_MODEL_FIELDS
    }
    for name, value in sorted(saved.get("optimizer", {}).items()):
        settings[f"AdafactorConfig.{name}"] = value
    return settings


def check_resume_settings(config: TrainConfig) -> None:
    """A MODEL_DIR with checkpoints resumes only with the settings that shaped its state.

    Compares the model and optimizer settings against the run's ``train_config.json``
    before anything is written, so a mismatch leaves the run's record as it was and ends
    in one line naming the setting, instead of an Orbax restore error. Runs whose folder
    has no checkpoint (or no record) are not checked.
    """
    from instructrec_jax.checkpoints.loader import latest_step_dir

    path = os.path.join(config.model_dir, TRAIN_CONFIG_FILE)
    tf = import_tensorflow()
    if latest_step_dir(config.model_dir) is None or not tf.io.gfile.exists(path):
        return
    with tf.io.gfile.GFile(path) as stream:
        saved = parse_json_object(stream.read(), path, SetupError)
    asked = json.loads(json.dumps(dataclasses.asdict(config), default=str))
    before, now = _resume_settings(saved), _resume_settings(asked)
    for name, value in now.items():
        if before.get(name) != value:
            raise SetupError(
                f"MODEL_DIR {config.model_dir!r} holds checkpoints trained with {name}="
                f"{before.get(name)!r}, not {value!r}: resume with the same setting, or start "
                "a fresh run in a new MODEL_DIR"
            )
