"""Test images for the board and the bench: a tiny numpy reader, no torch (host/ cannot import
training/, which has the training-side loaders).

    images, labels, classes = test_set("fashion_mnist", limit=1000)   # uint8 N x 28 x 28 x 1
    images, labels, classes = test_set_for_shape((28, 28, 1))          # picks the dataset
    images = read_idx("t10k-images-idx3-ubyte.gz")                     # any IDX file

Images are channel-last uint8 `N x H x W x C` (host/FORMAT.md), labels int64 `(N,)`.
Fashion-MNIST: IDX files (optionally gzipped) in $ERN_DATA_FASHION_MNIST or
/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist). CIFAR-10: the python batches
folder (cifar-10-batches-py) in $ERN_DATA_CIFAR10 or data/cifar-10-batches-py.
Every failure raises DatasetError with one line naming the file and what was expected.

Runs on the board: Python 3.10, numpy >= 1.21, nothing else.
"""
import gzip
import json
import os
import pickle
import struct
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "ERN_DATA_FASHION_MNIST"
CIFAR10_DIR = "data/cifar-10-batches-py"
CIFAR10_ENV = "ERN_DATA_CIFAR10"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")

# The input shape (H, W, C) each dataset gives: how a model package picks its test set.
SHAPES = {"fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}

Split = Tuple[np.ndarray, np.ndarray, Tuple[str, ...]]  # images, labels, class names


class DatasetError(ValueError):
    """A dataset file that is missing or not what it should be (one-line message)."""


def read_idx(path) -> np.ndarray:
    """An IDX file (the MNIST format: unsigned bytes), optionally gzipped, as a uint8 array."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found (expected an IDX file)")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise DatasetError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise DatasetError(f"{path}: the header says {dims} = {expected} bytes, "
                           f"the file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _idx_file(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder / stem}[.gz]: file not found (Fashion-MNIST IDX files: "
                       f"apt-get install dataset-fashion-mnist, or set {FASHION_MNIST_ENV})")


def fashion_mnist(split: str = "test", root=None, limit: Optional[int] = None) -> Split:
    """Fashion-MNIST as uint8 N x 28 x 28 x 1 and int64 labels."""
    folder = Path(root or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_idx_file(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_idx_file(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"{folder}: expected N x H x W images and N labels, got "
                           f"{images.shape} and {labels.shape}")
    images, labels = images[:limit], labels[:limit]
    return (np.ascontiguousarray(images[..., None]), labels.astype(np.int64),
            FASHION_MNIST_CLASSES)


def cifar10(split: str = "test", root=None, limit: Optional[int] = None) -> Split:
    """CIFAR-10 (python batches) as uint8 N x 32 x 32 x 3 and int64 labels."""
    folder = Path(root or os.environ.get(CIFAR10_ENV) or CIFAR10_DIR)
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for name in names:
        path = folder / name
        if not path.is_file():
            raise DatasetError(f"{path}: file not found (CIFAR-10 python batch; set {CIFAR10_ENV})")
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            images.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[b"labels"], np.int64))
        except Exception as e:  # pickle raises many types on damaged input
            raise DatasetError(f"{path}: not a CIFAR-10 python batch "
                               f"({type(e).__name__}: {e})") from None
    images = np.concatenate(images)[:limit].transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.concatenate(labels)[:limit], CIFAR10_CLASSES


LOADERS = {"fashion_mnist": fashion_mnist, "cifar10": cifar10}


def test_set(dataset: str, limit: Optional[int] = None, root=None) -> Split:
    """The test split of a dataset by name (see LOADERS)."""
    if dataset not in LOADERS:
        raise DatasetError(f"unknown dataset {dataset!r} (known: {', '.join(LOADERS)})")
    return LOADERS[dataset]("test", root=root, limit=limit)


def dataset_for_shape(shape: Sequence[int]) -> str:
    """The dataset whose images have this H x W x C shape (a model package's input)."""
    for name, dataset_shape in SHAPES.items():
        if tuple(shape) == dataset_shape:
            return name
    raise DatasetError(f"no known dataset has images of shape {tuple(shape)} "
                       f"(known: {', '.join(f'{k} {v}' for k, v in SHAPES.items())})")


def test_set_for_shape(shape: Sequence[int], limit: Optional[int] = None, root=None) -> Split:
    """The test split of the dataset whose images have this H x W x C shape."""
    return test_set(dataset_for_shape(shape), limit=limit, root=root)


def load_test_images(shape: Sequence[int], limit: int, samples_dir=None):
    """(images, labels, class names, source): a samples/ folder's images (a deploy folder has
    them: images.npy, labels.npy, classes.json) when it has `limit` of them, else the dataset's
    test split for this input shape, else every sample there is."""
    samples = None
    folder = Path(samples_dir) if samples_dir is not None else None
    if folder is not None and (folder / "images.npy").is_file():
        images = np.load(folder / "images.npy")
        labels = np.load(folder / "labels.npy") if (folder / "labels.npy").is_file() else None
        names = (json.loads((folder / "classes.json").read_text())
                 if (folder / "classes.json").is_file() else None)
        samples = images, labels, names
        if len(images) >= limit:
            return images[:limit], None if labels is None else labels[:limit], names, str(folder)
    try:
        images, labels, names = test_set_for_shape(shape, limit=limit)
        return images, labels, list(names), f"{dataset_for_shape(shape)} test set"
    except DatasetError:
        if samples is None:
            raise
        return samples + (f"{folder} (all {len(samples[0])} samples: no dataset here)",)
