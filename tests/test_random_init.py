"""training/random_init.py: the checkpoint `make` falls back to when a model has no trained one."""
import subprocess
import sys

import pytest
import torch

from training import checkpoint, data
from training.random_init import data_shape, main, random_model


def test_imagenet_family_is_made_for_256_pixels_and_1000_classes():
    assert data_shape("ern18_x075") == {"dataset": "imagenet_random", "in_channels": 3,
                                        "num_classes": 1000, "image_size": 256}
    assert data_shape("bnn_lfc_w1a1")["image_size"] == 28
    assert data_shape("ern_tiny")["dataset"] == "fashion_mnist"


def test_norms_are_randomized_with_negative_scales_and_seeded():
    a, _ = random_model("bnn_tfc_w1a1", seed=3)
    b, _ = random_model("bnn_tfc_w1a1", seed=3)
    norms = [m for m in a.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert norms and all((m.weight < 0).any() and (m.running_mean != 0).any() for m in norms)
    tensor_norms = [m for m in a.modules() if type(m).__name__ == "TensorNorm"]
    assert tensor_norms and all(float(m.running_var.flatten()[0]) != 1.0 for m in tensor_norms)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_written_checkpoint_loads_and_default_path_falls_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert checkpoint.default_path("bnn_tfc_w1a1") == checkpoint.trained_path("bnn_tfc_w1a1")
    assert main(["--model", "bnn_tfc_w1a1", "--seed", "1"]) == 0
    path = checkpoint.random_init_path("bnn_tfc_w1a1")
    assert checkpoint.default_path("bnn_tfc_w1a1") == path
    model, ckpt = checkpoint.load_model(path, expected_model="bnn_tfc_w1a1")
    assert ckpt["epoch"] == 0 and ckpt["image_size"] == 28 and ckpt["random_init_seed"] == 1
    # nothing the user made is overwritten without --force
    before = path.read_bytes()
    assert main(["--model", "bnn_tfc_w1a1", "--seed", "2"]) == 2
    assert path.read_bytes() == before
    assert main(["--model", "bnn_tfc_w1a1", "--seed", "2", "--force"]) == 0
    # a trained checkpoint wins over the random init
    trained = checkpoint.trained_path("bnn_tfc_w1a1")
    trained.parent.mkdir(parents=True)
    trained.write_bytes(before)
    assert checkpoint.default_path("bnn_tfc_w1a1") == trained


def test_bad_model_name_is_one_line_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "training.random_init", "--model", "../x"],
                       capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[1])})
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_imagenet_random_images_are_seeded_uint8_256():
    split = data.load("imagenet_random", "test")
    assert split.images.shape[1:] == (3, 256, 256) and split.images.dtype == torch.uint8
    assert torch.equal(split.images[:2], data.load("imagenet_random", "test").images[:2])
    assert not torch.equal(split.images[:2], data.load("imagenet_random", "train").images[:2])
