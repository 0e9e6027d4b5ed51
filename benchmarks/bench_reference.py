"""Images/s of the numpy CPU reference vs Brevitas (eval), the same network in plain float
torch, and qonnx's execute_onnx, on the same test images, in one run.

    python benchmarks/bench_reference.py --model ern_tiny [--images 2000] [--onnx-images 20]

Reads models/<m>/model.pt, build/<m>/model.onnx and build/<m>/dataflow (make export, make
lower). Without a checkpoint (`--untrained`), an untrained model with random BN statistics is
exported and lowered in a temporary folder. Prints a markdown table; `--write FILE` also
writes it (with the machine and settings) to FILE, e.g. benchmarks/RESULTS.md.

"Plain float torch" is the same module tree with every Brevitas layer replaced by its torch
counterpart (QuantConv2d -> Conv2d with the latent float weights, QuantReLU -> ReLU, quantizers
-> Identity): the float network this one would be without quantization.
"""
import argparse
import copy
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from host.names import model_name_arg  # noqa: E402


def plain_float_copy(model):
    """The module tree with Brevitas layers swapped for plain torch ones (same weights)."""
    import torch
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


def timed(fn, repeat=1):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    return out, best


def torch_runner(model, images, batch_size):
    import torch

    def run():
        with torch.no_grad():
            return np.concatenate([model(torch.from_numpy(images[i:i + batch_size]).float()).numpy()
                                   for i in range(0, len(images), batch_size)])
    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ern_tiny", type=model_name_arg)
    p.add_argument("--images", type=int, default=2000, help="images for the reference and torch")
    p.add_argument("--onnx-images", type=int, default=20, help="images for execute_onnx (slow)")
    p.add_argument("--batch-size", type=int, default=100, help="torch batch size")
    p.add_argument("--ref-batch-size", type=int, default=None, help="reference batch (default: its own)")
    p.add_argument("--repeat", type=int, default=2, help="best of this many runs (not for execute_onnx)")
    p.add_argument("--checkpoint", default=None, help="default: models/<model>/model.pt")
    p.add_argument("--onnx", default=None, help="default: build/<model>/model.onnx")
    p.add_argument("--package", default=None, help="default: build/<model>/dataflow")
    p.add_argument("--untrained", action="store_true", help="no checkpoint: a random model")
    p.add_argument("--write", default=None, help="also write the table to this markdown file")
    args = p.parse_args(argv)

    import torch
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from hls.lower import lower
    from host.package import load
    from host.reference import Reference
    from training import checkpoint, data
    from training.models import build_model

    if args.untrained:
        torch.manual_seed(0)
        model = build_model(args.model, 1, 10).eval()
        gen = torch.Generator().manual_seed(1)
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.normal_(0, 3, generator=gen)
                m.running_var.uniform_(0.1, 5, generator=gen)
        from training.export import export_qonnx
        folder = Path(tempfile.mkdtemp())
        onnx_path = export_qonnx(model, 1, 28, 28, folder / "model.onnx")
        package = lower(onnx_path, args.model)
        origin = "untrained, random BN statistics"
        dataset = "fashion_mnist"
    else:
        ckpt_path = Path(args.checkpoint) if args.checkpoint else checkpoint.default_path(args.model)
        model, ckpt = checkpoint.load_model(ckpt_path, expected_model=args.model)
        onnx_path = Path(args.onnx or Path("build") / args.model / "model.onnx")
        package = load(args.package or Path("build") / args.model / "dataflow")
        origin = f"{ckpt_path}, epoch {ckpt.get('epoch')}"
        dataset = ckpt["dataset"]
    test = data.load(dataset, "test")
    images = test.images.numpy()[:args.images]
    nhwc = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    reference = Reference(package, **({"batch_size": args.ref_batch_size} if args.ref_batch_size else {}))
    float_model = plain_float_copy(model)
    wrapper = ModelWrapper(str(onnx_path))
    onnx_input = wrapper.graph.input[0].name
    few = images[:args.onnx_images].astype(np.float32)

    load_before = os.getloadavg()[0]
    rows = []
    logits_r, seconds = timed(lambda: reference.logits(nhwc), args.repeat)
    rows.append(("numpy reference (host/reference.py)", len(images), seconds))
    logits_b, seconds = timed(torch_runner(model, images, args.batch_size), args.repeat)
    rows.append(("Brevitas, eval (torch)", len(images), seconds))
    _, seconds = timed(torch_runner(float_model, images, args.batch_size), args.repeat)
    rows.append(("plain float torch, same network", len(images), seconds))
    outs, seconds = timed(lambda: [execute_onnx(wrapper, {onnx_input: x[None]})[wrapper.graph.output[0].name]
                                   for x in few])
    rows.append(("qonnx execute_onnx (cleaned QONNX)", len(few), seconds))
    agree = float(np.mean(logits_r.argmax(1) == logits_b.argmax(1))) * 100
    agree_onnx = float(np.mean(np.concatenate(outs).argmax(1) == logits_r[:len(few)].argmax(1))) * 100

    ref_fps = rows[0][1] / rows[0][2]
    lines = [f"| backend | images | seconds | images/s | vs reference |", "|---|---:|---:|---:|---:|"]
    for name, n, seconds in rows:
        fps = n / seconds
        lines.append(f"| {name} | {n} | {seconds:.2f} | {fps:,.1f} | {fps / ref_fps:.3g}x |")
    header = (f"{args.model} ({origin}); {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"torch threads {torch.get_num_threads()}, numpy {np.__version__}, torch {torch.__version__}; "
              f"torch batch {args.batch_size}, reference batch {reference.batch_size}; best of {args.repeat} "
              f"(execute_onnx: one run, batch 1). Prediction agreement reference vs Brevitas {agree:.2f}%, "
              f"vs execute_onnx {agree_onnx:.2f}%. Load average (1 min) before/after: "
              f"{load_before:.1f}/{os.getloadavg()[0]:.1f} (other processes share the cores when it exceeds "
              f"~0.5; the figures are then not a clean comparison).")
    text = header + "\n\n" + "\n".join(lines) + "\n"
    print(text)
    if args.write:
        command = f"python benchmarks/bench_reference.py {' '.join(argv if argv is not None else sys.argv[1:])}"
        write_section(Path(args.write), args.model, f"`{command}`, {time.strftime('%Y-%m-%d %H:%M')}\n\n{text}")
    return 0


TITLE = "# Benchmark: numpy CPU reference vs Brevitas vs plain float torch vs qonnx execute_onnx\n"


def write_section(path: Path, model: str, body: str) -> None:
    """Replace the `## <model>` section of the results file (up to the next `## ` heading) in
    place, or append it; everything else in the file is kept byte for byte and in order (the
    file is the project's shared RESULTS.md)."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else [TITLE]
    section = [f"## {model}\n", "\n", body.rstrip("\n") + "\n", "\n"]
    heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
    start = next((i for i in heads if lines[i][3:].strip() == model), None)
    if start is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines += ["\n"] + section
    else:
        end = next((i for i in heads if i > start), len(lines))
        lines[start:end] = section
    path.write_text("".join(lines).rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
