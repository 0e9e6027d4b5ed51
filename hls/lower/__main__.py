"""python -m hls.lower --onnx build/<m>/model.onnx --out build/<m>/dataflow

Lowers a QONNX file (training/export.py's output) to a model package (host/FORMAT.md): prints
one line per layer (op, output shape, stream width, and for thresholds the accumulator range
and the number of ties checked against the float model), then a summary line. `--report`
writes those figures as JSON. Errors: one line `hls.lower: error: ...`, exit status 2 (host/errors.py);
an input quantizer that looks built for [0, 1] inputs prints one line `warning: ...` and the
lowering goes on.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from host.errors import cli
from host.names import check_model_name, model_name_arg
from host.package import save

from . import lower
from .embedding import InputRangeWarning


def _model_name(onnx_path: Path, out: Path) -> str:
    """build/<m>/dataflow -> <m>; else the ONNX file's folder name."""
    if out.name == "dataflow" and out.parent.name:
        return out.parent.name
    return onnx_path.parent.name or onnx_path.stem


def main(argv=None) -> int:
    return cli("hls.lower", _main, argv)


def _main(argv) -> int:
    p = argparse.ArgumentParser(prog="python -m hls.lower", description=__doc__.splitlines()[0])
    p.add_argument("--onnx", required=True, help="QONNX file (make export writes build/<m>/model.onnx)")
    p.add_argument("--out", required=True, help="package folder to write (model.json, params.npz)")
    p.add_argument("--model", default=None, type=model_name_arg,
                   help="model name in model.json (default: from --out)")
    p.add_argument("--report", default=None, help="also write the lowering figures to this JSON file")
    p.add_argument("--quiet", action="store_true", help="only the summary line")
    args = p.parse_args(argv)
    onnx_path, out = Path(args.onnx), Path(args.out)
    name = args.model or _model_name(onnx_path, out)
    check_model_name(name, "model name (from --out; pass --model)")
    report = {}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputRangeWarning)
        package = lower(onnx_path, name, report)
    for w in caught:   # one line each (the input range: built for [0, 1], fed 0..255)
        if issubclass(w.category, InputRangeWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    save(package, out)
    seconds = time.perf_counter() - start
    thresholds = report.get("thresholds", {})
    if not args.quiet:
        print(f"{'layer':<16} {'op':<12} {'output':<16} {'bits':>5}  notes")
        for layer in package.layers:
            stream = package.streams[layer.outputs[0]]
            shape = "x".join(str(d) for d in stream.shape)
            bits = f"{'s' if stream.signed else 'u'}{stream.bits}"
            notes = ""
            if layer.op == "Conv":
                notes = f"k{layer.attrs['kernel']} s{layer.attrs['stride']} p{layer.attrs['pad']} " \
                        f"{layer.attrs['output']}"
            if layer.name in thresholds:
                t = thresholds[layer.name]
                notes += f"  acc [{t['range'][0]}, {t['range'][1]}], ties {t['ties']}"
            print(f"{layer.name:<16} {layer.op:<12} {shape:<16} {bits:>5}  {notes}")
    ties = sum(t["ties"] for t in thresholds.values())
    mismatches = sum(t["float32_mismatches"] for t in thresholds.values())
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(dict(report, model=name, layers=len(package.layers),
                                                     seconds=round(seconds, 3)), indent=2) + "\n")
    print(f"lowered {onnx_path} -> {out}: model={name} layers={len(package.layers)} "
          f"classes={package.classes} divisor={package.head.divisor} threshold_ties={ties} "
          f"float32_tie_flips={mismatches} seconds={seconds:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
