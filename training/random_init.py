"""A seeded random-init checkpoint for a zoo model that has no trained one.

    python -m training.random_init --model bnn_lfc_w1a1        # -> build/bnn_lfc_w1a1/random_init.pt

Pretrained weights cannot be downloaded here, and checkpoints of the large models are not kept
in the repository, so `make export/verify/estimate/hls` fall back to this file when
models/<m>/model.pt is absent (training/checkpoint.py `default_path`). It is a faithful input
for everything downstream of training: every weight is random, and every BatchNorm (and
bnn_pynq's TensorNorm) gets random running statistics and affine parameters with some negative
scales. Left at their init (mean 0, var 1, weight 1, bias 0) they would give trivial thresholds
that hide offset and sign bugs. Classification accuracy of such a model is chance, by design.

Models of the paper's ImageNet family (ern18_x075 ... ern101) are made for 3 x 256 x 256 input
(the resolution of the paper's FPGA figures) and 1,000 classes, on the `imagenet_random` data
set (seeded uniform uint8 images: there is no ImageNet here); every other model for
Fashion-MNIST (1 x 28 x 28, 10 classes).
"""
import argparse
import sys
from pathlib import Path

import torch

from host.errors import cli
from host.names import model_name_arg, non_negative_int

from . import checkpoint
from .models import ZOO, build_model

IMAGENET_MODELS = tuple(name for name in ZOO if name.startswith("ern") and not name.startswith("ern_tiny"))


def data_shape(model: str) -> dict:
    """Data set, channels, classes and square image size a random init of `model` is made for."""
    if model in IMAGENET_MODELS:
        return {"dataset": "imagenet_random", "in_channels": 3, "num_classes": 1000, "image_size": 256}
    return {"dataset": "fashion_mnist", "in_channels": 1, "num_classes": 10, "image_size": 28}


def randomize_norms(model: torch.nn.Module, seed: int, negative: float = 0.3) -> torch.nn.Module:
    """Random running statistics and affine parameters for every BatchNorm and TensorNorm, a
    fraction `negative` of the scales negative (so both threshold directions appear)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) or type(m).__name__ == "TensorNorm":
                n = m.running_mean.numel()
                m.running_mean.copy_(torch.randn(n, generator=g) * 4)
                m.running_var.copy_(torch.rand(n, generator=g) * 8 + 0.05)
                sign = torch.where(torch.rand(n, generator=g) < negative, -1.0, 1.0)
                m.weight.copy_(sign * (torch.rand(n, generator=g) * 1.5 + 0.1))
                m.bias.copy_(torch.randn(n, generator=g))
    return model


def random_model(model: str, seed: int = 0):
    """(model in eval mode, its data_shape) with seeded random weights and norms."""
    shape = data_shape(model)
    torch.manual_seed(seed)
    net = build_model(model, shape["in_channels"], shape["num_classes"])
    return randomize_norms(net, seed).eval(), shape


def main(argv=None) -> int:
    return cli("training.random_init", _main, argv)


def _main(argv):
    p = argparse.ArgumentParser(prog="python -m training.random_init", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, type=model_name_arg)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", default=None, help="default: build/<model>/random_init.pt")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    args = p.parse_args(argv)
    out = Path(args.out) if args.out else checkpoint.random_init_path(args.model)
    if out.exists() and not args.force:
        raise checkpoint.CheckpointError(f"{out} exists (pass --force to replace it)")
    net, shape = random_model(args.model, args.seed)
    checkpoint.save(out, args.model, net, in_channels=shape["in_channels"], num_classes=shape["num_classes"],
                    dataset=shape["dataset"], epoch=0, metrics=[],
                    extra={"random_init_seed": args.seed, "image_size": shape["image_size"]})
    print(f"random init (seed {args.seed}, BN/TensorNorm randomized; not trained) of {args.model} "
          f"-> {out}: {shape['in_channels']} x {shape['image_size']} x {shape['image_size']} input, "
          f"{shape['num_classes']} classes, data set {shape['dataset']}")


if __name__ == "__main__":
    sys.exit(main())
