"""FIFO sizing for throughput with the clocked C-simulation (hls/clocked.py).

Finds, for a generated design, small FIFO depths at which it still runs at its slowest layer's
rate (within --tolerance, 2% by default), and writes them as a folding file's `_fifo_depths`
({FIFO identifier: depth}):

    python -m hls.fifos --model ern_tiny --folding F --update [--tolerance 0.02] [--refine-runs 20]
    make fifos MODEL=ern_tiny FOLDING=F          # the same: writes `_fifo_depths` into F

The design sized is the folding's, generated with the skip rule's depths; the depths go into the
folding file (`_fifo_depths`, read by codegen, the estimate and `make hls` through
hls/perf/folding.py's reader); without --update into a new folding file (--out, default
build/<m>/folding_fifos.json, never overwritten without --force).

1. every FIFO unbounded: the target rate (cycles per frame);
2. from the generated depths (deadlock-free by the skip rule), grow: after each run, double every
   FIFO that filled up while its writer was output-blocked and its reader input-starved (the
   FIFO that makes two rate-matched neighbours take turns); a FIFO in front of the bottleneck
   (reader never starved) is left alone, since depth there buys no throughput;
3. every FIFO cut to the peak it reached in the first run meeting the target: the same schedule
   (a FIFO that never held more than p words never blocks a write at depth p), so the same
   cycles; checked by one run;
4. optionally (--refine-runs), the costliest FIFOs (depth x width bits) bisected one at a time
   with everything else fixed, as long as runs are left.
No FIFO goes below its generated depth where that is deeper than the default (the skip FIFOs):
their depth carries slack for the pipelines' depth, which the clocked simulation does not model.

Every run is a full clocked C-simulation of --frames frames (a few seconds for ern_tiny); the
figures are clocked C-simulation figures, not hardware measurements.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from hls import clocked
from host.artifacts import Artifacts
from host.errors import DEADLOCK, NO_FIT, USAGE, ErnError, cli, exit_code

MIN_DEPTH = 2          # Vitis HLS's smallest FIFO (and the generator's default)
MAX_ROUNDS = 16        # doublings: 2 -> 131072
STALL_SHARE = 0.005    # a writer blocked / a reader starved this share of the cycles counts


class SizingError(ErnError, RuntimeError):
    """The design cannot be sized to its target (one-line message)."""

    exit_code = NO_FIT


def stream_widths(top_cpp: Path) -> Dict[str, int]:
    """Bits per word of every FIFO declared in a generated ern_top.cpp."""
    text = top_cpp.read_text()
    return {m.group(2): int(m.group(1)) for m in re.finditer(r"hls::stream<ap_uint<(\d+)> > (\w+)\(", text)}


def generated_depths(top_cpp: Path) -> Dict[str, int]:
    """The depth of every FIFO as generated (its STREAM pragma)."""
    text = top_cpp.read_text()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", text)}


class Sizer:
    """Runs the clocked simulation with candidate depths and keeps the score."""

    def __init__(self, simulate: Callable[[Dict[str, int]], dict], names: List[str], tolerance: float,
                 log: Callable[[str], None] = print):
        self.simulate = simulate
        self.names = names
        self.tolerance = tolerance
        self.log = log
        self.runs = 0
        self.target: Optional[float] = None

    def run(self, depths: Dict[str, int]) -> Tuple[bool, dict]:
        """(meets the target, the run's figures); a stall or a missing rate does not meet it."""
        self.runs += 1
        r = self.simulate(depths)
        cpf = clocked.steady_cycles(r)     # the bottleneck's pace, even before the output is steady
        ok = r["stall"] is None and cpf is not None and \
            (self.target is None or cpf <= self.target * (1 + self.tolerance))
        return ok, r

    def unbounded(self) -> dict:
        ok, r = self.run({"*": 0})
        if not ok or r["mismatches"]:
            raise SizingError(f"the design does not complete with unbounded FIFOs: {clocked.summary(r)}",
                          exit_code=DEADLOCK)
        self.target = clocked.steady_cycles(r)
        self.log(f"unbounded FIFOs: {self.target:,.0f} cycles/frame, set by {r['slowest_fifo']['name']} "
                 f"(the target, +{100 * self.tolerance:g}%)")
        return r

    def grow(self, depths: Dict[str, int]) -> Tuple[Dict[str, int], dict]:
        """Double the FIFOs that couple a blocked writer and a starved reader until the run meets
        the target; (depths, that run)."""
        for _ in range(MAX_ROUNDS):
            ok, r = self.run(depths)
            self.log(f"{sum(d > MIN_DEPTH for d in depths.values())} FIFOs deeper than {MIN_DEPTH}: "
                     f"{clocked.summary(r)}")
            if ok:
                return depths, r
            grow = self.coupling(r, depths)
            if not grow:
                raise SizingError(f"no FIFO to deepen, and the target is not met: {clocked.summary(r)}")
            depths = dict(depths, **{n: 2 * depths[n] for n in grow})
        raise SizingError(f"the target is not met after {MAX_ROUNDS} doublings")

    @staticmethod
    def coupling(r: dict, depths: Dict[str, int]) -> List[str]:
        """FIFOs that filled up while their writer was blocked and their reader starved (in a
        deadlock: the full ones a writer waits on)."""
        if r["stall"] is not None:
            return [n for n in r["stall"]["full"] if n in depths]
        procs = {p["name"]: p for p in r["processes"]}
        floor = STALL_SHARE * (r["cycles"] or 1)
        found = []
        for f in r["fifos"]:
            w, rd = procs.get(f["writer"]), procs.get(f["reader"])
            if f["name"] in depths and f["peak"] >= depths[f["name"]] and w and rd \
                    and w["blocked"] > floor and rd["starved"] > floor:
                found.append(f["name"])
        return found

    def refine(self, depths: Dict[str, int], widths: Dict[str, int], budget: int,
               floors: Dict[str, int]) -> Tuple[Dict[str, int], int]:
        """Bisect the costliest FIFOs one at a time (not below their floor) while runs are left;
        (depths, runs used)."""
        used = 0
        order = sorted((n for n in depths if depths[n] > floors.get(n, MIN_DEPTH)),
                       key=lambda n: -depths[n] * widths.get(n, 1))
        for name in order:
            lo, hi = floors.get(name, MIN_DEPTH) - 1, depths[name]     # hi meets the target
            while hi - lo > 1 and used < budget:
                mid = (lo + hi) // 2
                ok, _ = self.run(dict(depths, **{name: mid}))
                used += 1
                lo, hi = (lo, mid) if ok else (mid, hi)
            if hi < depths[name]:
                self.log(f"{name}: {depths[name]} -> {hi}")
                depths = dict(depths, **{name: hi})
            if used >= budget:
                break
        return depths, used


def bits(depths: Dict[str, int], widths: Dict[str, int]) -> int:
    return sum(d * widths.get(n, 0) for n, d in depths.items())


def size(out: Path, model: str, frames: int = 4, tolerance: float = 0.02, refine_runs: int = 0,
         log: Callable[[str], None] = print) -> dict:
    """Size the FIFOs of the generated design in `out` (build/<m>/hls with data/); the result
    dict (also what main() writes as JSON)."""
    top = out / "ern_top.cpp"
    if not top.is_file() or not (out / "data" / "images.bin").is_file():
        raise ErnError(f"no generated design with test data in {out}: run `make hls MODEL={model}` first")
    widths, generated = stream_widths(top), generated_depths(top)
    exe, _ = clocked.build(out, model)
    clock = clocked.design_clock(out)   # the FPS in the log and the note at the design's clock
    sizer = Sizer(lambda d: clocked.run(exe, out / "data", frames, depths=d, clock_mhz=clock), sorted(generated),
                  tolerance, log)
    sizer.unbounded()
    depths, r = sizer.grow(dict(generated))
    floors = {n: d for n, d in generated.items() if d > MIN_DEPTH}   # skip FIFOs: keep the rule's slack
    cut = {f["name"]: max(MIN_DEPTH, floors.get(f["name"], 0), f["peak"])
           for f in r["fifos"] if f["name"] in generated}
    ok, r = sizer.run(cut)
    if ok:
        depths = cut
    log(f"cut to the peaks: {clocked.summary(r)}")
    if refine_runs > 0:
        depths, _ = sizer.refine(depths, widths, refine_runs, floors)
    ok, final = sizer.run(depths)
    if not ok:
        raise SizingError(f"the sized depths miss the target: {clocked.summary(final)}")
    return {"model": model, "label": clocked.LABEL, "frames": frames, "tolerance": tolerance, "runs": sizer.runs,
            "target_cycles_per_frame": sizer.target, "cycles_per_frame": clocked.steady_cycles(final),
            "fps": round(final["clock_mhz"] * 1e6 / clocked.steady_cycles(final), 1),
            "clock_mhz": final["clock_mhz"],
            "generated": {"cycles_per_frame": None, "bits": bits(generated, widths)},
            "bits": bits(depths, widths), "depths": dict(sorted(depths.items()))}


def size_folding(model: str, folding_file: Optional[str], build_dir: Path, frames: int, tolerance: float,
                 refine_runs: int, board: str, log: Callable[[str], None] = print) -> Tuple[dict, dict]:
    """Generate the design of `folding_file` (or of what `make hls` would choose without one) with
    the rule's depths (its `_fifo_depths` ignored) into build/<m>/fifos/hls, with `frames` test
    images, and size it; (the sizing result, the folding it was made for)."""
    from hls.codegen import generate
    from hls.codegen.design import FIFO_KEY
    from hls.hls_flow import planned_folding, write_test_data
    files = Artifacts(model, build_dir / model)
    try:
        package, folding, source = planned_folding(files, folding_file, board)
        folding = {k: v for k, v in folding.items() if k != FIFO_KEY}      # from the rule's depths
        out = files.fifos_hls_dir
        generated = generate(package, out, folding, board=board)
        write_test_data(package, out, frames, load=generated.interface.get("load"))
    except ErnError as e:      # bad input, a missing file: keep its own exit code
        raise SizingError(str(e), exit_code=exit_code(e)) from None
    log(f"sizing the FIFOs of {source}, generated in {out}")
    result = size(out, model, frames, tolerance, refine_runs, log=log)
    gen = clocked.run(clocked.build(out, model)[0], out / "data", frames)
    result["generated"]["cycles_per_frame"] = clocked.steady_cycles(gen)
    result["folding_source"] = source
    return result, folding


def write_depths(target: Path, result: dict, folding: dict, source_file: Optional[str], command: str) -> Path:
    """`target` with `_fifo_depths` = the sized depths: the folding file itself when it is
    `source_file` (its other keys kept as they are), else a new folding file (the folding sized,
    every layer named)."""
    from hls.codegen.design import FIFO_KEY
    from hls.perf.folding import write_folding
    note = (f"{command}: {clocked.LABEL} {result['cycles_per_frame']:,.0f} cycles/frame "
            f"({result['fps']:,.0f} FPS at {result['clock_mhz']:g} MHz; unbounded FIFOs {result['target_cycles_per_frame']:,.0f}, "
            f"tolerance {100 * result['tolerance']:g}%, {result['frames']} frames), {result['bits']:,} FIFO bits")
    if source_file and Path(source_file).resolve() == target.resolve():
        raw = json.loads(target.read_text())
        raw["_fifo_comment"] = note
        raw[FIFO_KEY] = result["depths"]
        target.write_text(json.dumps(raw, indent=1) + "\n")
        return target
    extra = {"_fifo_comment": note}
    return write_folding(target, dict(folding, **{FIFO_KEY: result["depths"]}),
                         comment=f"{result['folding_source']}, FIFOs sized", extra=extra)


def main(argv: Optional[List[str]] = None) -> int:
    return cli("fifos", _main, argv)


def _main(argv: Optional[List[str]]) -> int:
    ap = argparse.ArgumentParser(prog="python -m hls.fifos", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ern_tiny")
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--board", default="pynq-z2", help="the board (its part and clock) of the folding")
    ap.add_argument("--folding", help="folding file to size (default: what `make hls` would choose)")
    ap.add_argument("--update", action="store_true",
                    help="write `_fifo_depths` into the --folding file itself (`make fifos FOLDING=F` does)")
    ap.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    ap.add_argument("--frames", type=int, default=4, help="frames per clocked run (>= 3; default 4)")
    ap.add_argument("--tolerance", type=float, default=0.02, help="allowed slowdown over unbounded FIFOs (0.02)")
    ap.add_argument("--refine-runs", type=int, default=0, help="runs for bisecting single FIFOs (default 0)")
    ap.add_argument("--out", help="folding file to write (default build/<m>/folding_fifos.json; "
                    "with --update the --folding file)")
    args = ap.parse_args(argv)
    build_dir = Path(args.build_dir)
    try:
        if args.update and not args.folding:
            raise SizingError("--update needs --folding (the file to write the depths into)", exit_code=USAGE)
        if args.update and args.out:
            raise SizingError("give --update or --out, not both", exit_code=USAGE)
        target = Path(args.folding) if args.update else \
            Path(args.out) if args.out else Artifacts(args.model, build_dir / args.model).folding_fifos_json
        if target.exists() and not args.update and not args.force:
            raise SizingError(f"{target} exists; pass --force to overwrite it (or --update to size the "
                              f"--folding file in place)", exit_code=USAGE)
        if args.frames < 3:
            raise SizingError("--frames must be at least 3 (steady state from frame 2, over two intervals)", exit_code=USAGE)
        if not 0 <= args.tolerance < 1:
            raise SizingError("--tolerance must be in [0, 1)", exit_code=USAGE)
        result, folding = size_folding(args.model, args.folding, build_dir, args.frames, args.tolerance,
                                       args.refine_runs, args.board, log=lambda m: print(f"fifos: {m}", flush=True))
        command = "python -m hls.fifos " + " ".join(argv if argv is not None else sys.argv[1:])
        write_depths(target, result, folding, args.folding if args.update else None, command)
    except ValueError as e:
        raise SizingError(str(e).splitlines()[0], exit_code=USAGE) from None
    print(f"fifos: {clocked.LABEL}: {result['cycles_per_frame']:,.0f} cycles/frame with the sized FIFOs "
          f"({result['bits']:,} bits) vs {result['generated']['cycles_per_frame']:,.0f} as generated "
          f"({result['generated']['bits']:,} bits); target {result['target_cycles_per_frame']:,.0f}; "
          f"{result['runs']} runs; wrote `_fifo_depths` into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
