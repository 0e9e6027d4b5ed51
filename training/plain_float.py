"""The float network a quantized model would be without quantization: the CPU baseline that
the numpy reference is measured against (benchmarks/bench_reference.py, host/bench.py).

The same module tree with every Brevitas layer replaced by its torch counterpart
(QuantConv2d -> Conv2d with the latent float weights, QuantLinear -> Linear, QuantReLU -> ReLU,
QuantIdentity -> Identity). BatchNorm, pooling and the rest stay as they are. It is a speed
baseline: its accuracy is not the model's (the weights were trained for quantization).
"""
import copy
import time
from pathlib import Path
from typing import Tuple

import numpy as np
import torch


def plain_float_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The module tree with Brevitas layers swapped for plain torch ones (same weights), in eval."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU

    model = copy.deepcopy(model)

    def swap(module):
        for name, child in module.named_children():
            if isinstance(child, QuantConv2d):
                conv = torch.nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride,
                                       child.padding, bias=child.bias is not None)
                conv.weight.data.copy_(child.weight.data)
                setattr(module, name, conv)
            elif isinstance(child, QuantLinear):
                fc = torch.nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
                fc.weight.data.copy_(child.weight.data)
                setattr(module, name, fc)
            elif isinstance(child, QuantReLU):
                setattr(module, name, torch.nn.ReLU())
            elif isinstance(child, QuantIdentity):
                setattr(module, name, torch.nn.Identity())
            else:
                swap(child)
    swap(model)
    return model.eval()


def load(checkpoint_path, model_name: str) -> torch.nn.Module:
    """The plain float copy of a trained checkpoint."""
    from training import checkpoint
    model, _ = checkpoint.load_model(Path(checkpoint_path), expected_model=model_name)
    return plain_float_copy(model)


def logits(model: torch.nn.Module, images_nchw: np.ndarray, batch_size: int = 100) -> np.ndarray:
    """float32 logits (N, classes) of uint8 images N x C x H x W, batch by batch, no autograd."""
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(images_nchw[i:i + batch_size]).float()).numpy()
                               for i in range(0, len(images_nchw), batch_size)])


def timed_logits(model: torch.nn.Module, images_nhwc: np.ndarray,
                 batch_size: int = 100) -> Tuple[np.ndarray, float]:
    """(logits, seconds) of one timed pass over channel-last uint8 images (the host's layout),
    after one untimed batch (torch's first call allocates and picks its kernels)."""
    nchw = np.array(images_nhwc.transpose(0, 3, 1, 2), order="C")   # a writable copy for torch
    logits(model, nchw[:batch_size], batch_size)
    start = time.perf_counter()
    out = logits(model, nchw, batch_size)
    return out, time.perf_counter() - start
