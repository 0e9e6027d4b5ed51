"""Data loaders on small fixture files made here, and their one-line errors."""
import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from training import data


def write_idx(path, array, gz=True):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
        f.write(payload)


@pytest.fixture
def fmnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 8)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    return tmp_path


def test_fashion_mnist_from_idx_files(fmnist_dir):
    split = data.load("fashion_mnist", "test", fmnist_dir)
    assert split.images.dtype == torch.uint8 and split.images.shape == (8, 1, 28, 28)
    assert split.labels.dtype == torch.int64 and len(split.classes) == 10


def test_fashion_mnist_env_override(fmnist_dir, monkeypatch):
    monkeypatch.setenv(data.FASHION_MNIST_ENV, str(fmnist_dir))
    assert len(data.load("fashion_mnist", "train")) == 20


def test_plain_idx_files_work_too(tmp_path):
    write_idx(tmp_path / "x", np.arange(12).reshape(3, 4), gz=False)
    assert data.read_idx(tmp_path / "x").tolist() == np.arange(12).reshape(3, 4).tolist()


def test_missing_file_names_it(tmp_path):
    with pytest.raises(data.DataError, match=r"t10k-images-idx3-ubyte\[\.gz\]: file not found"):
        data.load("fashion_mnist", "test", tmp_path)


def test_truncated_idx_names_file_and_sizes(fmnist_dir):
    path = fmnist_dir / "t10k-images-idx3-ubyte.gz"
    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(data.DataError, match=r"t10k-images-idx3-ubyte\.gz: IDX says \(8, 28, 28\)"):
        data.load("fashion_mnist", "test", fmnist_dir)


def test_bad_magic(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(data.DataError, match="bad magic number"):
        data.read_idx(tmp_path / "bad")


def test_cifar10_batches(tmp_path):
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                 b"labels": list(rng.integers(0, 10, 4))}
        with open(tmp_path / name, "wb") as f:
            pickle.dump(batch, f)
    train = data.load("cifar10", "train", tmp_path)
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == torch.uint8
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(data.DataError, match="test_batch: not a CIFAR-10 python batch"):
        data.load("cifar10", "test", tmp_path)


def test_image_folder(tmp_path):
    from PIL import Image
    for cls in ("cat", "dog"):
        (tmp_path / "val" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((40, 50, 3), 60 * i, np.uint8)).save(tmp_path / "val" / cls / f"{i}.png")
    split = data.image_folder("test", tmp_path, size=32)
    assert split.images.shape == (4, 3, 32, 32) and split.classes == ("cat", "dog")
    assert split.labels.tolist() == [0, 0, 1, 1]
    (tmp_path / "val" / "dog" / "2.png").write_bytes(b"garbage")
    with pytest.raises(data.DataError, match="2.png: not a readable image"):
        data.image_folder("test", tmp_path, size=32)


def test_unknown_dataset_lists_choices():
    with pytest.raises(data.DataError, match="unknown dataset 'mnist'; known: fashion_mnist"):
        data.load("mnist", "train")


def test_augment_keeps_pixels_and_shape():
    images = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8)
    out = data.augment(images, pad=2, generator=torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == images.shape
    # a shift by (dy, dx) within +-2 and a flip: some crop of the original must match
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(16):
        candidates = [padded[i, :, dy:dy + 28, dx:dx + 28] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(-1)) for c in candidates)
    zero = data.augment(images, pad=0, flip=False)
    assert torch.equal(zero, images)
