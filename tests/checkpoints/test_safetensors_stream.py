"""The chunked safetensors reader agrees with the safetensors library for every layout."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import torch
from safetensors.numpy import save_file
from safetensors.torch import save_file as save_torch_file

from instructrec_jax.checkpoints import safetensors_stream
from instructrec_jax.checkpoints.safetensors_stream import read_header, read_tensor


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch):
    # Force many chunks per tensor.
    monkeypatch.setattr(safetensors_stream, "CHUNK_BYTES", 24)


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("out_dtype", [np.float32, ml_dtypes.bfloat16])
def test_read_matches_library(tmp_path, transpose, out_dtype):
    rng = np.random.default_rng(0)
    tensors = {
        "b.matrix": rng.standard_normal((7, 5), dtype=np.float32),
        "a.half": rng.standard_normal((3, 4)).astype(np.float16),
        "c.vector": rng.standard_normal(9, dtype=np.float32),
    }
    save_file(tensors, str(tmp_path / "t.safetensors"))
    infos = {info.name: info for info in read_header(tmp_path / "t.safetensors")}
    assert {name: info.shape for name, info in infos.items()} == {
        name: value.shape for name, value in tensors.items()
    }
    with open(tmp_path / "t.safetensors", "rb") as handle:
        for name in ("b.matrix", "a.half"):
            got = read_tensor(handle, infos[name], np.dtype(out_dtype), transpose, "t")
            want = tensors[name].T if transpose else tensors[name]
            assert got.dtype == out_dtype
            np.testing.assert_array_equal(got, want.astype(out_dtype))
        vector = read_tensor(handle, infos["c.vector"], np.dtype(np.float32), False, "t")
        np.testing.assert_array_equal(vector, tensors["c.vector"])


def test_bfloat16_source(tmp_path):
    values = torch.randn(6, 4, dtype=torch.bfloat16)
    save_torch_file({"w": values}, str(tmp_path / "bf.safetensors"))
    (info,) = read_header(tmp_path / "bf.safetensors")
    with open(tmp_path / "bf.safetensors", "rb") as handle:
        got = read_tensor(handle, info, np.dtype(np.float32), True, "bf")
    np.testing.assert_array_equal(got, values.float().numpy().T)


def test_damaged_files_are_named(tmp_path):
    (tmp_path / "short.safetensors").write_bytes(b"abc")
    with pytest.raises(ValueError, match=r"short\.safetensors: not a safetensors file"):
        read_header(tmp_path / "short.safetensors")
    save_file({"w": np.ones((4, 4), np.float32)}, str(tmp_path / "cut.safetensors"))
    data = (tmp_path / "cut.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-8])
    (info,) = read_header(tmp_path / "cut.safetensors")
    with (
        open(tmp_path / "cut.safetensors", "rb") as handle,
        pytest.raises(ValueError, match="ends inside"),
    ):
        read_tensor(handle, info, np.dtype(np.float32), False, "cut.safetensors")
