"""`make hls`: the pipeline's named steps, run in order, each skipped while its inputs are unchanged.

    python -m hls --model ern_tiny [--images 1000] [--folding F | --target-fps N --budget-lut L ...]
    python -m hls --model ern_tiny --step codegen          # one step
    python -m hls --model ern_tiny --from codegen --to csim [--force]

`STEPS` is the one list of the steps, in order; each is one function that reads and writes only
the files of the artifact map (host/artifacts.py: build/<m>/...):

1. `export`: models/<m>/model.pt -> model.onnx (training/export.py);
2. `lower`: model.onnx -> dataflow/, the integer model package (hls/lower);
3. `estimate`: the folding: --folding FILE, else (without --target-fps / --budget-*) the
   committed hls/foldings/<model>.json when there is one, else the estimator's search; written
   to folding.json (the one folding file: codegen reads it), with estimate.json and its PNG;
4. `codegen`: hls/ from the package and folding.json (hls/codegen);
5. `testdata`: the first N Fashion-MNIST test images (host/datasets.py; or --images-npy) and the
   class sums of host.reference -> hls/data/images.bin, expected.bin, labels.bin;
6. `csim`: g++ -O2 build of ern_top.cpp + tb.cpp (cached by content), run over the images in
   parallel jobs; every class sum must equal the reference's;
7. `clocked`: the same with -DERN_CLOCKED_SIM (hls/clocked.py: every process stepped once
   per clock cycle over FIFOs of the generated depths, synthesised code paths) over a few frames
   in one call: cycles per frame, FPS at the design clock, latency, stalls per process, FIFO
   peaks (report.json `clocked`, hls/clocked.png), or a deadlock naming the FIFOs;
8. `emu`: hls/libern_emu.so, built by host/emulation.py's recipe from emu.cpp + ern_top.cpp: the
   C ABI `ern_run` (ctypes) that host emulation loads instead of building its own while the
   library's `ern_package_sha256()` is the package's digest (interface.json describes it);
9. `vitis`: run_hls.tcl when vitis_hls is on PATH (latency and resources from its report).

hls/runner.py skips a step whose inputs (file contents, options, its source code) have the
digest recorded when it last passed, and whose outputs are there; build/<m>/steps.json keeps
the records and each step's seconds (ran / skipped / kept / off). So a second `make hls` with
nothing changed only checks; a new folding reruns codegen and what reads the generated C++,
a new --images reruns testdata and csim. --force reruns every selected step.

When the C-simulation is among the steps, prints a summary and writes hls/report.json (images,
mismatches, top1, csim_seconds, vitis_hls, clocked, steps, ...). Exit status (host/errors.py): 0
when every class sum matched and the clocked run completed; 1 when a class sum differs or a build
fails; 2 on bad input (one line: an unknown step, a missing file); 3 when `--to estimate`'s
design does not fit the part; 4 when the clocked run deadlocks at the generated FIFO depths.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from hls import clocked, csim
from hls.codegen import CodegenError, generate
from hls.perf.estimate import budget_values, searching
from hls.runner import Step, names, select, sources
from hls.runner import run as run_steps
from host import boards
from host.artifacts import Artifacts
from host.errors import CHECK, DEADLOCK, NO_FIT, OK, ErnError, cli
from host.package import Package, PackageError, fit_input, load
from host.names import model_name_arg, non_negative_int, positive_float, positive_int
from host.reference import Reference

REPO = Path(__file__).resolve().parents[1]
FOLDINGS = REPO / "hls" / "foldings"      # the committed foldings (default_folding)
# ap_types warnings that -isystem does not silence when inlined into our code, and one that g++
# -O2 raises on a loop of ap_private's reversed-range assignment that never runs here.
CSIM_FLAGS = ("-Wno-aggressive-loop-optimizations",)
CLOCKED_FRAMES = 5          # frames of the clocked run: the steady state is frames 2..N


class FlowError(ErnError, RuntimeError):
    """A step that cannot run (one-line message)."""


def log(msg: str) -> None:
    print(f"hls: {msg}", flush=True)


def shown(path: Path) -> str:
    """`path` as a message shows it: relative to the current folder when below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# The folding
# ---------------------------------------------------------------------------------------------

def default_folding(model: str, board: boards.Board) -> Optional[Path]:
    """The committed folding of `model`: hls/foldings/<model>.json, made for the default board's
    part (the PYNQ-Z1/Z2's xc7z020); on another part hls/foldings/<model>_<board>.json; None
    when there is none (then the search chooses)."""
    same_part = board.part == boards.get(boards.DEFAULT).part
    path = FOLDINGS / (f"{model}.json" if same_part else f"{model}_{board.name}.json")
    return path if path.is_file() else None


def choose_folding(package: Package, package_dir: Path, folding_file: Optional[str], target_fps: Optional[float],
                   budget, board: Optional[boards.Board] = None) -> Tuple[dict, str]:
    """({layer: {pe, simd, mem}}, where it came from) on `board`'s part and clock (default the
    PYNQ-Z2), within `budget` (hls.perf.folding.Budget): the folding file's (completed where it
    names too few layers), else the search's for `target_fps` (the fastest design within the
    budget when the target is out of reach), else PE = SIMD = 1 when nothing fits."""
    from hls.perf.estimate import estimate, generation_folding, load_graph
    from hls.perf.folding import FitError, FoldingError
    from hls.perf.opmodels import EstimateError

    board = board or boards.get()
    g = load_graph(package_dir)
    clock = board.clock_mhz
    try:
        if folding_file:
            d = estimate(g, folding_file, None, clock, budget=budget, package=package)
            return generation_folding(d), f"folding file {folding_file}"
        try:
            d = estimate(g, None, target_fps, clock, budget=budget, package=package)
            return generation_folding(d), d.mode
        except FitError as e:
            if target_fps is None:
                raise
            log(f"{e}; using the fastest folding within the budget instead")
            d = estimate(g, None, None, clock, budget=budget, package=package)
            return generation_folding(d), d.mode + f" (target {target_fps:g} FPS not reachable)"
    except FitError as e:
        log(f"{e}; falling back to PE = SIMD = 1")
        return {layer.name: {"pe": 1, "simd": 1} if layer.op == "Conv" else {"pe": 1}
                for layer in package.layers}, "PE = SIMD = 1 (nothing fits the budget)"
    except (FoldingError, EstimateError) as e:
        raise FlowError(str(e)) from None


# ---------------------------------------------------------------------------------------------
# Test data
# ---------------------------------------------------------------------------------------------

def fit_images(images: np.ndarray, shape: Tuple[int, int, int]) -> np.ndarray:
    """N x h x w x c images to the package's H x W x C: centred zero padding where the package is
    larger (CNV takes 28 x 28 Fashion-MNIST zero-padded to 32 x 32, as training does); a flattened
    input (an MLP's 1 x 1 x 784) takes the 28 x 28 x 1 images as they are, flattened."""
    images = fit_input(images, shape)
    n, h, w, c = images.shape
    hh, ww, cc = shape
    if c != cc or hh < h or ww < w or (hh - h) % 2 or (ww - w) % 2:
        raise FlowError(f"the package takes {hh}x{ww}x{cc} images, the data set has {h}x{w}x{c} "
                        "(pass --images-npy with matching images)")
    if (hh, ww) == (h, w):
        return images
    out = np.zeros((n, hh, ww, cc), np.uint8)
    out[:, (hh - h) // 2:(hh - h) // 2 + h, (ww - w) // 2:(ww - w) // 2 + w] = images
    return out


# An input larger than this (pixels) has no stand-in in Fashion-MNIST (28 x 28, zero-padded at
# most to CNV's 32 x 32): such packages (the ImageNet ERNs at 256 x 256 x 3) are C-simulated on
# seeded random images unless --images-npy gives real ones.
RANDOM_IMAGES_ABOVE = 64 * 64
RANDOM_IMAGES_SEED = 0


def random_images(count: int, shape: Tuple[int, int, int], seed: int = RANDOM_IMAGES_SEED) -> np.ndarray:
    """`count` uint8 images of `shape`, uniformly random, the same for the same seed."""
    return np.random.default_rng(seed).integers(0, 256, (count,) + tuple(shape), dtype=np.uint8)


def load_images(count: int, images_npy: Optional[str] = None, labels_npy: Optional[str] = None,
                shape: Optional[Tuple[int, int, int]] = None) -> Tuple[np.ndarray, Optional[np.ndarray], str]:
    """The first `count` test images (N x h x w x c uint8), their labels (or None), and where
    they came from: --images-npy, else the Fashion-MNIST test set (host/datasets.py), or seeded
    random images when the package's input `shape` is larger than RANDOM_IMAGES_ABOVE pixels."""
    from host import datasets
    if images_npy:
        images = np.load(images_npy, allow_pickle=False)[:count]
        labels = np.load(labels_npy, allow_pickle=False)[:count] if labels_npy else None
        if images.ndim == 3:
            images = images[..., None]
        return np.ascontiguousarray(images, dtype=np.uint8), labels, images_npy
    if shape is not None and shape[0] * shape[1] > RANDOM_IMAGES_ABOVE:
        source = (f"{count} seeded random uint8 images {'x'.join(map(str, shape))} (seed {RANDOM_IMAGES_SEED}; "
                  "no data set of this size here)")
        log(f"test data: {source}")
        return random_images(count, shape), None, source
    try:
        images, labels, _ = datasets.fashion_mnist("test", limit=count)
    except datasets.DatasetError as e:
        raise FlowError(str(e)) from None
    return np.ascontiguousarray(images, dtype=np.uint8), labels, "Fashion-MNIST test set"


def save_test_data(package: Package, data: Path, images: np.ndarray, labels: Optional[np.ndarray],
                   load: Optional[dict] = None) -> dict:
    """images.bin (uint8, fitted to the package), expected.bin (int32 class sums of
    host.reference), labels.bin (int32; removed when there are no labels) in `data`, and with
    `load` (interface.json's weight-load step) weights.bin: the weight image (host/weights.py),
    uint64 little-endian (removed when there is none)."""
    from host.weights import weight_image
    images = fit_images(images, package.input_shape)
    reference = Reference(package)
    start = time.perf_counter()
    sums = reference.class_sums(images)
    ref_seconds = time.perf_counter() - start
    if np.abs(sums).max(initial=0) >= 2 ** 31:
        raise FlowError("class sums do not fit int32")
    data.mkdir(parents=True, exist_ok=True)
    images.tofile(data / "images.bin")
    sums.astype("<i4").tofile(data / "expected.bin")
    if load:
        weight_image(package, load["memories"]).astype("<u8").tofile(data / "weights.bin")
    elif (data / "weights.bin").exists():
        (data / "weights.bin").unlink()
    if labels is not None:
        np.asarray(labels, "<i4").tofile(data / "labels.bin")
    elif (data / "labels.bin").exists():
        (data / "labels.bin").unlink()
    return {"images": images, "labels": labels, "expected": sums, "reference_seconds": ref_seconds,
            "reference": reference}


def write_test_data(package: Package, out: Path, count: int, images_npy: Optional[str] = None,
                    labels_npy: Optional[str] = None, load: Optional[dict] = None) -> dict:
    """`load_images` then `save_test_data` into out/data/ (hls/fifos.py sizes on these)."""
    images, labels, source = load_images(count, images_npy, labels_npy, tuple(package.input_shape))
    return dict(save_test_data(package, out / "data", images, labels, load), source=source)


# ---------------------------------------------------------------------------------------------
# C-simulation
# ---------------------------------------------------------------------------------------------

def csim_flags() -> List[str]:
    flags = list(CSIM_FLAGS)
    if platform.machine() in ("x86_64", "AMD64"):
        try:
            if " popcnt" in Path("/proc/cpuinfo").read_text():
                flags.append("-mpopcnt")
        except OSError:
            pass
    return flags


def build_tb(out: Path, model: str, opt: str = "-O2") -> Tuple[Path, float]:
    """The test bench executable (cached by content) and the seconds the build took."""
    start = time.perf_counter()
    exe = csim.build([out / "ern_top.cpp", out / "tb.cpp"], include_dirs=[out, out / "lib"], opt=opt,
                     extra_flags=csim_flags(), name=f"{model}_tb")
    return exe, time.perf_counter() - start


def build_emu(out: Path, model: str) -> Path:
    """emu.cpp + ern_top.cpp as a shared library (the C ABI `ern_run` for host emulation), built
    by host.emulation's own recipe (so emulation finds the same build) and copied to
    build/<m>/hls/libern_emu.so, which emulation loads while it names the package's digest."""
    from host.emulation import INSTALLED_LIBRARY, build_emulator   # pynq only when needed
    lib = build_emulator(out)
    target = out / INSTALLED_LIBRARY
    shutil.copyfile(lib, target.with_name(target.name + ".partial"))
    os.replace(target.with_name(target.name + ".partial"), target)
    return target


_RESULT = re.compile(r"images=(\d+) mismatches=(\d+) protocol_errors=(\d+)")


def _parse_tb(text: str) -> Tuple[int, int, int]:
    m = _RESULT.search(text)
    if not m:
        raise FlowError(f"the test bench printed no result line:\n{text[-2000:]}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def run_csim(out: Path, exe: Path, count: int, jobs: int, nice: bool = False) -> dict:
    """Run the test bench over `count` images in `jobs` processes; gather the class sums."""
    data = out / "data"
    jobs = max(1, min(jobs, count))
    bounds = [round(i * count / jobs) for i in range(jobs + 1)]
    procs = []
    start = time.perf_counter()
    for k in range(jobs):
        first, n = bounds[k], bounds[k + 1] - bounds[k]
        got = data / f"got_{os.getpid()}_{k}.bin"   # two runs at once do not share files
        cmd = [str(exe), str(data), str(first), str(n), str(got)]
        if nice and shutil.which("nice"):
            cmd = ["nice", "-n", "10"] + cmd
        procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), got))
    outputs, mismatches, protocol = [], 0, 0
    for proc, _ in procs:
        text, _ = proc.communicate()
        outputs.append(text)
        if proc.returncode not in (0, 1):
            raise FlowError(f"C-simulation exited with {proc.returncode}:\n{text[-3000:]}")
        _, mm, pe = _parse_tb(text)
        mismatches += mm
        protocol += pe
    seconds = time.perf_counter() - start
    got = np.concatenate([np.fromfile(g, "<i4") for _, g in procs]).reshape(count, -1)
    for _, g in procs:
        g.unlink()
    warnings = [line for text in outputs for line in text.splitlines() if "WARNING" in line]
    return {"seconds": seconds, "got": got.astype(np.int64), "tb_mismatches": mismatches,
            "protocol_errors": protocol, "warnings": warnings[:10], "jobs": jobs,
            "output": "\n".join(t.strip() for t in outputs)}


def run_clocked(out: Path, exe: Path, frames: int, clock_mhz: float, fifo_rules: List[dict]) -> dict:
    """One call of `frames` frames in the clocked C-simulation; report.json's `clocked` entry
    and hls/clocked.png (busy and stalled cycles per process)."""
    result = clocked.run(exe, out / "data", frames, clock_mhz=clock_mhz)
    entry = clocked.report_entry(result)
    rules = {r["fifo"]: r for r in fifo_rules}
    for f in entry["fifos"]:        # the skip rule's depth next to the peak the clocked run saw
        if f["name"] in rules:
            f["rule"] = rules[f["name"]]["rule"]
    if result["processes"]:
        clocked.plot(result, out / "clocked.png", out.parent.name)
        entry["plot"] = "clocked.png"
    return entry


PREDICTED = "predicted (performance model hls/perf, the generated design priced)"


def prediction(package_dir: Path, df, clock_mhz: float, board: boards.Board) -> dict:
    """The estimate of the generated design `df` (the performance model, hls/perf): its totals
    and each layer's predicted cycles per frame (report.json's side_by_side without the clocked
    columns; the codegen step records it)."""
    from hls.perf.estimate import load_graph
    from hls.perf.generated import evaluate_generated
    from hls.perf.resources import part_of
    d = evaluate_generated(load_graph(package_dir), df, clock_mhz, part_of(board))
    t = d.totals
    return {"predicted": {"label": PREDICTED, "cycles_per_frame": d.ii, "fps": round(d.fps, 1),
                          "bottleneck": d.bottleneck, "lut": round(t.lut), "ff": round(t.ff),
                          "bram36": t.bram36, "dsp": round(t.dsp)},
            "layers": [{"layer": l["name"], "op": l["op"], "predicted_cycles": l["cycles"]} for l in d.layers]}


def side_by_side(predicted: dict, clk: Optional[dict]) -> dict:
    """The estimate of the generated design (`prediction`) beside the clocked C-simulation, per
    layer: the predicted cycles per frame, and the clocked busy / input-starved / output-blocked
    cycles per frame of the layer's processes (the busiest process; totals over the run / frames)."""
    procs = {}
    frames = (clk or {}).get("frames") or 0
    if clk and frames:
        for p in clk.get("processes", []):
            procs.setdefault(p["name"].split(".")[0], []).append(p)
    layers = []
    for row in predicted["layers"]:
        row = dict(row)
        ps = procs.get(row["layer"])
        if ps:
            top = max(ps, key=lambda p: p["busy"])
            row.update({"clocked_process": top["name"], "clocked_busy": round(top["busy"] / frames),
                        "clocked_starved": round(top["starved"] / frames),
                        "clocked_blocked": round(top["blocked"] / frames)})
        layers.append(row)
    out = {"predicted": predicted["predicted"], "layers": layers,
           "note": "predicted_cycles: the estimate (performance model); clocked_*: clocked C-simulation "
                   "cycles per frame (the run's totals / frames) of the layer's busiest process"}
    if clk and clk.get("cycles_per_frame"):
        out["clocked"] = {"label": clocked.LABEL, "cycles_per_frame": clk["cycles_per_frame"], "fps": clk["fps"]}
        out["fps_ratio_predicted_over_clocked"] = round(predicted["predicted"]["fps"] / clk["fps"], 4)
    return out


def side_by_side_table(sbs: dict) -> str:
    rows = [f"{'layer':<16} {'predicted cycles':>16} {'clocked busy':>13} {'clocked starved':>16} "
            f"{'clocked blocked':>16}"]
    for r in sbs["layers"]:
        rows.append(f"{r['layer']:<16} {r['predicted_cycles']:>16,} {r.get('clocked_busy', '-'):>13,} "
                    f"{r.get('clocked_starved', '-'):>16,} {r.get('clocked_blocked', '-'):>16,}"
                    if "clocked_busy" in r else f"{r['layer']:<16} {r['predicted_cycles']:>16,}")
    p = sbs["predicted"]
    rows.append(f"predicted: {p['cycles_per_frame']:,} cycles/frame, {p['fps']:,.1f} FPS (bottleneck {p['bottleneck']}), "
                f"{p['lut']:,} LUT, {p['bram36']:g} BRAM36, {p['dsp']} DSP")
    if "clocked" in sbs:
        c = sbs["clocked"]
        rows.append(f"clocked C-simulation: {c['cycles_per_frame']:,.0f} cycles/frame, {c['fps']:,.1f} FPS; "
                    f"predicted / clocked FPS = {sbs['fps_ratio_predicted_over_clocked']:.4f}")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
# Vitis HLS
# ---------------------------------------------------------------------------------------------

def parse_csynth(xml_path: Path) -> dict:
    """Latency and resources from Vitis HLS's <top>_csynth.xml."""
    root = ET.parse(xml_path).getroot()

    def text(path):
        node = root.find(path)
        return node.text.strip() if node is not None and node.text else None

    def number(path):
        value = text(path)
        try:
            return int(value)
        except (TypeError, ValueError):
            try:
                return float(value)
            except (TypeError, ValueError):
                return value

    lat = "PerformanceEstimates/SummaryOfOverallLatency/"
    res = "AreaEstimates/Resources/"
    avail = "AreaEstimates/AvailableResources/"
    return {
        "part": text("UserAssignments/Part"),
        "target_clock_ns": number("UserAssignments/TargetClockPeriod"),
        "estimated_clock_ns": number("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod"),
        "latency_cycles": {"best": number(lat + "Best-caseLatency"), "worst": number(lat + "Worst-caseLatency")},
        "interval_cycles": {"min": number(lat + "Interval-min"), "max": number(lat + "Interval-max")},
        "resources": {k.lower(): number(res + k) for k in ("LUT", "FF", "BRAM_18K", "DSP", "URAM")},
        "available": {k.lower(): number(avail + k) for k in ("LUT", "FF", "BRAM_18K", "DSP", "URAM")},
    }


def vitis(out: Path, timeout: float = 6 * 3600) -> Optional[dict]:
    exe = shutil.which("vitis_hls")
    if not exe:
        return None
    log("running vitis_hls -f run_hls.tcl (csim, csynth, cosim, export)")
    start = time.perf_counter()
    proc = subprocess.run([exe, "-f", "run_hls.tcl"], cwd=out, capture_output=True, text=True, timeout=timeout)
    (out / "vitis_hls.log").write_text(proc.stdout + proc.stderr)
    result = {"exit_status": proc.returncode, "seconds": round(time.perf_counter() - start, 1),
              "log": "vitis_hls.log"}
    xml = out / "proj_ern_top" / "solution1" / "syn" / "report" / "ern_top_csynth.xml"
    if xml.is_file():
        result.update(parse_csynth(xml))
    ip = sorted((out / "proj_ern_top" / "solution1" / "impl").glob("**/*.zip"))
    result["ip_zip"] = str(ip[0].relative_to(out)) if ip else None
    return result


# ---------------------------------------------------------------------------------------------
# The steps: each reads and writes only the artifact map's files (host/artifacts.py)
# ---------------------------------------------------------------------------------------------

@dataclass
class Flow:
    """What the steps share: the model's files, the command line's options, and the results of
    the steps so far (run now, or recorded when they were last run: hls/runner.py)."""
    files: Artifacts
    options: argparse.Namespace
    results: Dict[str, dict] = field(default_factory=dict)
    selected: List[str] = field(default_factory=list)       # the steps this run may run
    builds: Dict[str, Future] = field(default_factory=dict)   # g++ builds started ahead of their step
    _package: Optional[Package] = None
    _images: Optional[tuple] = None

    @property
    def board(self) -> boards.Board:
        return boards.get(self.options.board)

    @property
    def package(self) -> Package:
        if self._package is None:
            try:
                self._package = load(self.files.package_dir)
            except PackageError as e:
                raise FlowError(str(e)) from None
        return self._package

    @property
    def images(self) -> Tuple[np.ndarray, Optional[np.ndarray], str]:
        """The test images, their labels and source (loaded once: the testdata step's key and input)."""
        if self._images is None:
            o = self.options
            self._images = load_images(o.images, o.images_npy, o.labels_npy, tuple(self.package.input_shape))
        return self._images

    @property
    def clock_mhz(self) -> float:
        """--clock-mhz, else the board's planned clock: the clocked and predicted FPS are at it."""
        return self.options.clock_mhz or self.board.clock_mhz

    @property
    def folding_file(self) -> Optional[Path]:
        """--folding; else, unless a search option is given, the model's committed folding."""
        if self.options.folding:
            return Path(self.options.folding)
        return None if searching(self.options) else default_folding(self.files.model, self.board)


def result_of(flow: Flow, step: str) -> dict:
    """The result of an earlier step (run now, or recorded), which a later one reads."""
    if step not in flow.results:
        raise FlowError(f"no result of the {step} step yet: run the steps from {step} (--from {step})")
    return flow.results[step]


def generated(files: Artifacts) -> List[Path]:
    """The generated HLS sources in hls/ (not its data, reports and builds)."""
    from hls.codegen.files import GENERATED_PATTERNS
    return sorted({p for pattern in GENERATED_PATTERNS for p in files.hls_dir.glob(pattern) if p.is_file()})


def test_data_files(files: Artifacts) -> List[Path]:
    d = files.test_data_dir
    return [d / "images.bin", d / "expected.bin", d / "labels.bin", d / "weights.bin"]


# -- export: models/<m>/model.pt -> model.onnx --------------------------------------------------

def export_step(flow: Flow) -> dict:
    """training.export as its own process: hls/ never imports training (docs/architecture.md)."""
    f = flow.files
    cmd = [sys.executable, "-m", "training.export", "--model", f.model, "--checkpoint", str(f.checkpoint.resolve()),
           "--out", str(f.onnx.resolve())]
    log(f"exporting {shown(f.checkpoint)} -> {shown(f.onnx)}")
    status = subprocess.run(cmd, cwd=REPO).returncode
    if status != 0:
        raise FlowError(f"exporting {shown(f.checkpoint)} failed (exit {status}; see above)",
                        exit_code=status if 0 < status <= DEADLOCK else CHECK)
    return {}


def export_key(flow: Flow) -> list:
    return [flow.files.model, flow.files.checkpoint,
            *sources("training/export.py", "training/models.py", "training/layers.py", "training/quant.py",
                     "training/checkpoint.py")]


# -- lower: model.onnx -> dataflow/ (the integer model package) ---------------------------------

def lower_step(flow: Flow) -> dict:
    from hls.lower.__main__ import main as lower_main     # qonnx and onnx only when it runs
    f = flow.files
    log(f"lowering {f.onnx} -> {f.package_dir}")
    if lower_main(["--onnx", str(f.onnx), "--out", str(f.package_dir), "--report", str(f.lowering_json),
                   "--quiet"]) != 0:
        raise FlowError(f"lowering {f.onnx} failed (see above)")
    return {}


def lower_key(flow: Flow) -> list:
    return [flow.files.onnx, *sources("hls/lower/*.py", "host/package.py", "host/ops.py")]


def package_files(flow: Flow) -> List[Path]:
    return [flow.files.package_json, flow.files.package_params]


# -- estimate: the folding (file, search, or fallback) -> folding.json, estimate.json + PNG -----

def estimate_step(flow: Flow) -> dict:
    from hls.perf import estimate as E
    from hls.perf.folding import write_folding
    from hls.perf.resources import part_of
    f, board, o = flow.files, flow.board, flow.options
    g = E.load_graph(f.package_dir)
    folding_file = flow.folding_file
    budget = E.choose_budget(o, part_of(board), folding_file)
    folding, source = choose_folding(flow.package, f.package_dir, folding_file and shown(folding_file),
                                     o.target_fps, budget, board)
    write_folding(f.folding_json, folding, g, comment=f"folding of {f.model} on {board.name} ({source})")
    try:   # the chosen design, priced as codegen generates it from folding.json
        d = E.estimate(g, f.folding_json, None, board.clock_mhz, budget, flow.package)
    except E.EstimateError as e:
        raise FlowError(str(e)) from None
    d.mode = source
    rep = E.report(d, budget, str(f.package_dir), board.name)
    rep["plot"], rep["folding_file"] = str(f.estimate_png), str(f.folding_json)
    f.estimate_json.write_text(json.dumps(rep, indent=1) + "\n")
    E.plot(rep, f.estimate_png)
    print(E.table(rep))
    log(f"{f.model} on {board.title} ({board.part}, {board.clock_mhz:g} MHz): folding: {source}; "
        f"wrote {f.estimate_json}, {f.estimate_png}, {f.folding_json}")
    return {"folding_source": source, "fits": bool(rep["fits"]), "fps": rep["fps"], "part": rep["part"]}


def estimate_key(flow: Flow) -> list:
    o = flow.options
    return [flow.board.name, flow.folding_file, o.target_fps, budget_values(o), *package_files(flow),
            *sources("hls/perf/*.py", "hls/codegen/**/*.py", "host/boards.py")]


def does_not_fit(result: dict) -> int:
    return OK if result.get("fits", True) else NO_FIT


# -- codegen: package + folding.json -> hls/ (HLS C++, tb.cpp, emu.cpp, run_hls.tcl, ...) -------

def codegen_step(flow: Flow) -> dict:
    from hls.perf.folding import FoldingError, read_folding
    f, board = flow.files, flow.board
    try:
        result = generate(flow.package, f.hls_dir, read_folding(f.folding_json), board=board)
    except (CodegenError, FoldingError) as e:
        raise FlowError(str(e)) from None
    df = result.dataflow
    log(f"generated {f.hls_dir}: {len(result.files)} files, {len(df.processes)} processes, {len(df.fifos)} FIFOs "
        f"({sum(1 for q in df.fifos if q.depth > 2)} deeper than 2)")
    return {"files": len(result.files), "fifos": result.fifos, "top": result.interface["top"],
            "vlnv": result.interface["vlnv"], "package_sha256": result.interface["package_sha256"],
            "side_by_side": prediction(f.package_dir, df, flow.clock_mhz, board)}


def codegen_key(flow: Flow) -> list:
    return [flow.board.name, flow.clock_mhz, flow.files.folding_json, *package_files(flow),
            *sources("hls/codegen/**/*.py", "hls/codegen/support/*", "hls/lib/**/*.h", "hls/perf/*.py",
                     "host/boards.py", "host/package.py")]


def codegen_outputs(flow: Flow) -> List[Path]:
    f = flow.files
    return [f.interface_json, f.hls_dir / "ern_top.cpp", f.hls_dir / "tb.cpp", f.emu_cpp]


# -- testdata: the first N test images and host.reference's class sums -> hls/data/ --------------

def testdata_step(flow: Flow) -> dict:
    images, labels, source = flow.images
    data = save_test_data(flow.package, flow.files.test_data_dir, images, labels, weight_load(flow))
    log(f"test data: {len(images)} images from {source}; reference class sums in {data['reference_seconds']:.1f} s")
    return {"images": len(images), "source": source, "labels": labels is not None,
            "reference_seconds": round(data["reference_seconds"], 2)}


def testdata_key(flow: Flow) -> list:
    images, labels, source = flow.images
    h = hashlib.sha256(images.tobytes() + str(images.shape).encode())
    if labels is not None:
        h.update(np.asarray(labels, "<i4").tobytes())
    return [h.hexdigest(), source, *package_files(flow), flow.files.interface_json,
            *sources("host/reference.py", "host/kernels.py", "host/ops.py", "host/package.py", "host/weights.py")]


def weight_load(flow: Flow) -> Optional[dict]:
    """interface.json's weight-load step of the generated design (weights in UltraRAM), or None."""
    try:
        return json.loads(flow.files.interface_json.read_text()).get("load")
    except (OSError, ValueError):
        return None


# -- csim: the test bench over every test image; each class sum must equal the reference's -------

def start_builds(flow: Flow) -> None:
    """Start the clocked test bench's and the emulation library's g++ builds beside the
    C-simulation's (two compilers at a time): their steps take them when they run. Where the
    sources have not changed they are cache hits (host/cxx.py), so a build started for a step
    that then is skipped costs nothing."""
    pool = ThreadPoolExecutor(max_workers=1)
    later = {"clocked": lambda: clocked.build(flow.files.hls_dir, flow.files.model),
             "emu": lambda: build_emu(flow.files.hls_dir, flow.files.model)}
    for step in STEPS:
        if step.name in later and step.name in flow.selected and not step.off(flow):
            flow.builds[step.name] = pool.submit(later[step.name])
    pool.shutdown(wait=False)


def built(flow: Flow, step: str, build: Callable[[], Any]):
    """The build `start_builds` started for `step`, else `build()` now."""
    started = flow.builds.pop(step, None)
    return started.result() if started is not None else build()


def csim_step(flow: Flow) -> dict:
    f, o = flow.files, flow.options
    count = result_of(flow, "testdata")["images"]
    start_builds(flow)
    exe, compile_seconds = build_tb(f.hls_dir, f.model)
    log(f"C-simulation build: {compile_seconds:.1f} s (cached by content under build/csim_cache/)")
    sim = run_csim(f.hls_dir, exe, count, o.jobs, o.nice)
    expected = np.fromfile(f.test_data_dir / "expected.bin", "<i4").reshape(count, -1).astype(np.int64)
    differs = np.any(sim["got"] != expected, axis=1)
    result = {"images": count, "mismatches": int(differs.sum()), "first_mismatch": None,
              "protocol_errors": sim["protocol_errors"], "warnings": sim["warnings"],
              "top1": None, "top1_reference": None, "csim_seconds": round(sim["seconds"], 2),
              "csim_compile_seconds": round(compile_seconds, 1), "csim_jobs": sim["jobs"],
              "csim_images_per_second": round(count / max(sim["seconds"], 1e-9), 1)}
    if result["mismatches"]:
        first = int(np.argmax(differs))
        result["first_mismatch"] = {"image": first, "got": sim["got"][first].tolist(),
                                    "expected": expected[first].tolist()}
    labels_bin = f.test_data_dir / "labels.bin"
    if labels_bin.is_file():
        labels, reference = np.fromfile(labels_bin, "<i4"), Reference(flow.package)
        result["top1"] = top1(reference, sim["got"], labels)
        result["top1_reference"] = top1(reference, expected, labels)
    return result


def top1(reference: Reference, sums: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 in % of the class sums `sums` (the reference turns them into logits)."""
    return round(100.0 * float(np.mean(np.argmax(reference.logits_from_sums(sums), 1) == labels)), 2)


def csim_key(flow: Flow) -> list:
    return [*generated(flow.files), *test_data_files(flow.files), csim_flags(), *sources("hls/csim.py", "host/cxx.py")]


def csim_verdict(result: dict) -> int:
    return CHECK if result["mismatches"] or result["protocol_errors"] or result["warnings"] else OK


# -- clocked: a few frames stepped once per clock cycle (hls/clocked.py) -------------------------

def clocked_frames(flow: Flow) -> int:
    return min(flow.options.clocked_frames, result_of(flow, "testdata")["images"])


def clocked_step(flow: Flow) -> dict:
    f = flow.files
    exe, compile_seconds = built(flow, "clocked", lambda: clocked.build(f.hls_dir, f.model))
    entry = run_clocked(f.hls_dir, exe, clocked_frames(flow), flow.clock_mhz,
                        result_of(flow, "codegen")["fifos"])
    entry["compile_seconds"] = round(compile_seconds, 1)
    return entry


def clocked_key(flow: Flow) -> list:
    """The generated design and only the frames it runs: more or fewer test images beyond those
    leave the clocked result as it was."""
    count, frames = result_of(flow, "testdata")["images"], clocked_frames(flow)
    head = hashlib.sha256()
    for path in test_data_files(flow.files)[:2]:
        data = path.read_bytes()
        head.update(data[:len(data) // count * frames])
    return [*generated(flow.files), head.hexdigest(), frames, flow.clock_mhz,
            *sources("hls/clocked.py", "hls/csim.py", "host/cxx.py")]


def clocked_verdict(result: dict) -> int:
    return DEADLOCK if result.get("stall") is not None else CHECK if result.get("mismatches") else OK


# -- emu: libern_emu.so, the C ABI host emulation loads ------------------------------------------

def emu_step(flow: Flow) -> dict:
    return {"library": built(flow, "emu", lambda: build_emu(flow.files.hls_dir, flow.files.model)).name}


def emu_key(flow: Flow) -> list:
    return [*generated(flow.files), *sources("host/emulation.py", "host/cxx.py")]


# -- vitis: synthesis, co-simulation and IP export when vitis_hls is on PATH ----------------------

def vitis_step(flow: Flow) -> dict:
    return vitis(flow.files.hls_dir) or {}


def vitis_key(flow: Flow) -> list:
    return generated(flow.files)


def vitis_off(flow: Flow) -> Optional[str]:
    if flow.options.no_vitis:
        return "--no-vitis"
    return None if shutil.which("vitis_hls") else "vitis_hls not on PATH"


STEPS = (
    Step("export", export_step, export_key, "checkpoint -> QONNX (training/export.py)",
         outputs=lambda flow: [flow.files.onnx], needs=lambda flow: [flow.files.checkpoint]),
    Step("lower", lower_step, lower_key, "QONNX -> integer model package (hls/lower)",
         outputs=package_files, needs=lambda flow: [flow.files.onnx]),
    Step("estimate", estimate_step, estimate_key, "folding, performance and fit (hls/perf)",
         outputs=lambda flow: [flow.files.folding_json, flow.files.estimate_json], needs=package_files,
         last_verdict=does_not_fit),
    Step("codegen", codegen_step, codegen_key, "HLS C++ (hls/codegen)", outputs=codegen_outputs,
         needs=lambda flow: [flow.files.folding_json]),
    Step("testdata", testdata_step, testdata_key, "test images and the reference's class sums",
         outputs=lambda flow: test_data_files(flow.files)[:2]),
    Step("csim", csim_step, csim_key, "bit-exact C-simulation (g++)", verdict=csim_verdict),
    Step("clocked", clocked_step, clocked_key, "clocked C-simulation: cycles, FPS, FIFO peaks",
         off=lambda flow: "--clocked-frames 0" if flow.options.clocked_frames == 0 else None,
         verdict=clocked_verdict),
    Step("emu", emu_step, emu_key, "libern_emu.so for host emulation",
         outputs=lambda flow: [flow.files.emu_library],
         off=lambda flow: "--no-emu" if flow.options.no_emu else None),
    Step("vitis", vitis_step, vitis_key, "Vitis HLS (when on PATH)",
         off=vitis_off, verdict=lambda result: CHECK if result.get("exit_status") else OK),
)


# ---------------------------------------------------------------------------------------------
# report.json
# ---------------------------------------------------------------------------------------------

def report(flow: Flow, timings: Dict[str, dict]) -> dict:
    """report.json from the steps' results (this run's or the recorded ones)."""
    r = flow.results

    def this_run(step: str) -> Optional[dict]:   # None for a step not run now (off, or not selected)
        return (r.get(step) or None) if timings.get(step, {}).get("status") in ("ran", "skipped") else None

    codegen, sim, clk = result_of(flow, "codegen"), r["csim"], this_run("clocked")
    return {
        "model": flow.files.model, "board": flow.board.name, "images": sim["images"],
        "mismatches": sim["mismatches"], "top1": sim["top1"], "top1_reference": sim["top1_reference"],
        "csim_seconds": sim["csim_seconds"], "csim_compile_seconds": sim["csim_compile_seconds"],
        "csim_jobs": sim["csim_jobs"], "csim_images_per_second": sim["csim_images_per_second"],
        "protocol_errors": sim["protocol_errors"], "warnings": sim["warnings"],
        "clocked": clk, "side_by_side": side_by_side(codegen["side_by_side"], clk),
        "vitis_hls": this_run("vitis"),
        "data": result_of(flow, "testdata")["source"],
        "folding_source": r.get("estimate", {}).get("folding_source"),
        "folding": {k: v for k, v in read_json(flow.files.folding_json).items() if not k.startswith("_")},
        "fifos": codegen["fifos"],
        "emulation_library": (this_run("emu") or {}).get("library"),
        "top": codegen["top"], "vlnv": codegen["vlnv"], "package_sha256": codegen["package_sha256"],
        "steps": timings,
    }


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise FlowError(f"{path}: cannot read it ({e})") from None


def print_summary(rep: dict) -> None:
    model, count = rep["model"], rep["images"]
    clk = rep["clocked"]
    log(f"{model}: {count} images, mismatches {rep['mismatches']}, protocol errors {rep['protocol_errors']}"
        + (f", top1 {rep['top1']:.2f}% (reference {rep['top1_reference']:.2f}%)" if rep["top1"] is not None else "")
        + f", csim {rep['csim_seconds']:.1f} s ({rep['csim_jobs']} jobs, {rep['csim_images_per_second']} images/s)")
    if rep["warnings"]:
        log(f"C-simulation warnings: {rep['warnings'][0]}")
    if clk:
        if clk["stall"] is None:
            log(f"{clocked.summary(clk)}; {clk['frames']} frames in {clk['seconds']} s "
                f"(build {clk['compile_seconds']} s), mismatches {clk['mismatches']}")
        else:
            log(clocked.summary(clk))
    print("per layer, cycles per frame: predicted (estimate) vs clocked C-simulation\n"
          + side_by_side_table(rep["side_by_side"]))
    v = rep["vitis_hls"]
    if v is None:
        print("vitis_hls: not run (not on PATH, or --no-vitis); synthesis, co-simulation and IP export skipped "
              "(report.json: vitis_hls = null)")
    else:
        log(f"vitis_hls: exit {v['exit_status']}, latency {v.get('latency_cycles')}, resources {v.get('resources')}")


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    from hls.perf.estimate import add_search_arguments
    ap = argparse.ArgumentParser(prog="python -m hls", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ern_tiny", type=model_name_arg)
    ap.add_argument("--build-dir", default="build", help="the model's files go to BUILD_DIR/<model>/")
    ap.add_argument("--models-dir", default=None, help="checkpoints: MODELS_DIR/<model>/model.pt (default models)")
    ap.add_argument("--step", metavar="NAME", help=f"run this step alone ({', '.join(n for n in names(STEPS))})")
    ap.add_argument("--from", dest="first", metavar="NAME", help="start at this step (default: export)")
    ap.add_argument("--to", dest="last", metavar="NAME", help="stop after this step (default: vitis)")
    ap.add_argument("--force", action="store_true", help="rerun the steps even when their inputs are unchanged")
    ap.add_argument("--board", default=boards.DEFAULT,
                    help=f"the board: its part and clock for the folding and run_hls.tcl ({boards.names()})")
    ap.add_argument("--images", type=positive_int, default=1000, help="test images to C-simulate (default 1000)")
    ap.add_argument("--images-npy", help="uint8 images N x H x W x C (.npy) instead of Fashion-MNIST")
    ap.add_argument("--labels-npy", help="labels (N,) for --images-npy (top-1)")
    ap.add_argument("--folding", help="folding file {layer: {pe, simd}} (default: hls/foldings/<model>.json when "
                    "there is one and no search option is given, else the search)")
    add_search_arguments(ap)
    ap.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1, help="parallel C-simulation processes")
    ap.add_argument("--clocked-frames", "--fifo-sim-frames", dest="clocked_frames", type=non_negative_int,
                    default=CLOCKED_FRAMES, help="frames of the clocked C-simulation run, in one call "
                    f"(default {CLOCKED_FRAMES}; 0: skip it; --fifo-sim-frames is its former name)")
    ap.add_argument("--clock-mhz", type=positive_float, default=None,
                    help="design clock for the clocked and predicted FPS (default: the board's, host/boards.py)")
    ap.add_argument("--no-vitis", action="store_true", help="do not run vitis_hls even when on PATH")
    ap.add_argument("--no-emu", action="store_true", help="do not build libern_emu.so (host emulation)")
    ap.add_argument("--nice", action="store_true", help="run the simulations at low priority")
    return ap


def planned_folding(files: Artifacts, folding_file: Optional[str], board: str) -> Tuple[Package, dict, str]:
    """The package, and the folding `make hls` generates with `folding_file` (None: its default)
    on `board`, and where it came from: the steps up to `estimate` (run where out of date)."""
    from hls.perf.folding import read_folding
    argv = ["--model", files.model, "--board", board] + (["--folding", folding_file] if folding_file else [])
    flow = Flow(files, parser().parse_args(argv))
    run_steps(STEPS, select(STEPS, last="estimate"), flow, files.steps_json, log=log)
    return flow.package, read_folding(files.folding_json), flow.results["estimate"].get("folding_source", "")


def flow_of(options: argparse.Namespace) -> Flow:
    models = Path(options.models_dir) if options.models_dir else None
    return Flow(Artifacts(options.model, Path(options.build_dir) / options.model, models), options)


def run(options: argparse.Namespace) -> int:
    """Run the selected steps (hls/runner.py skips the up-to-date ones); write report.json when
    the C-simulation is among them."""
    selected = select(STEPS, options.step, options.first, options.last)
    flow = flow_of(options)
    flow.selected = names(selected)
    outcome = run_steps(STEPS, selected, flow, flow.files.steps_json, force=options.force, log=log)
    if "csim" in names(selected) and "csim" in flow.results:
        rep = report(flow, outcome.timings)
        flow.files.report_json.write_text(json.dumps(rep, indent=1) + "\n")
        if rep["mismatches"]:
            m = flow.results["csim"]["first_mismatch"]
            log(f"MISMATCH: {rep['mismatches']} of {rep['images']} images differ from host.reference; first: "
                f"image {m['image']}: got {m['got']}, expected {m['expected']}")
        print_summary(rep)
        skipped = any(t["status"] == "skipped" for t in outcome.timings.values())
        log(f"wrote {flow.files.report_json}"
            + (f" (the skipped steps' results as recorded in {flow.files.steps_json.name})" if skipped else ""))
    return outcome.status


def main(argv=None) -> int:
    return cli("hls", lambda argv: run(parser().parse_args(argv)), argv)


if __name__ == "__main__":
    sys.exit(main())
