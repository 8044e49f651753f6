"""The platform a computation is being traced for: the mesh's, not the process's default.

An ahead-of-time compile for TPU or GPU devices on a CPU host traces under a mesh of
those (possibly absent) devices (``jax.set_mesh``); choices that depend on the backend
(:mod:`instructrec_jax.models.xla_cpu`, the ``offload`` remat policy) must follow that
mesh. Without a mesh in context the computation runs on the default backend.
"""

from __future__ import annotations

import jax


def target_platform() -> str:
    """``'cpu'``, ``'tpu'``, ``'gpu'``... of the mesh set by ``jax.set_mesh`` (or
    ``jax.sharding.use_abstract_mesh``), else ``jax.default_backend()``."""
    mesh = jax.sharding.get_abstract_mesh()
    device = getattr(mesh, "abstract_device", None)
    if not mesh.empty and device is not None and device.platform:
        return str(device.platform)
    return jax.default_backend()
