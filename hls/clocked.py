"""Clocked C-simulation of a generated design (hls/fifo_sim/README.md).

Builds ern_top.cpp + tb.cpp with -DERN_CLOCKED_SIM (every dataflow process a coroutine, all
stepped once per clock cycle over FIFOs of the generated depths, synthesised code paths), runs a
few frames in one call and parses the figures the simulator prints:

    from hls import clocked
    exe, seconds = clocked.build(Path("build/ern_tiny/hls"), "ern_tiny")
    result = clocked.run(exe, Path("build/ern_tiny/hls/data"), frames=5)
    result["cycles_per_frame"], result["fps"], result["processes"], result["fifos"]

    python -m hls.clocked --model ern_tiny [--frames 5] [--depths s_x=64,...] [--plot out.png]

Every figure is a *clocked C-simulation* figure: cycles of the C++ as written, with Vitis HLS
stall semantics and zero pipeline depth, not a measurement of hardware.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import unquote

from hls import csim
from host.errors import CHECK, DEADLOCK, OK, USAGE, ErnError, cli

DEFAULT_FRAMES = 5
DEFAULT_CLOCK_MHZ = 100.0
DEADLOCK_STATUS = 3     # clocked_stream.h: every process stalled
LIVELOCK_STATUS = 4     # clocked_stream.h: no word moved for ERN_CLOCKED_MAX_IDLE cycles
LABEL = "clocked C-simulation"


class ClockedError(ErnError, RuntimeError):
    """A build or run that gave no figures (one-line message)."""

    exit_code = CHECK


def build(out: Path, model: str, extra_flags: Sequence[str] = ()) -> Tuple[Path, float]:
    """The clocked test bench of a generated folder (cached by content) and the build seconds."""
    from hls.hls_flow import csim_flags   # the flow's g++ flags (popcnt, warnings)
    start = time.perf_counter()
    exe = csim.build([out / "ern_top.cpp", out / "tb.cpp"], include_dirs=[out, out / "lib"],
                     defines={"ERN_CLOCKED_SIM": None}, opt="-O2",
                     extra_flags=[*csim_flags(), *extra_flags], name=f"{model}_tb_clocked")
    return exe, time.perf_counter() - start


def depths_env(depths: Optional[Dict[str, int]]) -> Dict[str, str]:
    """The environment of a run with FIFO depth overrides (0 = unbounded, '*' = every other)."""
    env = dict(os.environ)
    env.pop("ERN_CLOCKED_DEPTHS", None)
    if depths:
        env["ERN_CLOCKED_DEPTHS"] = ",".join(f"{k}={int(v)}" for k, v in depths.items())
    return env


def run(exe: Path, data: Path, frames: int = DEFAULT_FRAMES, depths: Optional[Dict[str, int]] = None,
        clock_mhz: float = DEFAULT_CLOCK_MHZ, timeout: float = 600) -> dict:
    """One call of `frames` frames of the generated test bench; the parsed figures (parse())
    plus `seconds`, `exit_status` and `mismatches` (None when it stalled)."""
    got = data / f"got_clocked_{os.getpid()}.bin"
    start = time.perf_counter()
    try:
        proc = subprocess.run([str(exe), str(data), "0", str(frames), str(got)], capture_output=True, text=True,
                              timeout=timeout, env=depths_env(depths))
    except subprocess.TimeoutExpired:
        raise ClockedError(f"{LABEL}: {frames} frames did not finish within {timeout:.0f} s") from None
    seconds = time.perf_counter() - start
    if got.exists():
        got.unlink()
    result = parse(proc.stdout + proc.stderr, clock_mhz)
    result["seconds"] = round(seconds, 2)
    result["exit_status"] = proc.returncode
    m = re.search(r"images=(\d+) mismatches=(\d+) protocol_errors=(\d+)", proc.stdout)
    result["mismatches"] = int(m.group(2)) + int(m.group(3)) if m else None
    if result["stall"] is None and proc.returncode not in (0, 1):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ClockedError(f"{LABEL} exited with {proc.returncode}: {tail[0]}")
    return result


_KV = re.compile(r"(\w+)=(\S*)")


def _fields(line: str) -> Dict[str, str]:
    return {k: v for k, v in _KV.findall(line)}


def _number(text: str):
    value = float(text)
    return int(value) if value.is_integer() else value


def parse(text: str, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> dict:
    """The figures of the first dataflow call in a clocked run's output.

    cycles_per_frame: mean cycles between the ends of consecutive frames at the output (the
    sink stream), frames 2..N (None with one frame); latency_cycles: end of the first frame;
    slowest_fifo: {name, interval}, the FIFO whose frames come slowest (its writer sets the
    pace: in the steady state every FIFO has the output's interval; over a few frames a deep
    FIFO may still be draining a lead, and the output runs faster than the bottleneck for a
    while, so steady_cycles() takes the larger of the two);
    fps at clock_mhz; processes: name, busy, starved, blocked (cycles); fifos: name, depth,
    peak, writes, interval (the FIFO's own cycles per frame), writer, reader; stall: None, or {kind, status,
    cycle, fifos (names of those waited on), full (those a writer waits on: deepen one),
    fifo_states (every FIFO's line of the report)}."""
    result = {"frames": None, "cycles": None, "cycles_per_frame": None, "fps": None, "latency_cycles": None,
              "clock_mhz": clock_mhz, "frame_ends": [], "processes": [], "fifos": [], "stall": None,
              "slowest_fifo": None}
    seen_region = False
    for line in text.splitlines():
        if line.startswith("clocked: region "):
            if seen_region:
                break                  # later calls of the same run: the first one is reported
            seen_region = True
            f = _fields(line)
            result["frames"], result["cycles"] = int(f["frames"]), int(f["cycles"])
        elif line.startswith("clocked: process "):
            f = _fields(line)
            result["processes"].append({"name": unquote(f["name"]), "busy": int(f["busy"]),
                                        "starved": int(f["starved"]), "blocked": int(f["blocked"])})
        elif line.startswith("clocked: fifo "):
            f = _fields(line)
            interval = float(f["interval"])
            result["fifos"].append({"name": unquote(f["name"]), "depth": int(f["depth"]), "peak": int(f["peak"]),
                                    "writes": int(f["writes"]), "interval": _number(f["interval"])
                                    if interval >= 0 else None, "sink": f["sink"] == "1",
                                    "writer": unquote(f.get("writer", "-")), "reader": unquote(f.get("reader", "-"))})
        elif line.startswith("clocked: frames "):
            ends = _fields(line)["ends"]
            result["frame_ends"] = [int(x) for x in ends.split(",")] if ends else []
    timed = [f for f in result["fifos"] if f["interval"] is not None]
    if timed:
        slow = max(timed, key=lambda f: f["interval"])
        result["slowest_fifo"] = {"name": slow["name"], "interval": slow["interval"]}
    ends = result["frame_ends"]
    if ends:
        result["latency_cycles"] = ends[0]
    if len(ends) >= 2:
        result["cycles_per_frame"] = round((ends[-1] - ends[0]) / (len(ends) - 1), 1)
        result["fps"] = round(clock_mhz * 1e6 / result["cycles_per_frame"], 1)
    result["stall"] = parse_stall(text)
    return result


def steady_cycles(result: dict) -> Optional[float]:
    """Cycles per frame of the steady state: the output's interval, or the slowest FIFO's when
    that is larger (a short run not yet steady at the output); None without two frames."""
    cpf = result.get("cycles_per_frame")
    slow = (result.get("slowest_fifo") or {}).get("interval")
    if cpf is None:
        return None
    return max(cpf, slow or 0)


def parse_stall(text: str) -> Optional[dict]:
    """The deadlock / livelock report, or None."""
    m = re.search(r"^CLOCKED STALL: (\w+): .* at cycle (\d+)$", text, re.M)
    if not m:
        return None
    lines = [line for line in text.splitlines() if line.startswith("clocked: fifo_state ")]
    waited = [unquote(_fields(line)["name"]) for line in lines if "waiting=" in line]
    full = [unquote(_fields(line)["name"]) for line in lines if "waiting=write-full" in line]
    return {"kind": m.group(1), "cycle": int(m.group(2)), "fifos": waited, "full": full,
            "fifo_states": [{k: unquote(v) for k, v in _fields(line).items()} for line in lines]}


def _names(names: List[str], most: int = 8) -> str:
    return " ".join(names[:most]) + (f" (+{len(names) - most} more)" if len(names) > most else "") if names else "-"


def summary(result: dict) -> str:
    """One line, labelled as a clocked C-simulation figure."""
    if result["stall"]:
        s = result["stall"]
        return (f"{LABEL}: {s['kind'].upper()} at cycle {s['cycle']}; full FIFOs with a waiting writer: "
                f"{_names(s['full'])}; stalled FIFOs: {_names(s['fifos'])}")
    cpf = result["cycles_per_frame"]
    if not cpf:
        return f"{LABEL}: {result['frames']} frame(s), latency {result['latency_cycles']} cycles"
    text = (f"{LABEL}: {cpf:,.0f} cycles/frame = {result['fps']:,.0f} FPS at {result['clock_mhz']:g} MHz "
            f"(output, frames 2..{result['frames']}), first-frame latency {result['latency_cycles']:,} cycles")
    steady = steady_cycles(result)
    if steady > cpf * 1.01:
        slow = result["slowest_fifo"]
        text += (f"; NOT STEADY yet: {slow['name']} runs at {steady:,.0f} cycles/frame = "
                 f"{result['clock_mhz'] * 1e6 / steady:,.0f} FPS (more frames converge to it)")
    return text


def report_entry(result: dict) -> dict:
    """What report.json keeps under `clocked`."""
    keys = ("cycles_per_frame", "fps", "frames", "latency_cycles", "clock_mhz", "seconds", "mismatches", "stall",
            "slowest_fifo")
    entry = {k: result.get(k) for k in keys}
    entry["label"] = LABEL
    entry["fifos"] = [{"name": f["name"], "depth": f["depth"], "peak": f["peak"]} for f in result["fifos"]]
    entry["processes"] = [dict(p) for p in result["processes"]]
    return entry


def plot(result: dict, path: Path, title: str = "") -> Path:
    """Stacked bars of busy, input-starved and output-blocked cycles per process."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    procs = result["processes"]
    names = [p["name"] for p in procs]
    x = range(len(procs))
    fig, ax = plt.subplots(figsize=(max(8.0, 0.28 * len(procs) + 2), 5))
    bottom = [0] * len(procs)
    for key, color, label in (("busy", "tab:green", "busy"), ("starved", "tab:orange", "input-starved"),
                              ("blocked", "tab:red", "output-blocked")):
        values = [p[key] for p in procs]
        ax.bar(x, values, bottom=bottom, color=color, label=label, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_xticks(list(x))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel(f"cycles ({result['frames']} frames)")
    cpf = result["cycles_per_frame"]
    head = f"{LABEL}: {title} " if title else f"{LABEL}: "
    ax.set_title(head + (f"{cpf:,.0f} cycles/frame, {result['fps']:,.0f} FPS at {result['clock_mhz']:g} MHz"
                         if cpf else "stalled"), fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_depths(text: Optional[str]) -> Dict[str, int]:
    """--depths "name=depth,...": FIFO depth overrides."""
    depths = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, value = item.partition("=")
        if not sep or not name or not value.isdigit():
            raise ClockedError(f"--depths: bad entry {item!r} (want name=depth, depth >= 0, 0 = unbounded)",
                               exit_code=USAGE)
        depths[name] = int(value)
    return depths


def design_clock(out: Path) -> float:
    """The clock (MHz) the generated design in `out` was made for (interface.json), else 100."""
    try:
        return round(1000.0 / float(json.loads((out / "interface.json").read_text())["clock_period_ns"]), 3)
    except (OSError, ValueError, KeyError, ZeroDivisionError):
        return DEFAULT_CLOCK_MHZ


def main(argv: Optional[List[str]] = None) -> int:
    return cli("clocked", _main, argv)


def _main(argv: Optional[List[str]]) -> int:
    ap = argparse.ArgumentParser(prog="python -m hls.clocked", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ern_tiny")
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames in one call (>= 2; default 5)")
    ap.add_argument("--depths", help="FIFO depth overrides name=depth,... (0 = unbounded, * = every other FIFO)")
    ap.add_argument("--clock-mhz", type=float, default=None,
                    help="design clock for the FPS (default: the generated design's, interface.json)")
    ap.add_argument("--plot", help="write the bar chart of busy / stalled cycles here")
    ap.add_argument("--json", help="write the parsed figures here")
    args = ap.parse_args(argv)
    out = Path(args.build_dir) / args.model / "hls"
    if args.frames < 2:
        raise ErnError("--frames must be at least 2 (the steady state is measured from frame 2 on)")
    if not (out / "ern_top.cpp").is_file() or not (out / "data" / "images.bin").is_file():
        raise ErnError(f"no generated design with test data in {out}: run `make hls MODEL={args.model}` first")
    exe, build_s = build(out, args.model)
    result = run(exe, out / "data", args.frames, parse_depths(args.depths), args.clock_mhz or design_clock(out))
    print(f"clocked: build {build_s:.1f} s, run {result['seconds']} s ({args.frames} frames)")
    print(summary(result))
    for p in result["processes"]:
        print(f"  {p['name']:32s} busy {p['busy']:>9,} starved {p['starved']:>9,} blocked {p['blocked']:>9,}")
    if args.plot:
        plot(result, Path(args.plot), args.model)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if result["stall"] is not None:
        return DEADLOCK
    return CHECK if result["mismatches"] else OK


if __name__ == "__main__":
    sys.exit(main())
