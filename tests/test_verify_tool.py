"""tools/verify.py end to end on a small untrained checkpoint (a few test images)."""
import json
import os
import shutil
import sys
from pathlib import Path

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
    assert last.startswith("agreement=100.00% top1_reference=") and " top1_brevitas=" in last
    assert code == 0
    result = json.loads(out.read_text())
    assert result["images"] == 40 and result["agreement"] == 100.0
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
