"""``load_params``: one entry point for every checkpoint format this project reads.

Formats, detected from the files present:

* ``hf``          an HF folder with ``config.json`` and safetensors
* ``t5x_legacy``  a T5X ``checkpoint_<step>`` with the msgpack ``checkpoint`` file
* ``t5x_orbax``   a T5X ``checkpoint_<step>/state`` Orbax tree with ``target``
* ``trainer``     this project's ``checkpoint_<step>/state`` Orbax tree with ``params``

A directory holding ``checkpoint_<step>`` subdirectories (a MODEL_DIR or a T5X model
folder) resolves to its highest complete step.

HF and T5X legacy checkpoints hold per-layer parameters (``layers_i``); Orbax trees may
hold either layout (a scanned model saves stacked ``layers``). Whatever the source, the
result has the layout of ``config`` (``scan_layers`` or not; see
:mod:`instructrec_jax.checkpoints.layer_stacking`).
"""

from __future__ import annotations

import enum
import json
import re
from pathlib import Path

from instructrec_jax.checkpoints import files
from instructrec_jax.checkpoints.gin_config import (
    CONFIG_GIN,
    config_from_gin_file,
    find_config_gin,
    parent_dir,
)
from instructrec_jax.checkpoints.hf import (
    CONFIG_FILE,
    INDEX_FILE,
    SINGLE_FILE,
    config_from_hf,
    load_hf_params,
)
from instructrec_jax.checkpoints.layer_stacking import is_stacked, to_layout
from instructrec_jax.checkpoints.t5x import (
    LEGACY_FILE,
    ORBAX_ITEM,
    T5X_PARAMS_KEY,
    load_orbax_params,
    load_t5x_legacy_params,
    orbax_tree_metadata,
)
from instructrec_jax.checkpoints.tree import Params
from instructrec_jax.models.config import T5Config

TRAINER_PARAMS_KEY = "params"
# Orbax's completion marker (orbax.checkpoint's atomicity COMMIT_SUCCESS_FILE).
COMMIT_SUCCESS_FILE = "commit_success.txt"
_STEP_DIR = re.compile(r"^checkpoint_(\d+)$")

# What the trainer writes in every model directory (``training.preflight``).
TRAIN_CONFIG_FILE = "train_config.json"


class CheckpointFormat(enum.Enum):
    """The checkpoint layouts :func:`load_params` reads."""

    HF = "hf"
    T5X_LEGACY = "t5x_legacy"
    T5X_ORBAX = "t5x_orbax"
    TRAINER = "trainer"


def _is_complete(step_dir: str) -> bool:
    """Whether a ``checkpoint_<step>`` directory was finished writing.

    Locally Orbax (and T5X) write a temporary directory and rename it, so a named step
    directory is complete. On remote filesystems (URLs: ``gs://``...) Orbax writes in place
    and marks completion with ``commit_success.txt``; T5X's legacy msgpack checkpoints,
    which carry no marker, count when their ``checkpoint`` file is present.
    """
    if not files.is_url(step_dir):
        return True
    return files.exists(files.join(step_dir, COMMIT_SUCCESS_FILE)) or files.exists(
        files.join(step_dir, LEGACY_FILE)
    )


def latest_step_dir(model_dir: str) -> str | None:
    """``model_dir/checkpoint_<step>`` of the highest complete step, or None.

    Orbax temporaries are ignored, and so are unfinished remote saves (see
    :func:`_is_complete`).
    """
    if not files.isdir(model_dir):
        return None
    steps = sorted(
        (
            int(match.group(1))
            for name in files.listdir(model_dir)
            if (match := _STEP_DIR.match(name)) and files.isdir(files.join(model_dir, name))
        ),
        reverse=True,
    )
    for step in steps:
        step_dir = files.join(model_dir, f"checkpoint_{step}")
        if _is_complete(step_dir):
            return step_dir
    return None


def resolve_checkpoint(path: str) -> tuple[CheckpointFormat, str]:
    """(format, the directory to read) for a checkpoint path; raises naming what was found."""
    path = str(path).rstrip("/") or "/"
    if not files.exists(path):
        raise FileNotFoundError(f"checkpoint path {path} does not exist")
    if not files.isdir(path):
        raise ValueError(f"checkpoint path {path} is a file; give its directory")
    names = set(files.listdir(path))
    has_safetensors = SINGLE_FILE in names or INDEX_FILE in names
    if CONFIG_FILE in names and has_safetensors:
        return CheckpointFormat.HF, path
    if LEGACY_FILE in names and not files.isdir(files.join(path, LEGACY_FILE)):
        return CheckpointFormat.T5X_LEGACY, path
    if ORBAX_ITEM in names:
        tree = orbax_tree_metadata(files.join(path, ORBAX_ITEM))
        if T5X_PARAMS_KEY in tree:
            return CheckpointFormat.T5X_ORBAX, files.join(path, ORBAX_ITEM)
        if TRAINER_PARAMS_KEY in tree:
            return CheckpointFormat.TRAINER, files.join(path, ORBAX_ITEM)
        raise ValueError(
            f"{path}/{ORBAX_ITEM}: Orbax tree has neither {T5X_PARAMS_KEY!r} nor "
            f"{TRAINER_PARAMS_KEY!r} (top-level keys {sorted(tree)})"
        )
    latest = latest_step_dir(path)
    if latest is not None:
        return resolve_checkpoint(latest)
    raise ValueError(
        f"{path} is not a checkpoint: expected an HF folder ({CONFIG_FILE} + safetensors), a "
        f"T5X checkpoint_<step> ('{LEGACY_FILE}' file or '{ORBAX_ITEM}/'), or a directory of "
        f"checkpoint_<step> folders; found {sorted(names)[:20]}"
    )


def step_directory(path: str | Path) -> tuple[CheckpointFormat, str]:
    """(format, the concrete checkpoint directory ``path`` names now): a MODEL_DIR resolves
    to its highest ``checkpoint_<step>``; Orbax formats name the step, not its item."""
    checkpoint_format, directory = resolve_checkpoint(str(path))
    if checkpoint_format in (CheckpointFormat.T5X_ORBAX, CheckpointFormat.TRAINER):
        directory = directory.removesuffix(f"/{ORBAX_ITEM}")
    return checkpoint_format, directory


def checkpoint_model_config(path: str | Path) -> T5Config | None:
    """The model config a checkpoint brings, or None when it brings none.

    An HF folder brings its ``config.json`` (compute dtype included); a T5X or trainer
    ``checkpoint_<step>`` the ``config.gin`` in it or in its model directory (T5X writes
    its configuration there, and so does ``python -m instructrec_jax.train``), else the
    ``model`` of the ``train_config.json`` that every run of the trainer writes in its model
    directory (the demo and the ablation arms train through the library, without gin).
    """
    checkpoint_format, directory = step_directory(path)
    if checkpoint_format is CheckpointFormat.HF:
        return config_from_hf(directory)
    found = find_config_gin(directory)
    if found is not None:
        return config_from_gin_file(found)
    return trainer_model_config(directory)


def trainer_model_config(step_dir: str) -> T5Config | None:
    """``model`` of ``train_config.json`` beside ``checkpoint_<step>``, or None without one."""
    path = files.join(parent_dir(step_dir), TRAIN_CONFIG_FILE)
    if not files.exists(path):
        return None
    try:
        return T5Config(**json.loads(files.read_text(path))["model"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: no readable model config ({error!r})") from None


def missing_config_message(path: str | Path) -> str:
    """One line for a checkpoint that brings no model config: what to pass instead."""
    checkpoint_format, directory = step_directory(path)
    return (
        f"{path} is a {checkpoint_format.value} checkpoint without a model config (no "
        f"{CONFIG_GIN} in {directory} or the folder above it, no {TRAIN_CONFIG_FILE} above "
        "it): pass "
        "--gin_file=gin/models/flan_t5_<size>.gin (or --gin.T5Config.* bindings)"
    )


def load_params(
    path: str | Path, config: T5Config | None = None, shardings: Params | None = None
) -> Params:
    """Parameters (nested dict of host numpy arrays in ``config.param_dtype``, T5X names) in
    the layer layout of ``config`` (converted when the checkpoint has the other one).

    ``config`` defaults to the one the checkpoint brings (:func:`checkpoint_model_config`).
    Optimizer state is never loaded. Mismatches raise
    :class:`~instructrec_jax.checkpoints.tree.CheckpointMismatchError` listing every key.

    With ``shardings`` (a nested dict of ``jax.sharding.Sharding`` like the parameters, e.g.
    the trainer's or the scoring engine's), the result is ``jax.Array`` s so laid out, and
    each process reads only the slices its devices hold
    (:mod:`instructrec_jax.checkpoints.sharded`); the values are the same.
    """
    checkpoint_format, directory = resolve_checkpoint(str(path))
    if shardings is not None:
        from instructrec_jax.checkpoints.sharded import load_sharded_params

        config = config or checkpoint_model_config(path)
        if config is None:
            raise ValueError(missing_config_message(path))
        return load_sharded_params(checkpoint_format, directory, config, shardings)
    if checkpoint_format is CheckpointFormat.HF:
        if config is None:
            return load_hf_params(directory)
        return to_layout(load_hf_params(directory, config.replace(scan_layers=False)), config)
    if config is None:
        config = checkpoint_model_config(path)
    if config is None:
        raise ValueError(missing_config_message(path))
    if checkpoint_format is CheckpointFormat.T5X_LEGACY:
        source = config.replace(scan_layers=False)
        return to_layout(load_t5x_legacy_params(directory, source), config)
    key = T5X_PARAMS_KEY if checkpoint_format is CheckpointFormat.T5X_ORBAX else TRAINER_PARAMS_KEY
    stacked = is_stacked(orbax_tree_metadata(directory)[key])
    source = config.replace(scan_layers=stacked)
    return to_layout(load_orbax_params(directory, source, key), config)
