"""Test-set accuracy of a trained checkpoint; the last line printed is `top1=NN.NN`."""
import argparse
import sys

import torch

from host.errors import cli

from . import checkpoint, data
from .models import MODEL_NAMES
from .train import evaluate


def main(argv=None) -> int:
    return cli("training.evaluate", _main, argv)


def _main(argv):
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__)
    p.add_argument("--model", default="ern_tiny", choices=MODEL_NAMES)
    p.add_argument("--dataset", default=None, help="default: the checkpoint's dataset")
    p.add_argument("--data-root", default=None)
    p.add_argument("--checkpoint", default=None, help="default: models/<model>/model.pt")
    args = p.parse_args(argv)
    path = args.checkpoint or checkpoint.default_path(args.model)
    model, ckpt = checkpoint.load_model(path, expected_model=args.model)
    test = data.load(args.dataset or ckpt["dataset"], "test", args.data_root)
    if test.images.shape[1] != ckpt["in_channels"]:
        raise data.DataError(f"{path} expects {ckpt['in_channels']}-channel images, "
                             f"dataset has {test.images.shape[1]}")
    top1, loss = evaluate(model, test, torch.device("cpu"))
    print(f"model={args.model} checkpoint={path} epoch={ckpt['epoch']} images={len(test)} "
          f"loss={loss:.4f}")
    print(f"top1={top1:.2f}")


if __name__ == "__main__":
    sys.exit(main())
