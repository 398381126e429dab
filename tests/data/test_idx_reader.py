"""The IDX reader on files written byte by byte here, plain, .gz and .xz."""

import gzip
import lzma
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data.idx import read_idx, write_idx
from zoo.errors import DataError

COMPRESS = {"": lambda b: b, ".gz": gzip.compress, ".xz": lzma.compress}


def idx_bytes(code: int, shape: tuple[int, ...], body: bytes) -> bytes:
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape) + body


@pytest.mark.parametrize("suffix", ["", ".gz", ".xz"])
def test_reads_images_and_labels_in_every_compression(tmp_path: Path, suffix: str) -> None:
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    images = tmp_path / f"images-idx3-ubyte{suffix}"
    labels = tmp_path / f"labels-idx1-ubyte{suffix}"
    images.write_bytes(COMPRESS[suffix](idx_bytes(0x08, (2, 3, 4), pixels.tobytes())))
    labels.write_bytes(COMPRESS[suffix](idx_bytes(0x08, (2,), bytes([7, 3]))))

    x, y = read_idx(images), read_idx(labels)
    assert x.dtype == torch.uint8 and x.shape == (2, 3, 4)
    assert torch.equal(x, torch.from_numpy(pixels))
    assert y.tolist() == [7, 3]


def test_reads_big_endian_wider_types(tmp_path: Path) -> None:
    path = tmp_path / "ints.idx"
    path.write_bytes(idx_bytes(0x0C, (3,), struct.pack(">3i", -1, 256, 70000)))
    assert read_idx(path).tolist() == [-1, 256, 70000]
    path.write_bytes(idx_bytes(0x0D, (1, 2), struct.pack(">2f", 0.5, -2.0)))
    t = read_idx(path)
    assert t.dtype == torch.float32 and t.tolist() == [[0.5, -2.0]]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.float64])
@pytest.mark.parametrize("suffix", ["", ".gz", ".xz"])
def test_write_then_read_round_trips(tmp_path: Path, dtype: torch.dtype, suffix: str) -> None:
    tensor = (torch.arange(24) - 5).reshape(2, 3, 4).to(dtype)
    path = tmp_path / f"t.idx{suffix}"
    write_idx(path, tensor)
    back = read_idx(path)
    assert back.dtype == dtype and torch.equal(back, tensor)


def test_bad_magic_and_truncated_files_raise_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x1f\x8b\x08\x08 not idx")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(idx_bytes(0x08, (10,), bytes(5)))
    with pytest.raises(DataError, match="holds 5 bytes"):
        read_idx(short)
    broken_xz = tmp_path / "broken.xz"
    broken_xz.write_bytes(b"not xz at all")
    with pytest.raises(DataError, match="cannot read"):
        read_idx(broken_xz)
