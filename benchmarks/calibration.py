"""Calibration of the performance model on BNN-PYNQ's five published PYNQ-Z1/Z2 builds.

    python benchmarks/calibration.py          # prints the markdown table of benchmarks/RESULTS.md

Measured figures (all Xilinx/BNN-PYNQ, cited per row in MEASURED): LUT / BRAM36 / DSP from the
Vivado 2018.2 utilization report in bnn/src/network/<net>/README.md; FPS from the notebooks'
printed "Classification rate" at commit d84f6e8 (2018-09-26; 10,000 test images in one call,
host transfers excluded: TRANSFER_INCL is empty in bnn/src/library/host/foldedmv-offload.cpp),
on the 100 MHz FCLK0 of bnn/src/library/script/pynqZ1-Z2/make-vivado-proj.tcl.

Predicted: `python -m hls.estimate --topology bnn_<net> --folding hls/foldings/bnn_<net>_bnn_pynq.json`
(hls/perf; no package, so the graph model prices it) at 100 MHz. For the LFC builds also the
FIFO stall model (hls/perf/stall.py) of BNN-PYNQ's own top level: their padded layer shapes and
their inter-layer FIFO depths (bnn/src/network/lfcW1A*/hw/top.cpp: Lx_DEPTH = 512 / Lx_PE,
memInStrm / memOutStrm 1024), with no pipeline depth.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hls.perf import resources as R            # noqa: E402
from hls.perf import topologies                 # noqa: E402
from hls.perf.estimate import estimate          # noqa: E402
from hls.perf.opmodels import Graph             # noqa: E402
from hls.perf.stall import frame_interval, mvu_chain   # noqa: E402

CLOCK_MHZ = 100.0
NB = "notebooks/{nb} @ d84f6e8"
README = "bnn/src/network/{net}/README.md"

# build: (FPS, LUT, BRAM36, DSP, FPS source, resources source)
MEASURED = {
    "bnn_cnv_w1a1": (3050.00, 26072, 124, 24, NB.format(nb="CNV-QNN_Cifar10_Testset.ipynb"),
                     README.format(net="cnvW1A1")),
    "bnn_cnv_w1a2": (3050.17, 40321, 131.5, 26, NB.format(nb="CNV-QNN_Cifar10_Testset.ipynb"),
                     README.format(net="cnvW1A2")),
    "bnn_cnv_w2a2": (860.10, 37302, 140, 32, NB.format(nb="CNV-QNN_Cifar10_Testset.ipynb"),
                     README.format(net="cnvW2A2")),
    "bnn_lfc_w1a1": (118883.45, 28360, 110, 4, NB.format(nb="LFC-QNN_MNIST.ipynb"),
                     README.format(net="lfcW1A1")),
    "bnn_lfc_w1a2": (118882.03, 48981, 110, 4, NB.format(nb="LFC-QNN_MNIST.ipynb"),
                     README.format(net="lfcW1A2")),
}

# BNN-PYNQ's LFC top level as built (config.h MW, MH, SIMD, PE; input bits, output bits):
# 784 inputs padded to 832, 10 classes padded to 64, the last layer thresholded to 1 bit.
LFC_THEIRS = {
    a: [(832, 1024, 64, 32, 1, a), (1024, 1024, 32, 64, a, a), (1024, 1024, 64, 32, a, a),
        (1024, 64, 8, 16, a, 1)] for a in (1, 2)}
LFC_DEPTHS = [512 // 32, 512 // 64, 512 // 32]     # top.cpp: L0_DEPTH, L1_DEPTH, L2_DEPTH

WHY = {
    "bnn_cnv_w1a1": "their weights/thresholds are AXI-Lite-writable RAMs in BRAM, ours constant ROMs "
                    "(small ones in LUTs); their 8-bit fixed-point first layer and 16-bit thresholds "
                    "use DSPs, we have no multiplier",
    "bnn_cnv_w1a2": "as W1A1; their MVU multiplies each weight by a 2-bit activation, ours uses "
                    "two 1-bit popcount planes",
    "bnn_cnv_w2a2": "as W1A2; their ternary weights are 2-bit multiplies, ours a sign and a mask "
                    "plane (4 popcounts per PE); their BRAM is full (140), our weights fit 139.5",
    "bnn_lfc_w1a1": "their L0 and L3 are padded (832 inputs, 64 rows); their weights are RAMs "
                    "partitioned per PE (one bank each: 32-64 banks per layer)",
    "bnn_lfc_w1a2": "as W1A1; their W1A2 MVU multiplies 2-bit activations (+20.6k LUT over W1A1, "
                    "ours +17k)",
}


# Clocked C-simulation figures recorded from runs (not recomputed here: a build takes ~7 min).
# bnn_cnv_w1a2: our 1-channel zoo cnv_w1a2 (Fashion-MNIST, trained) with the same folding
# (hls/foldings/cnv_w1a2_bnn_pynq.json: Conv_0 SIMD 1 instead of 3, same 32,400 cycles), run
# 2026-12-07: `make hls MODEL=cnv_w1a2 FOLDING=hls/foldings/cnv_w1a2_bnn_pynq.json IMAGES=16`
# (FIFOs as generated, depth 2: 63,813 cycles/frame) then `python -m hls.fifos --model cnv_w1a2`
# (sized FIFOs: 33,091 cycles/frame; unbounded: 32,768).
# bnn_lfc_w1a1 / bnn_lfc_w1a2: the lowered random-init packages with BNN-PYNQ's folding and FIFO
# depths (hls/foldings/bnn_lfc_w1a<a>_bnn_pynq_fifos.json), run 2026-12-07:
# `python benchmarks/bnn_pynq_csim.py --images 16 --clocked-frames 16 --models bnn_lfc_w1a<a>
# --folding hls/foldings/bnn_lfc_w1a<a>_bnn_pynq_fifos.json --build-dir build/bnn_lfc_cal`
# (16 images bit-exact; 726 cycles/frame over frames 2..16). With every FIFO unbounded, or whole-
# frame FIFOs (32 / 16 / 32 words), 515; at the generated depth 2, 918
# (`python -m hls.clocked --model bnn_lfc_w1a1 --build-dir build/bnn_lfc_cal --frames 16 --depths ...`).
CLOCKED = {"bnn_cnv_w1a2": (33091, "1-channel cnv_w1a2, FIFOs by hls.fifos; 63,813 at depth 2"),
           "bnn_lfc_w1a1": (726, "lowered bnn_lfc_w1a1, their FIFO depths; 515 unbounded, 918 at depth 2"),
           "bnn_lfc_w1a2": (726, "lowered bnn_lfc_w1a2, their FIFO depths; 515 unbounded")}


def predict(build: str) -> dict:
    g = Graph(topologies.TOPOLOGIES[build](), f"--topology {build}")
    d = estimate(g, ROOT / "hls" / "foldings" / f"{build}_bnn_pynq.json", None, CLOCK_MHZ)
    t = d.totals
    row = {"fps": d.fps, "ii": d.ii, "lut": round(t.lut), "bram36": t.bram36,
           "dsp": round(t.dsp), "bottleneck": d.bottleneck}
    if build.startswith("bnn_lfc"):
        a = int(build[-1])
        stall = frame_interval(mvu_chain(LFC_THEIRS[a], LFC_DEPTHS))
        row["stall_ii"] = stall
        row["stall_fps"] = CLOCK_MHZ * 1e6 / stall
    return row


def err(pred: float, meas: float) -> float:
    return 100.0 * (pred - meas) / meas


def rows():
    for build, (fps, lut, bram, dsp, fsrc, rsrc) in MEASURED.items():
        p = predict(build)
        best = p.get("stall_fps", p["fps"])
        yield build, (fps, lut, bram, dsp, fsrc, rsrc), p, best


C_CLOCKED = CLOCKED


def main() -> int:
    print("| build | measured FPS / LUT / BRAM36 / DSP | predicted FPS (II) / LUT / BRAM36 / DSP "
          "| FPS error | clocked C-sim | why LUT / BRAM differ |")
    print("|---|---|---|---|---|---|")
    for build, m, p, best in rows():
        fps, lut, bram, dsp, fsrc, rsrc = m
        pred = f"{p['fps']:,.1f} ({p['ii']:,}) / {p['lut']:,} / {p['bram36']:g} / {p['dsp']}"
        e = f"{err(p['fps'], fps):+.2f}%"
        if "stall_fps" in p:
            pred += (f"; FIFO stall model of their top.cpp: {p['stall_fps']:,.1f} "
                     f"({p['stall_ii']:,.0f})")
            e += f"; stall model {err(p['stall_fps'], fps):+.2f}%"
        ck = "not run with this folding (the package's C-simulation uses the search's folding)"
        if build in C_CLOCKED:
            cyc, what = C_CLOCKED[build]
            cf = CLOCK_MHZ * 1e6 / cyc
            ck = f"{cf:,.1f} ({cyc:,}; {err(cf, fps):+.2f}%; {what})"
        print(f"| {build} | {fps:,.2f} / {lut:,} / {bram:g} / {dsp} ({fsrc}; {rsrc}) | {pred} | "
              f"{e} | {ck} | {WHY[build]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
