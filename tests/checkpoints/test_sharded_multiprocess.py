"""2 processes x 2 CPU devices (jax.distributed over gloo) load HF and T5X legacy
checkpoints sharded: each process's shards equal the host loader's slices, and each
process holds (and reads) about half of the parameters."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from instructrec_jax.checkpoints import export_hf
from instructrec_jax.models.t5 import init_params
from tests.checkpoints.test_t5x_formats import CONFIG, write_t5x_legacy
from tests.local_cluster import start_workers, wait_all

DRIVER = Path(__file__).resolve().parent / "sharded_driver.py"


@pytest.mark.multiprocess
@pytest.mark.slow
def test_two_processes_each_load_their_half(tmp_path):
    params = jax.tree_util.tree_map(np.asarray, init_params(CONFIG, jax.random.PRNGKey(5)))
    hf = export_hf(params, CONFIG, tmp_path / "hf")
    write_t5x_legacy(tmp_path / "legacy" / "checkpoint_2", params)
    out = tmp_path / "result.json"
    args = [f"--checkpoint={hf}", f"--checkpoint={tmp_path / 'legacy'}", f"--out={out}"]
    wait_all(start_workers(DRIVER, [*args, "--mesh=2,2", "--devices=2"], 2))
    for process in range(2):
        results = json.loads(Path(f"{out}.{process}").read_text())
        assert len(results) == 4  # 2 checkpoints x (unrolled, scanned)
        for result in results:
            # FSDP over the 2 processes: half of each embed axis, plus small replicas.
            assert result["held_bytes"] < 0.6 * result["total_bytes"], result
