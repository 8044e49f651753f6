"""Gin at the edge: parse ``--gin_file``/``--gin.`` arguments into a :class:`TrainConfig`.

Differences from T5X, each fixing one of its known pains:

* Required macros (``MODEL_DIR``, ``MIXTURE_OR_TASK_NAME``) are *not* assigned
  ``%gin.REQUIRED`` in our gin files, so a later ``include`` cannot reset a value given
  earlier; they are checked by name after parsing, before anything is compiled, and a
  macro still bound to ``%gin.REQUIRED`` by a third-party file is reported too.
* An unknown configurable or parameter stops with one line naming it and the closest
  registered names (difflib).
* ``--gin.X=V`` overrides always apply after every file (files first, then bindings), and
  a macro binding that nothing reads (``--gin.TRAIN_STEPZ=5``) is an error naming the
  closest macro, not a silently ignored setting.
* Search paths: ``--gin_search_paths`` plus the repository's ``gin/`` folder, so
  ``--gin_file=runs/finetune.gin`` works from any working directory.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
from instructrec_jax.gin_cli import (
    GinConfigError,
    check_macros_used,
    parse_gin_config,
    resolve_gin_files,
    search_folders,
)
from instructrec_jax.models.config import T5Config
from instructrec_jax.training.config import TrainConfig
from instructrec_jax.training.optimizer import AdafactorConfig
from instructrec_jax.training.preflight import import_task_module

REQUIRED_MACROS = ("MODEL_DIR", "MIXTURE_OR_TASK_NAME")
# Macros this module reads itself (gin.query_parameter), whether or not a file uses them.
CODE_READ_MACROS = (*REQUIRED_MACROS, "MIXTURE_OR_TASK_MODULE")

_registered = False


def register_configurables() -> None:
    """Make ``TrainConfig``, ``AdafactorConfig`` and ``T5Config`` bindable (once)."""
    global _registered
    if _registered:
        return
    _registered = True
    gin.external_configurable(TrainConfig, name="TrainConfig")
    gin.external_configurable(AdafactorConfig, name="AdafactorConfig")
    # T5Config (a preset and/or its fields) for gin/models/*.gin.
    import instructrec_jax.models.gin_configurables  # noqa: F401


def parse(
    gin_files: Sequence[str], bindings: Sequence[str], search_paths: Sequence[str] = ()
) -> None:
    """Parse files then bindings; raise :class:`GinConfigError` on any problem."""
    register_configurables()
    gin.clear_config()
    if not gin_files:
        raise GinConfigError("no --gin_file given (e.g. --gin_file=gin/runs/finetune.gin)")
    folders = search_folders(search_paths)
    resolved = resolve_gin_files(gin_files, folders)
    check_macros_used(bindings, resolved, folders, read_by_code=CODE_READ_MACROS)
    # First pass (unknown names allowed) only to learn the task module: importing it may
    # register configurables the files bind (e.g. the mixture rate), so it must happen
    # before the strict pass, not through a gin `import` line.
    parse_gin_config(resolved, bindings, skip_unknown=True)
    module = _macro_value("MIXTURE_OR_TASK_MODULE")
    if module is not None and not isinstance(module, str):
        raise GinConfigError(f"MIXTURE_OR_TASK_MODULE must be a module name, got {module!r}")
    import_task_module(module)
    gin.clear_config()
    parse_gin_config(resolved, bindings)
    check_required_macros()


def _macro_value(name: str) -> object:
    try:
        return gin.query_parameter(f"%{name}")
    except ValueError:
        return None


def check_required_macros(required: Sequence[str] = REQUIRED_MACROS) -> None:
    """Every required macro must be bound to a real value."""
    for name in required:
        try:
            value = gin.query_parameter(f"%{name}")
        except ValueError:
            value = None
            missing = True
        else:
            missing = str(value) == "%gin.REQUIRED"
        if missing:
            raise GinConfigError(
                f"required gin macro {name} is not set: pass --gin.{name}=... "
                f"(strings quoted, e.g. --gin.{name}=\"'value'\")"
            )


def build_train_config() -> TrainConfig:
    """The :class:`TrainConfig` the parsed bindings describe."""
    try:
        config = gin.get_configurable("TrainConfig")()
    except (TypeError, ValueError) as error:
        raise GinConfigError(f"TrainConfig: {str(error).strip().splitlines()[0]}") from error
    if not isinstance(config.model, T5Config):
        raise GinConfigError(
            f"TrainConfig.model must be a T5Config (bind it with a gin/models/*.gin file), "
            f"got {config.model!r}"
        )
    return config


def config_text() -> str:
    """The parsed configuration (all files and bindings) as gin text."""
    return gin.config_str()
