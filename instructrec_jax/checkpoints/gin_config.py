"""The model config a checkpoint brings in the ``config.gin`` written beside it.

T5X writes its whole gin configuration to ``MODEL_DIR/config.gin`` (beside every
``checkpoint_<step>``); the model's shape is in its ``network.T5Config`` bindings::

    ACTIVATION_DTYPE = 'bfloat16'
    network.T5Config.emb_dim = 512
    network.T5Config.dtype = %ACTIVATION_DTYPE
    network.T5Config.mlp_activations = ('gelu', 'linear')

This project's trainer writes ``MODEL_DIR/config.gin`` too, with this project's own
``T5Config.<field>`` (and ``T5Config.preset``) bindings. Both are read here with gin's
parser alone: nothing is imported, registered or executed (values are Python literals;
``@references`` and ``import`` lines are kept as names and never resolved), macros
(``%NAME``) are substituted, and ``include`` lines are followed relative to the including
file. Only unscoped bindings count (``scope/network.T5Config.x`` configures something
else).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gin import config_parser
from instructrec_jax.checkpoints import files
from instructrec_jax.models.config import T5Config

CONFIG_GIN = "config.gin"
OWN_SELECTOR = "T5Config"  # this project's binding name (instructrec_jax.models.gin_configurables)
T5X_SELECTOR_SUFFIX = ".T5Config"  # network.T5Config, t5x.examples.t5.network.T5Config, ...

# T5X's network.T5Config field -> this project's T5Config field.
T5X_FIELDS = {
    "vocab_size": "vocab_size",
    "emb_dim": "d_model",
    "num_heads": "num_heads",
    "head_dim": "head_dim",
    "mlp_dim": "d_ff",
    "num_encoder_layers": "num_encoder_layers",
    "num_decoder_layers": "num_decoder_layers",
    "dropout_rate": "dropout_rate",
    "dtype": "dtype",
}
# T5X's defaults for the fields a config.gin may leave unbound (t5x.examples.t5.network).
T5X_DEFAULTS: dict[str, Any] = {
    "dtype": "float32",
    "emb_dim": 512,
    "num_heads": 8,
    "num_encoder_layers": 6,
    "num_decoder_layers": 6,
    "head_dim": 64,
    "mlp_dim": 2048,
    "mlp_activations": ("relu",),
    "dropout_rate": 0.1,
    "logits_via_embedding": False,
}
# Fields this project's model has one fixed answer to: T5 v1.1 / Flan-T5.
T5X_FIXED = {"mlp_activations": ("gelu", "linear"), "logits_via_embedding": False}
# Fields that change memory, layout or speed, not the function computed (attention logits
# are always float32 here).
T5X_IGNORED = frozenset(
    {"float32_attention_logits", "scan_layers", "remat_policy", "param_scan_axis"}
)
_MAX_MACRO_DEPTH = 32


class GinConfigFileError(ValueError):
    """A ``config.gin`` that cannot describe this project's model; names file and field."""


@dataclasses.dataclass(frozen=True)
class _Macro:
    name: str


@dataclasses.dataclass(frozen=True)
class _Reference:
    name: str


class _LiteralDelegate(config_parser.ParserDelegate):
    """Keeps ``%macros`` and ``@references`` as names; nothing is looked up or called."""

    def configurable_reference(self, scoped_configurable_name: str, evaluate: bool) -> _Reference:
        del evaluate
        return _Reference(scoped_configurable_name)

    def macro(self, macro_name: str) -> _Macro:
        return _Macro(macro_name)


def parent_dir(path: str) -> str:
    """The folder above ``path`` (local or a URL)."""
    return path.rstrip("/").rsplit("/", 1)[0] if "/" in path.rstrip("/") else "."


def read_gin_bindings(path: str) -> dict[tuple[str, str], Any]:
    """{(selector, parameter): value} of every unscoped binding in ``path`` and its includes,
    later bindings winning, macros substituted (``%gin.REQUIRED`` stays a ``_Macro``)."""
    bindings: dict[tuple[str, str], Any] = {}
    macros: dict[str, Any] = {}
    _read_into(path, bindings, macros, seen=set())
    return {key: _substitute(value, macros, path, 0) for key, value in bindings.items()}


def _read_into(
    path: str, bindings: dict[tuple[str, str], Any], macros: dict[str, Any], seen: set[str]
) -> None:
    if path in seen:
        raise GinConfigFileError(f"{path}: includes itself")
    seen.add(path)
    if not files.exists(path):
        raise GinConfigFileError(f"{path}: included gin file not found")
    try:
        statements = list(config_parser.ConfigParser(files.read_text(path), _LiteralDelegate()))
    except SyntaxError as error:
        message = str(error.msg).splitlines()[0]
        raise GinConfigFileError(f"{path}: not valid gin ({message})") from error
    for statement in statements:
        if isinstance(statement, config_parser.IncludeStatement):
            included = statement.filename
            if not included.startswith("/") and not files.is_url(included):
                included = files.join(parent_dir(path), included)
            _read_into(included, bindings, macros, seen)
        elif isinstance(statement, config_parser.BindingStatement) and not statement.scope:
            if statement.arg_name:
                bindings[(statement.selector, statement.arg_name)] = statement.value
            else:
                macros[statement.selector] = statement.value


def _substitute(value: Any, macros: Mapping[str, Any], path: str, depth: int) -> Any:
    if depth > _MAX_MACRO_DEPTH:
        raise GinConfigFileError(f"{path}: macros refer to each other in a cycle")
    if isinstance(value, _Macro) and value.name in macros:
        return _substitute(macros[value.name], macros, path, depth + 1)
    if isinstance(value, (list, tuple)):
        return type(value)(_substitute(item, macros, path, depth + 1) for item in value)
    if isinstance(value, dict):
        return {key: _substitute(item, macros, path, depth + 1) for key, item in value.items()}
    return value


def _plain(value: Any, where: str) -> Any:
    """A binding's value as a literal; a dtype reference (``@jnp.bfloat16``) as its name."""
    if isinstance(value, _Reference):
        return value.name.rsplit(".", 1)[-1]
    if isinstance(value, _Macro):
        raise GinConfigFileError(f"{where} is %{value.name}, which the file leaves unset")
    return value


def config_from_gin_file(path: str) -> T5Config:
    """The :class:`T5Config` a ``config.gin`` describes: T5X's ``network.T5Config`` or this
    project's ``T5Config`` bindings (not both). Raises :class:`GinConfigFileError`."""
    bindings = read_gin_bindings(path)
    own = {arg: value for (selector, arg), value in bindings.items() if selector == OWN_SELECTOR}
    t5x_selectors = {s for s, _ in bindings if s.endswith(T5X_SELECTOR_SUFFIX)}
    if len(t5x_selectors) > 1 or (own and t5x_selectors):
        found = sorted(t5x_selectors | ({OWN_SELECTOR} if own else set()))
        raise GinConfigFileError(f"{path}: binds several model configs ({', '.join(found)})")
    if own:
        fields = {arg: _plain(value, f"{path}: T5Config.{arg}") for arg, value in own.items()}
        try:
            return T5Config.from_fields(**fields)
        except (TypeError, ValueError) as error:
            raise GinConfigFileError(f"{path}: {error}") from error
    if not t5x_selectors:
        raise GinConfigFileError(f"{path}: binds no T5Config (network.T5Config.<field> = ...)")
    (selector,) = t5x_selectors
    t5x = {arg: value for (s, arg), value in bindings.items() if s == selector}
    return _from_t5x_fields(t5x, selector, path)


def _from_t5x_fields(t5x: Mapping[str, Any], selector: str, path: str) -> T5Config:
    values = {**T5X_DEFAULTS, **{a: _plain(v, f"{path}: {selector}.{a}") for a, v in t5x.items()}}
    unknown = sorted(set(values) - set(T5X_FIELDS) - set(T5X_FIXED) - T5X_IGNORED)
    if unknown:
        raise GinConfigFileError(
            f"{path}: {selector}.{unknown[0]} has no counterpart in this project's T5Config"
        )
    for name, wanted in T5X_FIXED.items():
        got = tuple(values[name]) if isinstance(values[name], list) else values[name]
        if got != wanted:
            raise GinConfigFileError(
                f"{path}: {selector}.{name} is {got!r}; only {wanted!r} (T5 v1.1 / Flan-T5) "
                "is supported"
            )
    if "vocab_size" not in values:
        raise GinConfigFileError(f"{path}: {selector}.vocab_size is not bound")
    fields = {ours: values[theirs] for theirs, ours in T5X_FIELDS.items()}
    try:
        return T5Config(**fields)
    except (TypeError, ValueError) as error:
        raise GinConfigFileError(f"{path}: {error}") from error


def find_config_gin(step_dir: str) -> str | None:
    """``config.gin`` in a ``checkpoint_<step>`` directory or its model directory, or None."""
    for folder in (step_dir, parent_dir(step_dir)):
        candidate = files.join(folder, CONFIG_GIN)
        if files.exists(candidate):
            return candidate
    return None
