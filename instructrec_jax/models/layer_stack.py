"""How a stack of identical layers is built: rematerialization policy and ``nn.scan``.

Remat policies (``T5Config.remat_policy``; the names T5X and MaxText use), from most to
least memory saved in the backward pass:

* ``none``: no rematerialization; every intermediate of every layer is kept.
* ``full``: save nothing but each layer's inputs; the whole layer is recomputed in the
  backward pass (``jax.checkpoint_policies.nothing_saveable``).
* ``minimal``: T5X's ``minimal`` (``checkpoint_dots_with_no_batch_dims``), an alias of
  ``dots_with_no_batch_dims_saveable``.
* ``dots_with_no_batch_dims_saveable``: save the outputs of weight matmuls (dots without
  batch dims: the projections and MLP kernels); recompute attention scores, norms and
  activations.
* ``dots_saveable``: save every matmul output, attention scores and contexts included.
* ``everything_saveable``: save everything (remat with no saving benefit; a check that
  the remat wrapper changes nothing).
* ``offload``: like ``dots_with_no_batch_dims_saveable`` but the saved matmul outputs go
  to host memory (``pinned_host``) and come back for the backward pass
  (``offload_dot_with_no_batch_dims``), trading host<->device bandwidth for device memory.
  Needs a backend with a pinned host memory space (TPU, GPU, and XLA:CPU in jax >= 0.10);
  other platforms get a ValueError when the model is traced.

Scanned stacks (``T5Config.scan_layers``): the layer is wrapped in ``nn.scan`` over
``num_layers`` iterations, so the program holds one layer body whatever the depth. Every
parameter gains a leading ``layers`` axis ([num_layers, ...], logical name ``layers``)
and the autoregressive ``cache`` collection too. With remat inside a scan ``prevent_cse``
is off: the scan already keeps XLA from merging the recomputation with the forward pass.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax

from instructrec_jax.models.config import REMAT_POLICIES
from instructrec_jax.models.target import target_platform

# Platforms whose devices have a ``pinned_host`` memory space for remat offloading.
HOST_OFFLOAD_PLATFORMS = ("cpu", "tpu", "gpu", "cuda", "rocm")

_SAVING_POLICIES: dict[str, Any] = {
    "full": jax.checkpoint_policies.nothing_saveable,
    "minimal": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
    "dots_saveable": jax.checkpoint_policies.dots_saveable,
    "dots_with_no_batch_dims_saveable": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
    "everything_saveable": jax.checkpoint_policies.everything_saveable,
}


def checkpoint_policy(name: str) -> Any:
    """The ``jax.checkpoint`` policy of a remat policy name other than ``none``.

    ``offload`` checks the platform the computation is traced for (see
    :func:`~instructrec_jax.models.target.target_platform`) and raises ValueError where
    there is no host memory space to offload to.
    """
    if name == "offload":
        platform = target_platform()
        if platform not in HOST_OFFLOAD_PLATFORMS:
            raise ValueError(
                f"T5Config.remat_policy='offload' needs a pinned host memory space; the "
                f"{platform!r} backend has none (supported: {HOST_OFFLOAD_PLATFORMS}). Use "
                "'dots_with_no_batch_dims_saveable' or 'full' instead"
            )
        return jax.checkpoint_policies.offload_dot_with_no_batch_dims("device", "pinned_host")
    if name not in _SAVING_POLICIES:
        raise ValueError(f"unknown remat policy {name!r}; known: {REMAT_POLICIES}")
    return _SAVING_POLICIES[name]


def remat_layer(
    layer_cls: type[nn.Module],
    policy_name: str,
    static_argnums: tuple[int, ...],
    scanned: bool,
) -> Any:
    """``layer_cls`` wrapped in ``nn.remat`` per the policy (``"none"``: unchanged).

    ``static_argnums`` index the positional arguments of ``__call__`` counting ``self`` as 0
    (flax's convention); they must be Python values (flags, counts).
    """
    if policy_name == "none":
        return layer_cls
    return nn.remat(
        layer_cls,
        policy=checkpoint_policy(policy_name),
        static_argnums=static_argnums,
        prevent_cse=not scanned,
    )


def scan_stack(
    layer_cls: Any, num_layers: int, methods: dict[str, tuple[Any, ...]]
) -> type[nn.Module]:
    """``layer_cls`` scanned ``num_layers`` times; ``methods`` maps each scanned method name
    to its ``in_axes`` (one entry per argument after the carry: ``nn.broadcast`` or 0).

    Each scanned method has the scan signature ``(carry, *args) -> (carry, per_layer_out)``;
    per-layer outputs come back stacked on a leading [num_layers] axis.
    """
    common = {
        "variable_axes": {"params": 0, "cache": 0},
        "split_rngs": {"params": True, "dropout": True},
        "length": num_layers,
        "metadata_params": {nn.PARTITION_NAME: "layers"},
    }
    return nn.scan(
        layer_cls,
        methods={name: {**common, "in_axes": in_axes} for name, in_axes in methods.items()},
    )
