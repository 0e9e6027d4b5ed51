"""tools/verify.py end to end on a small untrained checkpoint (a few test images)."""
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import verify  # noqa: E402
from hls.lower import lower  # noqa: E402
from host.package import save  # noqa: E402
from lower_helpers import export_fast, randomize_batch_norms  # noqa: E402
from training import checkpoint, data  # noqa: E402
from training.models import build_model  # noqa: E402


@pytest.fixture(scope="module")
def fashion_mnist_available():
    try:
        data.load("fashion_mnist", "test")
    except data.DataError as e:
        pytest.skip(f"Fashion-MNIST not installed: {e}")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, fashion_mnist_available):
    """A checkpoint of an untrained CNV (random BN statistics) and its lowered package."""
    folder = tmp_path_factory.mktemp("verify")
    torch.manual_seed(0)
    model = build_model("cnv_w1a2", 1, 10).eval()
    randomize_batch_norms(model, seed=4)
    ckpt = folder / "model.pt"
    checkpoint.save(ckpt, "cnv_w1a2", model, in_channels=1, num_classes=10, dataset="fashion_mnist",
                    epoch=0, metrics={})
    package = lower(export_fast(model, 1, 28, 28, folder / "model.onnx"), "cnv_w1a2")
    save(package, folder / "dataflow")
    return ckpt, folder / "dataflow"


def test_verify_prints_the_agreement_line_and_writes_json(artifacts, tmp_path, capsys):
    ckpt, package = artifacts
    out = tmp_path / "verify.json"
    code = verify.main(["--model", "cnv_w1a2", "--checkpoint", str(ckpt), "--package", str(package),
                        "--limit", "40", "--out", str(out)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("class_sums_equal=100.00% agreement_up_to_ties=100.00% ties=")
    assert " agreement=100.00% top1_reference=" in last and " top1_brevitas=" in last
    assert code == 0
    result = json.loads(out.read_text())
    assert result["images"] == 40 and result["agreement"] == 100.0 and result["class_sums_equal"] == 100.0
    assert result["images_with_different_class_sums"] == 0
    assert {"top1_reference", "top1_brevitas"} <= set(result)


def test_verify_refuses_a_package_older_than_the_checkpoint(artifacts, tmp_path, capsys):
    ckpt, original = artifacts
    package = tmp_path / "dataflow"
    shutil.copytree(original, package)
    stamp = package / "model.json"
    old = ckpt.stat().st_mtime - 100
    os.utime(stamp, (old, old))
    code = verify.main(["--model", "cnv_w1a2", "--checkpoint", str(ckpt), "--package", str(package),
                        "--limit", "4", "--out", str(tmp_path / "v.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("verify: error: ") and "older than" in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def bnn_artifacts(tmp_path_factory, fashion_mnist_available):
    """An untrained bnn_pynq TFC-W1A1 (random BN and TensorNorm): many exact ties between class sums."""
    from bnn_helpers import bnn_model
    folder = tmp_path_factory.mktemp("verify_bnn")
    model = bnn_model("bnn_tfc_w1a1", seed=2)
    ckpt = folder / "model.pt"
    checkpoint.save(ckpt, "bnn_tfc_w1a1", model, in_channels=1, num_classes=10, dataset="fashion_mnist",
                    epoch=0, metrics={})
    save(lower(export_fast(model, 1, 28, 28, folder / "model.onnx"), "bnn_tfc_w1a1"), folder / "dataflow")
    return ckpt, folder / "dataflow"


def test_verify_headline_is_class_sum_equality_and_ties_are_counted(bnn_artifacts, tmp_path, capsys):
    ckpt, package = bnn_artifacts
    out = tmp_path / "verify.json"
    verify.main(["--model", "bnn_tfc_w1a1", "--checkpoint", str(ckpt), "--package", str(package),
                 "--limit", "200", "--out", str(out)])
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["class_sums_equal"] == 100.0 and result["agreement_up_to_ties"] == 100.0
    assert result["ties"] > 0 and result["ties"] == int(printed.split(" ties=")[1].split()[0])
    assert set(result["disagreeing_images"]) <= set(result["tied_images"])
    assert result["disagreeing_images_beyond_ties"] == []
    assert "images have exactly tied top class sums" in printed


def test_ties_and_agreement_on_hand_made_logits():
    class Head:
        divisor = 1

    class Package:
        head = Head()
        head_bias = np.zeros(3)
        head_scale = np.ones(3, np.float32)

    logits_r = np.array([[1.0, 3.0, 3.0], [0.0, 2.0, 1.0], [5.0, 1.0, 1.0]])
    tied, agree = verify.ties_and_agreement(Package(), logits_r, np.array([2, 2, 0]))
    assert tied.tolist() == [True, False, False] and agree.tolist() == [True, False, True]
    equal, error = verify.class_sums_equal(Package(), logits_r + 0.1, np.rint(logits_r).astype(np.int64))
    assert equal.all() and np.allclose(error, 0.1)
