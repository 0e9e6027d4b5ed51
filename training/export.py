"""Brevitas -> QONNX: `python -m training.export --model ern_tiny` writes build/<m>/model.onnx.

The exported graph takes the raw uint8 image as a float tensor 1 x C x H x W (values 0..255),
and is cleaned with qonnx (shape inference, constant folding, readable unique names).
"""
import argparse
import sys
from pathlib import Path

import torch

from host.errors import cli
from host.names import model_name_arg, positive_int

from . import checkpoint


def export_qonnx(model, in_channels, height, width, path):
    """Export an eval-mode Brevitas model to a cleaned QONNX file at `path`."""
    from brevitas.export import export_qonnx as brevitas_export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.util.cleanup import cleanup_model

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randint(0, 256, (1, in_channels, height, width)).float()
    model = model.eval()
    with torch.no_grad():
        brevitas_export_qonnx(model, args=example, export_path=str(path))
    wrapper = cleanup_model(ModelWrapper(str(path)))
    wrapper = wrapper.transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    wrapper.save(str(path))
    return path


def main(argv=None) -> int:
    return cli("training.export", _main, argv)


def _main(argv):
    p = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ern_tiny", type=model_name_arg)
    p.add_argument("--checkpoint", default=None, help="default: models/<model>/model.pt, else build/<model>/random_init.pt")
    p.add_argument("--out", default=None, help="default: build/<model>/model.onnx")
    p.add_argument("--height", type=positive_int, default=None, help="input height (default: dataset's)")
    p.add_argument("--width", type=positive_int, default=None)
    args = p.parse_args(argv)
    ckpt_path = args.checkpoint or checkpoint.default_path(args.model)
    model, ckpt = checkpoint.load_model(ckpt_path, expected_model=args.model)
    size = ckpt.get("image_size") or {"fashion_mnist": 28, "cifar10": 32, "synthetic": 28}.get(ckpt["dataset"], 224)
    out = export_qonnx(model, ckpt["in_channels"], args.height or size, args.width or size,
                       args.out or Path("build") / args.model / "model.onnx")
    print(f"exported {ckpt_path} -> {out}")


if __name__ == "__main__":
    sys.exit(main())
