"""`make hls`: package -> folding -> HLS C++ -> C-simulation (bit-exact) -> report.json.

    python -m hls --model ern_tiny [--images 1000] [--folding F | --target-fps N --budget-lut L ...]

Each step is a plain function that writes its output under build/<model>/ and can be rerun alone:

1. `ensure_package`: build/<m>/dataflow (lowered from build/<m>/model.onnx when missing);
2. `choose_folding`: --folding FILE, or the estimator's search with the given target/budget,
   or build/<m>/folding.json (make estimate's), or the default search; written to hls/folding.json;
3. `codegen`: build/<m>/hls/ (hls/codegen);
4. `write_test_data`: the first N Fashion-MNIST test images (host/datasets.py; or --images-npy) and the
   class sums of host.reference -> hls/data/images.bin, expected.bin, labels.bin;
5. `run_csim`: g++ -O2 build of ern_top.cpp + tb.cpp (cached by content), run over the images in
   parallel jobs; every class sum must equal the reference's;
6. `run_clocked`: the same with -DERN_CLOCKED_SIM (hls/clocked.py: every process stepped once
   per clock cycle over FIFOs of the generated depths, synthesised code paths) over a few frames
   in one call: cycles per frame, FPS at the design clock, latency, stalls per process, FIFO
   peaks (report.json `clocked`, hls/clocked.png), or a deadlock naming the FIFOs;
7. `build_emu`: emu.cpp + ern_top.cpp -> hls/libern_emu.so, the C ABI `ern_run` (ctypes) that
   host emulation loads instead of building its own while the library's `ern_package_sha256()`
   is the package's digest (interface.json describes it);
8. `vitis`: run_hls.tcl when vitis_hls is on PATH (latency and resources from its report).

Prints a summary and writes build/<m>/hls/report.json (images, mismatches, top1, csim_seconds,
vitis_hls, clocked, ...). Exit status (host/errors.py): 0 when every class sum matched and the
clocked run completed; 1 when a class sum differs or a build fails; 2 on bad input (one line);
4 when the clocked run deadlocks at the generated FIFO depths.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from hls import clocked, csim
from hls.codegen import CodegenError, generate
from host import boards
from host.errors import CHECK, DEADLOCK, OK, ErnError, cli
from host.package import Package, PackageError, load
from host.names import model_name_arg, non_negative_int, positive_float, positive_int
from host.reference import Reference

REPO = Path(__file__).resolve().parents[1]
# ap_types warnings that -isystem does not silence when inlined into our code, and one that g++
# -O2 raises on a loop of ap_private's reversed-range assignment that never runs here.
CSIM_FLAGS = ("-Wno-aggressive-loop-optimizations",)
CLOCKED_FRAMES = 5          # frames of the clocked run: the steady state is frames 2..N


class FlowError(ErnError, RuntimeError):
    """A step that cannot run (one-line message)."""


def log(msg: str) -> None:
    print(f"hls: {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# 1. package
# ---------------------------------------------------------------------------------------------

def ensure_package(build: Path) -> Package:
    folder = build / "dataflow"
    if not (folder / "model.json").is_file():
        onnx = build / "model.onnx"
        if not onnx.is_file():
            raise FlowError(f"no model package in {folder} and no {onnx} to lower: run "
                            f"`make export MODEL={build.name}` first")
        log(f"lowering {onnx} -> {folder}")
        from hls.lower.__main__ import main as lower_main   # qonnx/onnx only when needed
        if lower_main(["--onnx", str(onnx), "--out", str(folder), "--quiet"]) != 0:
            raise FlowError(f"lowering {onnx} failed (see above)")
    try:
        return load(folder)
    except PackageError as e:
        raise FlowError(str(e)) from None


# ---------------------------------------------------------------------------------------------
# 2. folding
# ---------------------------------------------------------------------------------------------

def choose_folding(package: Package, build: Path, folding_file: Optional[str], target_fps: Optional[float],
                   budget_args: Dict[str, Optional[float]], board: Optional[boards.Board] = None) -> Tuple[dict, str]:
    """({layer: {pe, simd, mem}}, where it came from) on `board`'s part and clock (default the
    PYNQ-Z2) — see the module docstring."""
    from hls.perf.estimate import estimate, generation_folding, load_graph
    from hls.perf.folding import Budget, FitError, FoldingError, read_folding, validate_folding
    from hls.perf.opmodels import EstimateError

    from hls.perf.resources import part_of

    board = board or boards.get()
    g = load_graph(build / "dataflow")
    pct = lambda key, default: default if budget_args.get(key) is None else budget_args[key] / 100  # noqa: E731
    budget = Budget(pct("lut_pct", 0.70), pct("bram_pct", 0.85), int(budget_args.get("dsp") or 0),
                    part=part_of(board), lut_max=budget_args.get("lut"), bram_max=budget_args.get("bram"))
    clock = board.clock_mhz
    searching = target_fps is not None or any(v is not None for v in budget_args.values())
    try:
        if folding_file:
            d = estimate(g, folding_file, None, clock, budget=budget, package=package)
            return generation_folding(d), f"folding file {folding_file}"
        saved = build / "folding.json"
        if not searching and saved.is_file() and _estimate_board(build) != board.name:
            log(f"ignoring {saved}: make estimate made it for {_estimate_board(build)}, not {board.name}")
        elif not searching and saved.is_file():
            try:
                validate_folding(read_folding(saved), g, str(saved))
                d = estimate(g, saved, None, clock, budget=budget, package=package)
                return generation_folding(d), f"{saved} (make estimate)"
            except (FoldingError, EstimateError) as e:
                log(f"ignoring {saved}: {e}")
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


def _estimate_board(build: Path) -> str:
    """The board build/<m>/estimate.json (make estimate) was made for (the default when unsaid)."""
    try:
        return json.loads((build / "estimate.json").read_text()).get("board", boards.DEFAULT)
    except (OSError, ValueError):
        return boards.DEFAULT


# ---------------------------------------------------------------------------------------------
# 4. test data
# ---------------------------------------------------------------------------------------------

def fit_images(images: np.ndarray, shape: Tuple[int, int, int]) -> np.ndarray:
    """N x h x w x c images to the package's H x W x C: centred zero padding where the package is
    larger (CNV takes 28 x 28 Fashion-MNIST zero-padded to 32 x 32, as training does)."""
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


def write_test_data(package: Package, out: Path, count: int, images_npy: Optional[str] = None,
                    labels_npy: Optional[str] = None, load: Optional[dict] = None) -> dict:
    """images.bin (uint8), expected.bin (int32 class sums of host.reference), labels.bin (int32),
    and with `load` (interface.json's weight-load step) weights.bin: the weight image
    (host/weights.py), uint64 little-endian."""
    from host import datasets
    from host.weights import weight_image
    h, w, _ = package.input_shape
    if not images_npy and h * w > RANDOM_IMAGES_ABOVE:
        images, labels = random_images(count, package.input_shape), None
        source = f"{count} seeded random uint8 images {'x'.join(map(str, package.input_shape))} (seed " \
                 f"{RANDOM_IMAGES_SEED}; no data set of this size here)"
        log(f"test data: {source}")
    elif images_npy:
        images = np.load(images_npy, allow_pickle=False)[:count]
        labels = np.load(labels_npy, allow_pickle=False)[:count] if labels_npy else None
        source = images_npy
        if images.ndim == 3:
            images = images[..., None]
    else:
        try:
            images, labels, _ = datasets.fashion_mnist("test", limit=count)
        except datasets.DatasetError as e:
            raise FlowError(str(e)) from None
        source = "Fashion-MNIST test set"
    images = fit_images(np.ascontiguousarray(images, dtype=np.uint8), package.input_shape)
    reference = Reference(package)
    start = time.perf_counter()
    sums = reference.class_sums(images)
    ref_seconds = time.perf_counter() - start
    if np.abs(sums).max(initial=0) >= 2 ** 31:
        raise FlowError("class sums do not fit int32")
    data = out / "data"
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
    return {"images": images, "labels": labels, "expected": sums, "source": source,
            "reference_seconds": ref_seconds, "reference": reference}


# ---------------------------------------------------------------------------------------------
# 5./6. C-simulation
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


def side_by_side(package: Package, build: Path, df, clk: Optional[dict], clock_mhz: float,
                 board: boards.Board) -> dict:
    """The estimate of the generated design (predicted) beside the clocked C-simulation, per
    layer: the predicted cycles per frame, and the clocked busy / input-starved / output-blocked
    cycles per frame of the layer's processes (the busiest process; totals over the run / frames)."""
    from hls.perf.estimate import load_graph
    from hls.perf.generated import evaluate_generated
    from hls.perf.resources import part_of
    g = load_graph(build / "dataflow")
    d = evaluate_generated(g, df, clock_mhz, part_of(board))
    t = d.totals
    predicted = {"label": PREDICTED, "cycles_per_frame": d.ii, "fps": round(d.fps, 1), "bottleneck": d.bottleneck,
                 "lut": round(t.lut), "ff": round(t.ff), "bram36": t.bram36, "dsp": round(t.dsp)}
    procs = {}
    frames = (clk or {}).get("frames") or 0
    if clk and frames:
        for p in clk.get("processes", []):
            procs.setdefault(p["name"].split(".")[0], []).append(p)
    layers = []
    for l in d.layers:
        row = {"layer": l["name"], "op": l["op"], "predicted_cycles": l["cycles"]}
        ps = procs.get(l["name"])
        if ps:
            top = max(ps, key=lambda p: p["busy"])
            row.update({"clocked_process": top["name"], "clocked_busy": round(top["busy"] / frames),
                        "clocked_starved": round(top["starved"] / frames),
                        "clocked_blocked": round(top["blocked"] / frames)})
        layers.append(row)
    out = {"predicted": predicted, "layers": layers,
           "note": "predicted_cycles: the estimate (performance model); clocked_*: clocked C-simulation "
                   "cycles per frame (the run's totals / frames) of the layer's busiest process"}
    if clk and clk.get("cycles_per_frame"):
        out["clocked"] = {"label": clocked.LABEL, "cycles_per_frame": clk["cycles_per_frame"], "fps": clk["fps"]}
        out["fps_ratio_predicted_over_clocked"] = round(predicted["fps"] / clk["fps"], 4)
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
# 7. Vitis HLS
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
# The whole flow
# ---------------------------------------------------------------------------------------------

def run(args) -> int:
    build = Path(args.build_dir) / args.model
    out = build / "hls"
    board = boards.get(args.board)
    clock_mhz = args.clock_mhz or board.clock_mhz   # the FPS figures at the clock the design is made for
    package = ensure_package(build)
    folding, folding_source = choose_folding(package, build, args.folding, args.target_fps,
                                             {"lut": args.budget_lut, "bram": args.budget_bram,
                                              "lut_pct": args.budget_lut_pct, "bram_pct": args.budget_bram_pct,
                                              "dsp": args.budget_dsp}, board)
    log(f"{package.model} for {board.title} ({board.part}, {board.clock_mhz:g} MHz): {len(package.layers)} layers; "
        f"folding: {folding_source}")
    try:
        result = generate(package, out, folding, board=board)
    except CodegenError as e:
        raise FlowError(str(e)) from None
    from hls.perf.folding import write_folding
    write_folding(out / "folding.json", folding, comment=f"folding of the generated C++ ({folding_source})")
    df = result.dataflow
    log(f"generated {out}: {len(result.files)} files, {len(df.processes)} processes, {len(df.fifos)} FIFOs "
        f"({sum(1 for f in df.fifos if f.depth > 2)} deeper than 2)")

    data = write_test_data(package, out, args.images, args.images_npy, args.labels_npy, result.interface.get("load"))
    count = len(data["images"])
    # the builds (plain, clocked, emulation library) two at a time: one g++ each (one with --jobs 1)
    with ThreadPoolExecutor(max_workers=min(2, args.jobs)) as pool:
        plain = pool.submit(build_tb, out, package.model)
        clocked_build = pool.submit(clocked.build, out, package.model) if args.clocked_frames > 0 else None
        emu = pool.submit(build_emu, out, package.model) if not args.no_emu else None
        exe, compile_seconds = plain.result()
        clocked_exe = clocked_build.result() if clocked_build else None
        emu_lib = emu.result() if emu else None
    log(f"C-simulation builds: {compile_seconds:.1f} s (cached by content under build/csim_cache/)")
    sim = run_csim(out, exe, count, args.jobs, args.nice)
    expected = data["expected"]
    differs = np.any(sim["got"] != expected, axis=1)
    mismatches = int(differs.sum())
    labels = data["labels"]
    top1 = top1_ref = None
    if labels is not None:
        reference = data["reference"]
        top1 = round(100.0 * float(np.mean(np.argmax(reference.logits_from_sums(sim["got"]), 1) == labels)), 2)
        top1_ref = round(100.0 * float(np.mean(np.argmax(reference.logits_from_sums(expected), 1) == labels)), 2)

    clk = None
    if clocked_exe:
        cexe, ccompile = clocked_exe
        clk = run_clocked(out, cexe, min(args.clocked_frames, count), clock_mhz, result.fifos)
        clk["compile_seconds"] = round(ccompile, 1)

    sbs = side_by_side(package, build, df, clk, clock_mhz, board)
    vitis_result = vitis(out) if not args.no_vitis else None
    report = {
        "model": package.model,
        "board": board.name,
        "images": count,
        "mismatches": mismatches,
        "top1": top1,
        "top1_reference": top1_ref,
        "csim_seconds": round(sim["seconds"], 2),
        "csim_compile_seconds": round(compile_seconds, 1),
        "csim_jobs": sim["jobs"],
        "csim_images_per_second": round(count / max(sim["seconds"], 1e-9), 1),
        "protocol_errors": sim["protocol_errors"],
        "warnings": sim["warnings"],
        "clocked": clk,
        "side_by_side": sbs,
        "vitis_hls": vitis_result,
        "data": data["source"],
        "folding_source": folding_source,
        "folding": {k: v for k, v in folding.items() if not k.startswith("_")},
        "fifos": result.fifos,
        "emulation_library": emu_lib.name if emu_lib else None,
        "top": result.interface["top"],
        "vlnv": result.interface["vlnv"],
        "package_sha256": result.interface["package_sha256"],
    }
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")

    if mismatches:
        first = int(np.argmax(differs))
        log(f"MISMATCH: {mismatches} of {count} images differ from host.reference; first: image {first}: "
            f"got {sim['got'][first].tolist()}, expected {expected[first].tolist()}")
    log(f"{package.model}: {count} images, mismatches {mismatches}, protocol errors {sim['protocol_errors']}"
        + (f", top1 {top1:.2f}% (reference {top1_ref:.2f}%)" if top1 is not None else "")
        + f", csim {sim['seconds']:.1f} s ({sim['jobs']} jobs, {report['csim_images_per_second']} images/s)")
    if sim["warnings"]:
        log(f"C-simulation warnings: {sim['warnings'][0]}")
    if clk is not None:
        if clk["stall"] is None:
            log(f"{clocked.summary(clk)}; {clk['frames']} frames in {clk['seconds']} s "
                f"(build {clk['compile_seconds']} s), mismatches {clk['mismatches']}")
        else:
            log(clocked.summary(clk))
    print("per layer, cycles per frame: predicted (estimate) vs clocked C-simulation\n" + side_by_side_table(sbs))
    if vitis_result is None:
        print("vitis_hls: not on PATH; synthesis, co-simulation and IP export skipped (report.json: vitis_hls = null)")
    else:
        log(f"vitis_hls: exit {vitis_result['exit_status']}, latency {vitis_result.get('latency_cycles')}, "
            f"resources {vitis_result.get('resources')}")
    log(f"wrote {out / 'report.json'}")
    ok = (mismatches == 0 and sim["protocol_errors"] == 0 and not sim["warnings"]
          and (clk is None or (clk["stall"] is None and clk["mismatches"] == 0))
          and (vitis_result is None or vitis_result["exit_status"] == 0))
    if clk is not None and clk["stall"] is not None:
        return DEADLOCK
    return OK if ok else CHECK


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hls", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ern_tiny", type=model_name_arg)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--board", default=boards.DEFAULT,
                    help=f"the board: its part and clock for the folding and run_hls.tcl ({boards.names()})")
    ap.add_argument("--images", type=positive_int, default=1000, help="test images to C-simulate (default 1000)")
    ap.add_argument("--images-npy", help="uint8 images N x H x W x C (.npy) instead of Fashion-MNIST")
    ap.add_argument("--labels-npy", help="labels (N,) for --images-npy (top-1)")
    ap.add_argument("--folding", help="folding file {layer: {pe, simd}} (default: the search with --target-fps / "
                    "--budget-* when given, else make estimate's build/<m>/folding.json, else the search)")
    ap.add_argument("--target-fps", type=positive_float, help="folding search: cheapest design reaching this FPS")
    ap.add_argument("--budget-lut", type=positive_float, help="folding search: LUT budget")
    ap.add_argument("--budget-bram", type=positive_float, help="folding search: BRAM36 budget")
    ap.add_argument("--budget-lut-pct", type=positive_float, help="folding search: LUT budget in %% of the part (70)")
    ap.add_argument("--budget-bram-pct", type=positive_float,
                    help="folding search: BRAM36 budget in %% of the part (85)")
    ap.add_argument("--budget-dsp", type=non_negative_int, help="folding search: DSP budget (0)")
    ap.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1, help="parallel C-simulation processes")
    ap.add_argument("--clocked-frames", "--fifo-sim-frames", dest="clocked_frames", type=non_negative_int,
                    default=CLOCKED_FRAMES, help="frames of the clocked C-simulation run, in one call "
                    f"(default {CLOCKED_FRAMES}; 0: skip it; --fifo-sim-frames is its former name)")
    ap.add_argument("--clock-mhz", type=positive_float, default=None,
                    help="design clock for the clocked and predicted FPS (default: the board's, host/boards.py)")
    ap.add_argument("--no-vitis", action="store_true", help="do not run vitis_hls even when on PATH")
    ap.add_argument("--no-emu", action="store_true", help="do not build libern_emu.so (host emulation)")
    ap.add_argument("--nice", action="store_true", help="run the simulations at low priority")
    return cli("hls", lambda argv: run(ap.parse_args(argv)), argv)


if __name__ == "__main__":
    sys.exit(main())
