"""Subprocess driver of the multi-process sharded-loading test (run as a script).

    python sharded_driver.py --checkpoint=DIR [--checkpoint=DIR2 ...] --out=OUT.json
        --mesh=D,M [--devices=K] [--process_id=i --num_processes=n --port=p]

Loads each ``DIR`` (any format; the model is the checkpoint tests' ``CONFIG``, unrolled
and scanned) with FSDP shardings over all devices of the job, checks every addressable
shard against the same slice of the host-loaded parameters, and writes (per process and
load) the bytes of parameters this process holds and of all parameters to
``OUT.json.<process_id>``.
"""

from __future__ import annotations

import argparse
import json

from tests.local_cluster import join_cluster


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", action="append", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mesh", default="4,1")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--process_id", type=int, default=0)
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    join_cluster(args.devices, args.process_id, args.num_processes, args.port)

    import flax
    import jax
    import numpy as np

    from instructrec_jax.checkpoints import load_params
    from tests.checkpoints.test_sharded_loading import shardings
    from tests.checkpoints.test_t5x_formats import CONFIG

    mesh_shape = tuple(int(size) for size in args.mesh.split(","))
    results = []
    for checkpoint in args.checkpoint:
        for scan_layers in (False, True):
            config = CONFIG.replace(scan_layers=scan_layers)
            layout = shardings(config, mesh_shape)
            loaded = flax.traverse_util.flatten_dict(
                load_params(checkpoint, config, layout), sep="/"
            )
            host = flax.traverse_util.flatten_dict(load_params(checkpoint, config), sep="/")
            held = total = 0
            for path, array in loaded.items():
                total += host[path].nbytes
                seen = set()
                for shard in array.addressable_shards:
                    want = host[path][shard.index]
                    np.testing.assert_array_equal(np.asarray(shard.data), want, path)
                    key = tuple((part.start, part.stop) for part in shard.index)
                    if key not in seen:
                        seen.add(key)
                        held += shard.data.nbytes
            results.append(
                {
                    "checkpoint": checkpoint,
                    "scan_layers": scan_layers,
                    "held_bytes": held,
                    "total_bytes": total,
                }
            )
    with open(f"{args.out}.{jax.process_index()}", "w") as stream:
        json.dump(results, stream)


if __name__ == "__main__":
    main()
