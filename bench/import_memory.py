"""Peak host memory of importing an HF safetensors checkpoint, relative to its parameter bytes.

    python bench/import_memory.py [--preset small] [--vocab_size 32128] [--shards 1]
        [--processes 1 2]

Writes a random checkpoint of the preset's shapes (float32, HF layout) to a temporary
folder, then imports it in fresh child processes and reports, for each loader, the peak
resident memory *added* by the import (VmHWM after minus VmRSS before, with the high-water
mark reset via /proc/self/clear_refs) divided by the parameter bytes:

* ``load_params``: this project's streaming importer (target: < 1.3)
* ``load_file + transpose``: the naive reference that materializes the whole file first
* ``sharded, N processes``: ``load_params(..., shardings=...)`` in N local processes of one
  ``jax.distributed`` job (1 CPU device each, FSDP mesh (N, 1)); the largest per-process
  peak is reported (it should scale with 1 / N)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# /proc/self/status fields (VmRSS, VmHWM) in KiB, shared by both child scripts.
STATUS_KIB = r"""
def status_kib(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)
"""

CHILD = (
    r"""
import json, sys
import numpy as np

"""
    + STATUS_KIB
    + r"""


folder, loader = sys.argv[1], sys.argv[2]
from instructrec_jax.checkpoints import config_from_hf, load_params
from instructrec_jax.checkpoints.names import tensor_names
import safetensors.numpy

config = config_from_hf(folder)
names = tensor_names(config)
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak-RSS high-water mark
before = status_kib("VmRSS")
if loader == "load_params":
    params = load_params(folder, config)
else:
    tensors = {}
    import os
    for file in sorted(p for p in os.listdir(folder) if p.endswith(".safetensors")):
        tensors.update(safetensors.numpy.load_file(f"{folder}/{file}"))
    params = {}
    for n in names:
        array = tensors[n.hf_key]
        params[n.t5x_path] = np.ascontiguousarray(array.T if n.transpose else array)
peak = status_kib("VmHWM")
print(json.dumps({"before_kib": before, "peak_kib": peak}))
"""
)


SHARDED_CHILD = (
    r"""
import json, os, sys

os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
folder, processes, process_id, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
from instructrec_jax.training.distributed import DistributedConfig, initialize

if processes > 1:
    initialize(DistributedConfig(f"127.0.0.1:{port}", processes, process_id), platform="cpu")
import jax
import numpy as np

from instructrec_jax.checkpoints import config_from_hf, load_params
from instructrec_jax.models.t5 import abstract_params
from instructrec_jax.partitioning import Partitioner, make_mesh, standard_logical_axis_rules

"""
    + STATUS_KIB
    + r"""


config = config_from_hf(folder)
mesh = make_mesh(mesh_shape=(processes, 1))
shardings = Partitioner(mesh, standard_logical_axis_rules(fsdp=True)).param_shardings(
    abstract_params(config)
)
warm = jax.make_array_from_callback(
    (processes,),
    jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data")),
    lambda index: np.zeros((1,), np.float32),
)
jax.block_until_ready(warm)
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak-RSS high-water mark
before = status_kib("VmRSS")
params = jax.block_until_ready(load_params(folder, config, shardings))
peak = status_kib("VmHWM")
held = sum(
    shard.data.nbytes
    for leaf in jax.tree_util.tree_leaves(params)
    for shard in leaf.addressable_shards
)
print(json.dumps({"before_kib": before, "peak_kib": peak, "held_bytes": held}))
"""
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the children's coordinator)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure_sharded(folder: Path, processes: int) -> list[dict[str, int]]:
    """Per-process numbers of a sharded load in ``processes`` local processes."""
    port = str(free_port())
    env = {"JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SHARDED_CHILD, str(folder), str(processes), str(index), port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for index in range(processes)
    ]
    results = []
    for child in children:
        stdout, stderr = child.communicate(timeout=1800)
        if child.returncode:
            raise RuntimeError(f"sharded child failed: {stderr[-2000:]}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def write_checkpoint(folder: Path, preset: str, vocab_size: int, shards: int) -> int:
    """Random float32 HF checkpoint of a preset; returns its parameter bytes."""
    from safetensors.numpy import save_file

    from instructrec_jax.checkpoints.hf import hf_config_dict
    from instructrec_jax.checkpoints.names import tensor_names
    from instructrec_jax.checkpoints.tree import expected_shapes
    from instructrec_jax.models.config import T5Config

    config = T5Config.preset(preset, vocab_size=vocab_size)
    shapes = expected_shapes(config)
    rng = np.random.default_rng(0)
    names = tensor_names(config)
    groups = [names[index::shards] for index in range(shards)]
    weight_map = {}
    total = 0
    for index, group in enumerate(groups):
        file_name = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {}
        for name in group:
            shape = shapes[name.t5x_path]
            hf_shape = shape[::-1] if name.transpose else shape
            tensors[name.hf_key] = rng.standard_normal(hf_shape, dtype=np.float32)
            total += tensors[name.hf_key].nbytes
            weight_map[name.hf_key] = file_name
        save_file(tensors, str(folder / file_name))
        del tensors
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps(hf_config_dict(config)))
    return total


def measure(folder: Path, loader: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), loader],
        check=True,
        capture_output=True,
        text=True,
        env={"JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--vocab_size", type=int, default=32128)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[1, 2],
        help="process counts of the sharded loads (none: skip them)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        param_bytes = write_checkpoint(folder, args.preset, args.vocab_size, args.shards)
        mib = param_bytes / 2**20
        print(f"preset={args.preset} shards={args.shards} parameter bytes={mib:.1f} MiB")
        for loader in ("load_params", "load_file + transpose"):
            numbers = measure(folder, "load_params" if loader == "load_params" else "naive")
            added = (numbers["peak_kib"] - numbers["before_kib"]) * 1024
            print(
                f"{loader:>24}: peak added {added / 2**20:8.1f} MiB  "
                f"ratio to parameter bytes {added / param_bytes:.2f}"
            )
        for processes in args.processes:
            results = measure_sharded(folder, processes)
            added = max((r["peak_kib"] - r["before_kib"]) * 1024 for r in results)
            held = max(r["held_bytes"] for r in results)
            label = f"sharded, {processes} process{'es' if processes > 1 else ''}"
            print(
                f"{label:>24}: peak added {added / 2**20:8.1f} MiB  "
                f"ratio to parameter bytes {added / param_bytes:.2f}  "
                f"(largest process holds {held / param_bytes:.2f} of the parameters)"
            )


if __name__ == "__main__":
    main()
