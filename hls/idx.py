"""A tiny reader of IDX files (the MNIST / Fashion-MNIST format) and of the Fashion-MNIST test set.

hls/ must not import training/, so the C-simulation flow reads the test images itself:

    images, labels = fashion_mnist_test(limit=1000)   # uint8 (N, 28, 28, 1), uint8 (N,)

The folder is $ERN_DATA_FASHION_MNIST, else /usr/share/datasets/fashion-mnist (Debian's
dataset-fashion-mnist package); files t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each
optionally gzipped.
"""
import gzip
import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

FASHION_MNIST_ENV = "ERN_DATA_FASHION_MNIST"
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IdxError(ValueError):
    """A missing or malformed IDX file (one-line message)."""


def read_idx(path, limit: Optional[int] = None) -> np.ndarray:
    """The array of an IDX file (gzipped when the name ends in .gz); `limit` keeps the first
    items of the first dimension."""
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            raw = f.read()
    except FileNotFoundError:
        raise IdxError(f"{path}: file not found") from None
    except (OSError, EOFError) as e:
        raise IdxError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise IdxError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{path}: truncated header")
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_DTYPES[raw[2]])
    count = int(np.prod(shape)) if shape else 1
    if len(raw) - header < count * dtype.itemsize:
        raise IdxError(f"{path}: truncated data ({len(raw) - header} bytes for shape {shape})")
    data = np.frombuffer(raw, dtype, count, header).reshape(shape)
    if limit is not None:
        data = data[:limit]
    return np.ascontiguousarray(data).astype(dtype.newbyteorder("="), copy=False)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise IdxError(f"{folder}: no {stem} or {stem}.gz (install dataset-fashion-mnist or set "
                   f"{FASHION_MNIST_ENV}=<folder of the IDX files>)")


def fashion_mnist_test(limit: Optional[int] = None, folder=None) -> Tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST test images (uint8 N x 28 x 28 x 1) and labels (uint8 N)."""
    folder = Path(folder or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    images = read_idx(_find(folder, "t10k-images-idx3-ubyte"), limit)
    labels = read_idx(_find(folder, "t10k-labels-idx1-ubyte"), limit)
    if images.ndim != 3 or len(images) != len(labels):
        raise IdxError(f"{folder}: expected N x 28 x 28 images and N labels, got {images.shape} and "
                       f"{labels.shape}")
    return images[..., None].astype(np.uint8, copy=False), labels.astype(np.uint8, copy=False)
