"""The chunked safetensors reader agrees with the safetensors library for every layout."""

from __future__ import annotations

import struct

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
    with pytest.raises(ValueError, match=r"cut\.safetensors: tensor w lies outside the file"):
        read_header(tmp_path / "cut.safetensors")


def _forged(tmp_path, header: bytes, header_size: int | None = None, data: bytes = b""):
    path = tmp_path / "forged.safetensors"
    size = len(header) if header_size is None else header_size
    path.write_bytes(struct.pack("<Q", size) + header + data)
    return path


@pytest.mark.parametrize(
    "header, header_size, message",
    [
        (b"{}", 2**62, "claims 4611686018427387904 bytes"),
        (b"[1, 2]", None, "not a JSON object"),
        (b'{"w": 3}', None, "damaged header entry"),
        (b'{"w": {"dtype": "F32", "shape": [4]}}', None, "damaged header entry"),
        (
            b'{"w": {"dtype": "F32", "shape": [10000000000], "data_offsets": [0, 40000000000]}}',
            None,
            "lies outside the file",
        ),
        (b'{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}', None, "outside"),
    ],
)
def test_forged_headers_are_errors_not_memory_errors(tmp_path, header, header_size, message):
    path = _forged(tmp_path, header, header_size, data=b"\0" * 16)
    with pytest.raises(ValueError, match=message) as error:
        read_header(path)
    assert "forged.safetensors" in str(error.value)
