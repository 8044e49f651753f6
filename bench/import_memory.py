"""Peak host memory of importing an HF safetensors checkpoint, relative to its parameter bytes.

    python bench/import_memory.py [--preset small] [--vocab_size 32128] [--shards 1]

Writes a random checkpoint of the preset's shapes (float32, HF layout) to a temporary
folder, then imports it in fresh child processes and reports, for each loader, the peak
resident memory *added* by the import (VmHWM after minus VmRSS before, with the high-water
mark reset via /proc/self/clear_refs) divided by the parameter bytes:

* ``load_params``: this project's streaming importer (target: < 1.3)
* ``load_file + transpose``: the naive reference that materializes the whole file first
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, sys
import numpy as np


def status_kib(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


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


if __name__ == "__main__":
    main()
