"""The bnn_pynq zoo models (training.models.BNN_PYNQ) with random weights and BN / TensorNorm in a
non-trivial state, exported to QONNX: shared by the bnn tests."""
from pathlib import Path

import numpy as np
import torch
from torch import nn


def randomize_norms(model, seed=0):
    """Random running statistics and affine parameters for every BN and TensorNorm (random init
    leaves them at mean 0 / var 1 / weight 1 / bias 0, which hides offset and sign bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) or type(m).__name__ == "TensorNorm":
                n = m.running_mean.numel()
                m.running_mean.copy_(torch.randn(n, generator=g) * 4)
                m.running_var.copy_(torch.rand(n, generator=g) * 20 + 0.5)
                m.weight.copy_(torch.randn(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g) * 0.5)
    return model


def bnn_model(name, seed=0):
    from training.models import build_model
    torch.manual_seed(seed)
    in_channels = 3 if "_cnv_" in name else 1
    return randomize_norms(build_model(name, in_channels, 10), seed).eval()


def input_size(name):
    return (3, 32, 32) if "_cnv_" in name else (1, 28, 28)


def export_bnn(name, folder, seed=0):
    from training.export import export_qonnx
    model = bnn_model(name, seed)
    c, h, w = input_size(name)
    path = export_qonnx(model, c, h, w, Path(folder) / name / "model.onnx")
    return model, path


def random_images(name, n, seed=0):
    c, h, w = input_size(name)
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w)).astype(np.uint8)
