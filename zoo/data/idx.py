"""IDX files (the MNIST format), plain, .gz or .xz: one generic reader and the matching writer."""

from __future__ import annotations

import gzip
import lzma
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from zoo.errors import DataError

# IDX type code -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/).
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}
SUFFIXES = ("", ".gz", ".xz")


def _open(path: Path, mode: str = "rb", preset: int = 9) -> BinaryIO:
    if path.suffix == ".gz":
        return gzip.open(path, mode)
    if path.suffix == ".xz":
        return lzma.open(path, mode, preset=preset if "w" in mode else None)
    return open(path, mode)


def read_idx(path: Path) -> torch.Tensor:
    """The array stored in an IDX file, any element type and rank, decompressed by file suffix."""
    try:
        with _open(path) as f:
            data = f.read()
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise DataError(f"cannot read IDX file {path}: {e}") from e
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {data[:4].hex()})")
    dtype, ndim = np.dtype(_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(shape))
    if len(data) - header != count * dtype.itemsize:
        raise DataError(f"{path}: IDX header says {shape} but holds {len(data) - header} bytes of data")
    array = np.frombuffer(data, dtype, count, header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("=")))


def write_idx(path: Path, tensor: torch.Tensor, preset: int = 9) -> None:
    """Write `tensor` as an IDX file, compressed by suffix (.gz, or .xz with the given preset)."""
    array = tensor.cpu().numpy()
    code = _CODES[array.dtype.newbyteorder("=")]
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    body = array.astype(np.dtype(_DTYPES[code])).tobytes()
    with _open(path, "wb", preset) as f:
        f.write(header + body)
