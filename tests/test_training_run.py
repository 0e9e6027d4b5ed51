"""Short training runs on synthetic data: single process, resume, DDP, eval, errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training import checkpoint, train

ROOT = Path(__file__).resolve().parents[1]


def run_module(args, env_extra=None, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)


def test_training_smoke_run_learns_and_resumes(tmp_path):
    out = tmp_path / "run"
    args = ["--model", "ern_tiny", "--dataset", "synthetic", "--epochs", "2", "--batch-size", "32",
            "--limit-batches", "8", "--out", str(out), "--no-progress", "--threads", "1"]
    train.main(args)
    rows = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] + 0.5
    assert (out / "curves.png").stat().st_size > 1000
    assert (out / "metrics.csv").read_text().startswith("epoch,train_loss")
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert ckpt["model"] == "ern_tiny" and ckpt["epoch"] == 2
    # resume to a longer schedule continues from epoch 2
    train.main(args[:5] + ["3"] + args[6:] + ["--resume"])
    rows = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_synthetic_set_is_learnable(tmp_path):
    out = tmp_path / "run"
    train.main(["--model", "ern_tiny", "--dataset", "synthetic", "--epochs", "3",
                "--batch-size", "32", "--lr", "3e-3", "--out", str(out), "--no-progress",
                "--threads", "1"])
    rows = json.loads((out / "metrics.json").read_text())
    assert rows[-1]["test_top1"] > 50, rows  # 10 classes: chance is 10%


def test_checkpoint_of_another_model_is_a_clear_error(tmp_path):
    from training.models import build_model
    model = build_model("ern_tiny", 1, 10)
    path = tmp_path / "model.pt"
    checkpoint.save(path, "ern_tiny", model, in_channels=1, num_classes=10,
                    dataset="synthetic", epoch=1, metrics=[])
    with pytest.raises(checkpoint.CheckpointError, match="is of model 'ern_tiny', not 'cnv_w1a2'"):
        checkpoint.load_model(path, expected_model="cnv_w1a2")
    with pytest.raises(checkpoint.CheckpointError, match="checkpoint not found"):
        checkpoint.load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(checkpoint.CheckpointError, match="not a readable checkpoint"):
        checkpoint.load_model(tmp_path / "junk.pt")


def test_evaluate_prints_top1_last(tmp_path, capsys):
    from training import evaluate
    out = tmp_path / "run"
    train.main(["--model", "ern_tiny", "--dataset", "synthetic", "--epochs", "1", "--batch-size",
                "32", "--limit-batches", "2", "--out", str(out), "--no-progress", "--threads", "1"])
    capsys.readouterr()
    evaluate.main(["--model", "ern_tiny", "--checkpoint", str(out / "model.pt")])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("top1=") and 0 <= float(last[5:]) <= 100
    assert evaluate.main(["--model", "cnv_w1a2", "--checkpoint", str(out / "model.pt")]) == 2
    assert "is of model 'ern_tiny', not 'cnv_w1a2'" in capsys.readouterr().err


def test_ddp_two_cpu_processes_on_gloo(tmp_path):
    out = tmp_path / "ddp"
    env = {"OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    res = run_module(["torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                      "--master_port=29517", "-m", "training.train", "--model", "ern_tiny",
                      "--dataset", "synthetic", "--epochs", "1", "--batch-size", "16",
                      "--limit-batches", "3", "--out", str(out), "--no-progress"], env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "world=2" in (out / "train.log").read_text()
    assert json.loads((out / "metrics.json").read_text())[0]["epoch"] == 1


def test_evaluate_limit_counts_only_the_first_images():
    class FirstPixelIsClass(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(x[:, 0, 0, 0].long(), 2).float()

    images = torch.zeros(10, 1, 2, 2, dtype=torch.uint8)
    images[:4, 0, 0, 0] = 1
    split = type("Split", (), {"images": images, "labels": torch.tensor([1] * 4 + [0] * 6),
                               "__len__": lambda self: 10})()
    labels_all_one = type("Split", (), {"images": images, "labels": torch.ones(10, dtype=torch.long),
                                        "__len__": lambda self: 10})()
    assert train.evaluate(FirstPixelIsClass(), split, "cpu")[0] == 100.0
    assert train.evaluate(FirstPixelIsClass(), labels_all_one, "cpu", batch_size=3, limit=4)[0] == 100.0
    assert train.evaluate(FirstPixelIsClass(), labels_all_one, "cpu", batch_size=3)[0] == 40.0


def test_bnn_pynq_mlp_takes_brevitas_recipe_and_keeps_latent_weights_clipped(tmp_path):
    # brevitas_examples' own recipe for its MLPs: lr 0.02, no augmentation, latent weights
    # clamped to [-1, 1] after every step (else they drift away and their signs stop flipping)
    out = tmp_path / "run"
    train.main(["--model", "bnn_tfc_w1a1", "--dataset", "synthetic", "--epochs", "1",
                "--batch-size", "32", "--limit-batches", "4", "--out", str(out), "--no-progress",
                "--threads", "1"])
    assert "lr=0.02, augment=False" in (out / "train.log").read_text()
    state = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    weights = [v for k, v in state.items() if k.endswith(".weight") and v.dim() == 2]
    assert len(weights) == 4 and all(w.abs().max() <= 1.0 for w in weights)
    assert train.train_defaults("ern_tiny") == {"lr": 2e-3, "augment": True}
    assert train.train_defaults("bnn_cnv_w1a1")["augment"] is True
