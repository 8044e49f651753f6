"""Read safetensors files tensor by tensor with bounded extra memory.

A safetensors file is an 8-byte little-endian header size, a JSON header
(``{name: {"dtype", "shape", "data_offsets": [begin, end]}}``) and raw little-endian data.
Reading with ordinary file reads (not a memory map, whose touched pages count as resident
memory) in row chunks lets the importer write each tensor straight into its final array,
transposed and cast on the way, so the extra memory is one chunk rather than one tensor.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path
from typing import BinaryIO

import ml_dtypes
import numpy as np

CHUNK_BYTES = 8 * 2**20

DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One tensor's header entry; ``offset`` is absolute in the file."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int
    nbytes: int


def read_header(path: str | Path) -> list[TensorInfo]:
    """The tensors of a safetensors file, in file order; raises naming the file on damage.

    Every size in the header is checked against the file's size before anything is
    allocated, so a damaged or forged header is a ``ValueError``, never a ``MemoryError``.
    """
    path = Path(path)
    file_size = path.stat().st_size
    with open(path, "rb") as handle:
        size_bytes = handle.read(8)
        if len(size_bytes) != 8:
            raise ValueError(f"{path}: not a safetensors file (too short)")
        (header_size,) = struct.unpack("<Q", size_bytes)
        if header_size > file_size - 8:
            raise ValueError(
                f"{path}: damaged safetensors header (it claims {header_size} bytes; the file "
                f"has {file_size})"
            )
        try:
            header = json.loads(handle.read(header_size))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: unreadable safetensors header ({error})") from error
    if not isinstance(header, dict):
        raise ValueError(f"{path}: damaged safetensors header (not a JSON object)")
    data_start = 8 + header_size
    infos = [
        _tensor_info(path, name, entry, data_start, file_size - data_start)
        for name, entry in header.items()
        if name != "__metadata__"
    ]
    return sorted(infos, key=lambda info: info.offset)


def _tensor_info(
    path: Path, name: str, entry: object, data_start: int, data_size: int
) -> TensorInfo:
    """One header entry, checked: known dtype, non-negative shape, byte range inside the
    file's data section and of the size the shape needs."""
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: tensor {name} has a damaged header entry")
    try:
        dtype = DTYPES.get(entry["dtype"])
        shape = tuple(int(size) for size in entry["shape"])
        begin, end = (int(offset) for offset in entry["data_offsets"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: tensor {name} has a damaged header entry ({error})") from error
    if dtype is None:
        raise ValueError(f"{path}: tensor {name} has unsupported dtype {entry['dtype']!r}")
    if min(shape, default=0) < 0 or not 0 <= begin <= end <= data_size:
        raise ValueError(
            f"{path}: tensor {name} lies outside the file (bytes {begin}..{end} of {data_size}, "
            f"shape {shape})"
        )
    if end - begin != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: tensor {name} has {end - begin} bytes for shape {shape}")
    return TensorInfo(name, dtype, shape, data_start + begin, end - begin)


def _read_exact(handle: BinaryIO, buffer: np.ndarray, where: str) -> None:
    view = memoryview(buffer.reshape(-1).view(np.uint8))
    filled = 0
    while filled < len(view):
        count = handle.readinto(view[filled:])
        if not count:
            raise ValueError(f"{where}: file ends inside the tensor data")
        filled += count


def read_tensor(
    handle: BinaryIO, info: TensorInfo, out_dtype: np.dtype, transpose: bool, where: str
) -> np.ndarray:
    """The tensor as ``out_dtype`` (transposed if asked; 2-D only), read in row chunks."""
    shape = info.shape
    if transpose and len(shape) != 2:
        raise ValueError(f"{where}: cannot transpose tensor {info.name} of shape {shape}")
    out = np.empty(shape[::-1] if transpose else shape, out_dtype)
    handle.seek(info.offset)
    if not shape or int(np.prod(shape)) == 0:
        if shape:
            return out
        scalar = np.empty((), info.dtype)
        _read_exact(handle, scalar, where)
        out[...] = scalar
        return out
    row_bytes = max(1, int(np.prod(shape[1:])) * info.dtype.itemsize)
    rows_per_chunk = max(1, CHUNK_BYTES // row_bytes)
    for start in range(0, shape[0], rows_per_chunk):
        stop = min(shape[0], start + rows_per_chunk)
        if not transpose and info.dtype == out.dtype:
            _read_exact(handle, out[start:stop], where)
            continue
        chunk = np.empty((stop - start, *shape[1:]), info.dtype)
        _read_exact(handle, chunk, where)
        if transpose:
            out[:, start:stop] = chunk.T
        else:
            out[start:stop] = chunk
    return out


Index = tuple[slice, ...]


def read_tensor_slice(
    handle: BinaryIO,
    info: TensorInfo,
    index: Index,
    out_dtype: np.dtype,
    transpose: bool,
    where: str,
) -> np.ndarray:
    """``read_tensor(...)[index]`` without reading the rest of the tensor.

    ``index`` holds one step-1 slice with concrete bounds per axis of the *result* (the
    transposed layout when ``transpose``). Only the rows (axis 0 in the file) the slice
    covers are read, in chunks of about :data:`CHUNK_BYTES`; the other axes are cut from
    each chunk, so the extra memory is one chunk.
    """
    shape = info.shape
    if transpose and len(shape) != 2:
        raise ValueError(f"{where}: cannot transpose tensor {info.name} of shape {shape}")
    if len(index) != len(shape):
        raise ValueError(f"{where}: index {index} does not fit tensor {info.name} {shape}")
    file_index = index[::-1] if transpose else index
    if not shape:
        return read_tensor(handle, info, out_dtype, transpose, where)
    rows, rest = file_index[0], file_index[1:]
    out_shape = tuple(part.stop - part.start for part in file_index)
    out = np.empty(out_shape[::-1] if transpose else out_shape, out_dtype)
    if out.size == 0:
        return out
    row_elements = int(np.prod(shape[1:]))
    row_bytes = max(1, row_elements * info.dtype.itemsize)
    rows_per_chunk = max(1, CHUNK_BYTES // row_bytes)
    for start in range(rows.start, rows.stop, rows_per_chunk):
        stop = min(rows.stop, start + rows_per_chunk)
        handle.seek(info.offset + start * row_bytes)
        chunk = np.empty((stop - start, *shape[1:]), info.dtype)
        _read_exact(handle, chunk, where)
        part = chunk[(slice(None), *rest)]
        target = slice(start - rows.start, stop - rows.start)
        if transpose:
            out[:, target] = part.T
        else:
            out[target] = part
    return out
