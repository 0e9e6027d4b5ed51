"""C-simulate the 11 bnn_pynq configs (training.models.BNN_PYNQ) through the generated HLS C++:
random init with BN / TensorNorm in a random state (tests/bnn_helpers.py, as
benchmarks/bnn_pynq_exactness.py), export, lower, save the package under
<build-dir>/<model>/dataflow, then `python -m hls` on it (plain C-simulation against the numpy
reference + the clocked bounded-FIFO run). One row per config:

    python benchmarks/bnn_pynq_csim.py --images 16 [--models bnn_tfc_w1a1 ...] [--build-dir build/bnn_csim]

Images: uniform random uint8 fitted to each input shape (3x32x32 for CNV, 1x28x28 for the MLPs).
Folding: the search's automatic one for the board unless --target-fps or --folding is given
(e.g. hls/foldings/bnn_lfc_w1a1_bnn_pynq_fifos.json: BNN-PYNQ's folding and FIFO depths). Columns: images,
mismatches (plain C-sim vs host.reference), clocked cycles/frame and FPS at --clock-mhz (clocked
C-simulation, not hardware), clocked mismatches, the estimate of the same generated design
(predicted FPS / LUT / BRAM36, hls/perf), wall seconds (export to report, g++ builds included). No checkpoints exist for these models: random init only.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402


def row(name: str, args) -> str:
    from bnn_helpers import export_bnn, random_images
    from hls.hls_flow import main as hls_main
    from hls.lower import lower
    from host.package import save

    start = time.perf_counter()
    build = Path(args.build_dir) / name
    build.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        _, onnx = export_bnn(name, folder, args.seed)
        package = lower(str(onnx), name)
    save(package, build / "dataflow")
    images = np.ascontiguousarray(random_images(name, args.images, seed=1).transpose(0, 2, 3, 1))
    np.save(build / "images.npy", images)
    flow = ["--model", name, "--build-dir", str(args.build_dir), "--images", str(args.images),
            "--images-npy", str(build / "images.npy"), "--no-vitis", "--no-emu", "--nice",
            "--clocked-frames", str(args.clocked_frames), "--clock-mhz", str(args.clock_mhz)]
    if args.target_fps:
        flow += ["--target-fps", str(args.target_fps)]
    if args.folding:
        flow += ["--folding", args.folding]
    rc = hls_main(flow)
    seconds = time.perf_counter() - start
    report = build / "hls" / "report.json"
    if not report.is_file():
        return f"| `{name}` | - | flow failed (exit {rc}) | - | - | - | - | {seconds:.0f} |"
    return table_row(name, json.loads(report.read_text()), seconds)


def table_row(name: str, r: dict, seconds: float) -> str:
    """One row from a report.json of `python -m hls` (hls/hls_flow.py)."""
    clk = r.get("clocked") or {}
    cpf = clk.get("cycles_per_frame")
    cycles = f"{cpf:,.0f}" if cpf else "-"
    fps = f"{clk['fps']:,.0f}" if cpf else "-"
    stall = clk.get("stall")
    clocked_mm = f"STALL ({stall['kind']})" if stall else str(clk.get("mismatches", "-"))
    pred = (r.get("side_by_side") or {}).get("predicted") or {}
    predicted = (f"{pred['fps']:,.0f} / {pred['lut']:,} / {pred['bram36']:g}" if pred else "-")
    return (f"| `{name}` | {r['images']} | {r['mismatches']} | {cycles} | {fps} | {clocked_mm} | "
            f"{predicted} | {seconds:.0f} |")


def main(argv=None) -> int:
    from training.models import BNN_PYNQ

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--models", nargs="*", default=sorted(BNN_PYNQ))
    p.add_argument("--seed", type=int, default=0, help="weights and BN state")
    p.add_argument("--build-dir", default="build/bnn_csim")
    p.add_argument("--clocked-frames", type=int, default=3)
    p.add_argument("--clock-mhz", type=float, default=100.0)
    p.add_argument("--target-fps", type=float, default=None, help="folding search target (default: automatic)")
    p.add_argument("--folding", default=None, help="a folding file (PE / SIMD, and FIFO depths) instead of the search")
    args = p.parse_args(argv)
    unknown = sorted(set(args.models) - set(BNN_PYNQ))
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(BNN_PYNQ))}")
    rows = []
    for name in args.models:
        rows.append(row(name, args))
        print(rows[-1], flush=True)
    print(f"\n| model | images | mismatches | clocked cycles/frame | FPS at {args.clock_mhz:g} MHz (clocked C-sim) "
          "| clocked mismatches | predicted FPS / LUT / BRAM36 (estimate) | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
