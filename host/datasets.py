"""Test images for the board and the bench: a tiny numpy reader, no torch (host/ cannot import
training/, which has the training-side loaders).

    images, labels, classes = test_set("fashion_mnist", limit=1000)   # uint8 N x 28 x 28 x 1
    images, labels, classes = test_set_for_shape((28, 28, 1))          # picks the dataset
    images = read_idx("t10k-images-idx3-ubyte.gz")                     # any IDX file

Images are channel-last uint8 `N x H x W x C` (host/FORMAT.md), labels int64 `(N,)`.
Fashion-MNIST: IDX files (optionally gzipped) in $ERN_DATA_FASHION_MNIST or
/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist). CIFAR-10: the python batches
folder (cifar-10-batches-py) in $ERN_DATA_CIFAR10 or data/cifar-10-batches-py, read with a
restricted unpickler (`read_cifar_batch`: numpy arrays, lists, ints and bytes in the batch dict
layout, nothing that can run code). Fashion-MNIST images must be 28 x 28, labels 0..classes-1.
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

from host.errors import ErnError

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


class DatasetError(ErnError, ValueError):
    """A dataset file that is missing or not what it should be (one-line message)."""


def check_labels(labels, count: int, classes: int, where: str) -> np.ndarray:
    """`labels` as int64 (count,) when they are integers in [0, classes); else DatasetError
    naming `where`, the shape or the first bad value."""
    labels = np.asarray(labels)
    if labels.shape != (count,):
        raise DatasetError(f"{where}: labels must have shape ({count},) (one per image), got {labels.shape}")
    if count and labels.dtype.kind not in "iu":
        raise DatasetError(f"{where}: labels must be integers, got {labels.dtype}")
    bad = np.flatnonzero((labels < 0) | (labels >= classes)) if count else []
    if len(bad):
        raise DatasetError(f"{where}: label {int(labels[bad[0]])} at index {int(bad[0])} is outside "
                           f"0..{classes - 1} ({classes} classes)")
    return labels.astype(np.int64, copy=False)


# numpy's pickle entry points (numpy 1 and 2 spellings) that a CIFAR-10 batch uses; nothing else.
_NUMPY_PICKLE = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                 ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                 ("numpy", "ndarray"), ("numpy", "dtype"),
                 ("_codecs", "encode")}   # how protocol-2 pickles written by Python 3 spell bytes


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: any other global (os.system, eval, ...) is refused."""

    def find_class(self, module, name):
        if (module, name) not in _NUMPY_PICKLE:
            raise pickle.UnpicklingError(f"refuses global {module}.{name} (only numpy arrays are allowed)")
        if name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs":
            import codecs
            return codecs.encode
        import importlib
        try:   # numpy 2 names it numpy._core, numpy 1 numpy.core
            multiarray = importlib.import_module("numpy._core.multiarray")
        except ImportError:
            multiarray = importlib.import_module("numpy.core.multiarray")
        return getattr(multiarray, name)


def read_cifar_batch(path) -> Tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: (uint8 N x 3 x 32 x 32, int64 labels (N,)). Restricted
    unpickling (_BatchUnpickler) and the layout {b"data": uint8 N x 3072, b"labels": N ints in
    0..9, ...} checked; DatasetError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found (CIFAR-10 python batch; set {CIFAR10_ENV})")
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
    except Exception as e:  # pickle raises many types on damaged or hostile input
        raise DatasetError(f"{path}: not a CIFAR-10 python batch ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{path}: not a CIFAR-10 python batch (expected a dict with b'data' and b'labels')")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shown = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{path}: b'data' must be uint8 N x 3072, got {shown}")
    if isinstance(labels, list) and not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                            for v in labels):
        raise DatasetError(f"{path}: b'labels' must be a list of integers")
    if not isinstance(labels, (list, np.ndarray)):
        raise DatasetError(f"{path}: b'labels' must be a list of integers, got {type(labels).__name__}")
    labels = check_labels(np.asarray(labels, dtype=np.int64) if isinstance(labels, list) else labels,
                          len(data), len(CIFAR10_CLASSES), str(path))
    return data.reshape(-1, 3, 32, 32), labels


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
    if images.shape[1:] != SHAPES["fashion_mnist"][:2]:
        raise DatasetError(f"{folder}: {prefix} images are {images.shape[1]}x{images.shape[2]}, "
                           f"Fashion-MNIST's are 28x28")
    labels = check_labels(labels, len(images), len(FASHION_MNIST_CLASSES), f"{folder}: {prefix} labels")
    images, labels = images[:limit], labels[:limit]
    return (np.ascontiguousarray(images[..., None]), labels.astype(np.int64),
            FASHION_MNIST_CLASSES)


def cifar10(split: str = "test", root=None, limit: Optional[int] = None) -> Split:
    """CIFAR-10 (python batches) as uint8 N x 32 x 32 x 3 and int64 labels."""
    folder = Path(root or os.environ.get(CIFAR10_ENV) or CIFAR10_DIR)
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for name in names:
        data, batch_labels = read_cifar_batch(folder / name)
        images.append(data)
        labels.append(batch_labels)
    images = np.concatenate(images)[:limit].transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.concatenate(labels)[:limit], CIFAR10_CLASSES


LOADERS = {"fashion_mnist": fashion_mnist, "cifar10": cifar10}


def test_set(dataset: str, limit: Optional[int] = None, root=None) -> Split:
    """The test split of a dataset by name (see LOADERS)."""
    if dataset not in LOADERS:
        raise DatasetError(f"unknown dataset {dataset!r} (known: {', '.join(LOADERS)})")
    return LOADERS[dataset]("test", root=root, limit=limit)


def dataset_for_shape(shape: Sequence[int]) -> str:
    """The dataset whose images have this H x W x C shape (a model package's input; a flattened
    input 1 x 1 x H*W: the one-channel dataset of H*W pixels)."""
    for name, dataset_shape in SHAPES.items():
        h, w, c = dataset_shape
        if tuple(shape) == dataset_shape or (c == 1 and tuple(shape) == (1, 1, h * w)):
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
