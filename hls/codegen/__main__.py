"""python -m hls.codegen --package build/<m>/dataflow [--folding F] [--out build/<m>/hls]

Writes the HLS C++ folder (hls/codegen/__init__.py) and prints one line per FIFO deeper than
the default and a summary line. `make hls` runs this as one step of `python -m hls`.
Errors: one line `hls.codegen: error: ...`, exit status 2 (bad input; host/errors.py).
"""
import argparse
import json
import sys
from pathlib import Path

from host import boards
from host.errors import cli
from host.package import load

from hls.codegen import generate
from hls.perf.opmodels import EstimateError


def resolve_folding(package_dir, folding_file, board=None) -> dict:
    """The folding file completed exactly as the estimate completes it on `board` (unnamed
    layers, output serializers, the exchange rate), so a partial file gives one design in both."""
    from hls.perf.estimate import choose_budget_of_file, estimate, generation_folding, load_graph, load_package
    from hls.perf.resources import part_of
    b = boards.get(board)
    g = load_graph(package_dir)
    return generation_folding(estimate(g, folding_file, None, b.clock_mhz,
                                       budget=choose_budget_of_file(folding_file, part_of(b)),
                                       package=load_package(Path(package_dir))))


def main(argv=None) -> int:
    return cli("hls.codegen", _main, argv)


def _main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m hls.codegen", description=__doc__.splitlines()[0])
    ap.add_argument("--package", required=True, help="model package folder (model.json, params.npz)")
    ap.add_argument("--folding", help="folding JSON {layer: {pe, simd}}; layers it does not name are folded "
                    "as `python -m hls.estimate --folding` folds them (default: PE = SIMD = 1)")
    ap.add_argument("--out", help="output folder (default: <package>/../hls)")
    ap.add_argument("--board", default=boards.DEFAULT, help=f"run_hls.tcl's part and clock ({boards.names()})")
    a = ap.parse_args(argv)
    package = load(a.package)
    try:
        folding = resolve_folding(a.package, a.folding, a.board) if a.folding else {}
    except json.JSONDecodeError as e:
        raise EstimateError(f"{a.folding}: not valid JSON ({e})") from None
    out = Path(a.out) if a.out else Path(a.package).parent / "hls"
    result = generate(package, out, folding, board=a.board)
    for rec in result.fifos:
        print(f"fifo {rec['fifo']}: depth {rec['depth']} x {rec['width']} bits ({rec['rule']}"
              + (f", {rec['side']} of {rec['join']}" if rec.get("join") else "") + ")")
    df = result.dataflow
    print(f"wrote {out}: {len(result.files)} files, {len(df.processes)} processes, {len(df.fifos)} FIFOs, "
          f"top {result.interface['top']} ({result.interface['vlnv']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
