"""Datasets as uint8 image tensors N x C x H x W plus int64 labels, held in memory.

The network's input is the raw 8-bit pixel: no normalisation here or anywhere else.
Every loader fails with one line naming the file and what was expected.
"""
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from host import datasets as host_datasets
from host.errors import ErnError

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "ERN_DATA_FASHION_MNIST"
CIFAR10_ENV = "ERN_DATA_CIFAR10"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


class DataError(ErnError, ValueError):
    """A dataset file is missing or not what it should be (one-line message)."""


@dataclass
class Split:
    images: torch.Tensor   # uint8, N x C x H x W
    labels: torch.Tensor   # int64, N
    classes: tuple

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise DataError(f"images must be uint8 N x C x H x W, got {self.images.dtype} "
                            f"{tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise DataError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self):
        return len(self.labels)


def _open_maybe_gz(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path) -> np.ndarray:
    """Read an IDX file (MNIST format), optionally gzipped."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found (expected an IDX file)")
    try:
        with _open_maybe_gz(path) as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX says {dims} = {expected} bytes of data, "
                        f"file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise DataError(f"{folder / stem}[.gz]: file not found (Fashion-MNIST IDX; "
                    f"apt-get install dataset-fashion-mnist or set {FASHION_MNIST_ENV})")


def fashion_mnist(split: str, root=None) -> Split:
    folder = Path(root or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3:
        raise DataError(f"{folder}: {prefix} images must be N x H x W, got {images.shape}")
    if images.shape[1:] != (28, 28):
        raise DataError(f"{folder}: {prefix} images are {images.shape[1]}x{images.shape[2]}, "
                        f"Fashion-MNIST's are 28x28")
    try:
        labels = host_datasets.check_labels(labels, len(images), len(FASHION_MNIST_CLASSES),
                                            f"{folder}: {prefix} labels")
    except host_datasets.DatasetError as e:
        raise DataError(str(e)) from None
    return Split(torch.from_numpy(images.copy()).unsqueeze(1),
                 torch.from_numpy(labels.astype(np.int64)), FASHION_MNIST_CLASSES)


def cifar10(split: str, root=None) -> Split:
    """The standard python-pickle batches folder (cifar-10-batches-py)."""
    folder = Path(root or os.environ.get(CIFAR10_ENV) or "data/cifar-10-batches-py")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for name in names:
        try:   # host/datasets.py's reader: restricted unpickling, the batch layout checked
            data, batch_labels = host_datasets.read_cifar_batch(folder / name)
        except host_datasets.DatasetError as e:
            raise DataError(str(e)) from None
        images.append(data)
        labels.append(batch_labels)
    return Split(torch.from_numpy(np.concatenate(images)),
                 torch.from_numpy(np.concatenate(labels)), CIFAR10_CLASSES)


def image_folder(split: str, root=None, size: int = 224) -> Split:
    """ImageNet-style tree: <root>/<split>/<class>/<image>; resized (shorter side, centre
    crop) to size x size RGB."""
    from PIL import Image  # only this loader needs Pillow
    if root is None:
        raise DataError("image_folder needs --data-root <folder with train/ and val/>")
    folder = Path(root) / ("train" if split == "train" else "val")
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found (expected <root>/{folder.name}/<class>/*)")
    classes = tuple(sorted(d.name for d in folder.iterdir() if d.is_dir()))
    if not classes:
        raise DataError(f"{folder}: no class folders")
    images, labels = [], []
    for label, cls in enumerate(classes):
        for path in sorted((folder / cls).iterdir()):
            try:
                img = Image.open(path).convert("RGB")
            except Exception as e:
                raise DataError(f"{path}: not a readable image ({type(e).__name__})") from None
            w, h = img.size
            scale = size / min(w, h)
            img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))))
            left, top = (img.size[0] - size) // 2, (img.size[1] - size) // 2
            img = img.crop((left, top, left + size, top + size))
            images.append(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
            labels.append(label)
    return Split(torch.from_numpy(np.stack(images)), torch.tensor(labels), classes)


def synthetic(split: str, root=None, n: int = 512, shape=(1, 28, 28), classes: int = 10,
              seed: int = 0) -> Split:
    """A learnable toy set for tests: each class is a bright square at its own position."""
    g = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
    labels = torch.randint(0, classes, (n,), generator=g)
    images = torch.randint(0, 60, (n,) + tuple(shape), generator=g, dtype=torch.int64)
    c, h, w = shape
    for i, y in enumerate(labels.tolist()):
        r, col = (y * 5) % (h - 6), (y * 7) % (w - 6)
        images[i, :, r:r + 6, col:col + 6] += 180
    return Split(images.clamp(0, 255).to(torch.uint8), labels, tuple(str(i) for i in range(classes)))


def imagenet_random(split: str, root=None, n: int = 32, seed: int = 0) -> Split:
    """Seeded uniform uint8 images of 3 x 256 x 256 with random labels of 1,000 classes: the
    input of a random-init ImageNet ERN (training/random_init.py), where no ImageNet exists.
    Good for exactness checks (class sums), meaningless for accuracy."""
    g = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
    images = torch.randint(0, 256, (n, 3, 256, 256), generator=g, dtype=torch.int64).to(torch.uint8)
    return Split(images, torch.randint(0, 1000, (n,), generator=g), tuple(str(i) for i in range(1000)))


DATASETS = {"fashion_mnist": fashion_mnist, "cifar10": cifar10, "image_folder": image_folder,
            "synthetic": synthetic, "imagenet_random": imagenet_random}


def load(name: str, split: str, root=None) -> Split:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', not {split!r}")
    return DATASETS[name](split, root)


def augment(images: torch.Tensor, pad: int = 2, flip: bool = True, generator=None) -> torch.Tensor:
    """Random shift (zero-pad and crop back) and horizontal flip, on a uint8 batch, in torch."""
    n, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy.view(n, 1) + torch.arange(h).view(1, h))                 # n x h
    cols = (dx.view(n, 1) + torch.arange(w).view(1, w))                 # n x w
    idx_n = torch.arange(n).view(n, 1, 1, 1)
    idx_c = torch.arange(c).view(1, c, 1, 1)
    out = padded[idx_n, idx_c, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
        out[mask] = out[mask].flip(-1)
    return out
