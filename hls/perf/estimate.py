"""Performance model, folding and fit check on a board's part (docs/estimate.md).

    python -m hls.estimate --package build/ern_tiny/dataflow                 # auto: max FPS
    python -m hls.estimate --package build/ern_tiny/dataflow --board kv260   # host/boards.py
    python -m hls.estimate --package build/ern_tiny/dataflow --target-fps 6100
    python -m hls.estimate --package build/cnv_w1a2/dataflow \\
        --folding hls/foldings/cnv_w1a2_bnn_pynq.json
    python -m hls.estimate --topology ern_tiny        # built-in shapes, no package needed

Reads only model.json (params are not needed). Prints a per-layer table and writes
estimate.json (default: beside the package folder, i.e. build/<model>/estimate.json), a PNG of
the per-layer cycles, and the folding it used (``--save-folding``; the HLS generator reads it).
`make estimate` is the pipeline's `estimate` step (hls/hls_flow.py), which chooses the folding
(the committed one, or this search) and writes the same files under build/<model>/.
Exit status (host/errors.py): 0 when the design fits the part; 2 on a bad package or folding
file; 3 when it does not fit (an explicit folding, or no folding within the budget).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hls.perf.cost import SHELL, Design, evaluate
from hls.perf.generated import generated_pricer
from hls.perf.folding import (FIFO_KEY, FOLD_KEYS, RATE_KEY, Budget, FoldingError, FitError, _rate, complete,
                         read_budget, read_folding, search, validate_folding, write_folding)
from hls.perf.opmodels import Ctx, EstimateError, Graph
from hls.perf import resources as R
from hls.perf import topologies
from hls.codegen import rules
from host import boards
from host.errors import cli
from host.names import non_negative_int, positive_float


def load_graph(package) -> Graph:
    """The graph of a model package folder (or a model.json path)."""
    path = Path(package)
    if path.is_dir():
        path = path / "model.json"
    try:
        model = json.loads(path.read_text())
    except FileNotFoundError:
        raise EstimateError(f"{path}: not found (run the lowering first: make lower "
                            f"MODEL=..., or use --topology)")
    except json.JSONDecodeError as e:
        raise EstimateError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})")
    return Graph(model, str(path))


def load_package(folder: Path):
    """The model package (with its params) the generator needs, or None when the folder holds
    model.json alone (then the estimate is the graph model's and says so)."""
    from host.package import PackageError, load
    if not (folder / "params.npz").is_file():
        return None
    try:
        return load(folder)
    except PackageError as e:
        raise EstimateError(f"{folder}: {e}") from None


def choose_budget_of_file(folding_file, part: R.Part = R.XC7Z020) -> Budget:
    """The budget a folding file was made for ("_budget"), else the default, on `part`."""
    saved = read_budget(folding_file)
    if saved is None:
        return Budget(part=part)
    return Budget(dsp=int(saved.get("dsp", 0)), lut_max=saved.get("lut"), bram_max=saved.get("bram36"),
                  part=part)


BUDGET_FLAGS = ("budget_lut_pct", "budget_bram_pct", "budget_lut", "budget_bram", "budget_dsp")


def add_search_arguments(ap) -> None:
    """The folding search's options (the target and the budget): the one place they are parsed,
    for `python -m hls.estimate` and `python -m hls`."""
    ap.add_argument("--target-fps", type=positive_float, help="folding search: reach this FPS at least cost")
    ap.add_argument("--budget-lut-pct", type=positive_float, help="LUT budget in %% of the part (70)")
    ap.add_argument("--budget-bram-pct", type=positive_float, help="BRAM36 budget in %% of the part (85)")
    ap.add_argument("--budget-lut", type=positive_float, help="absolute LUT budget (replaces the pct)")
    ap.add_argument("--budget-bram", type=positive_float, help="absolute BRAM36 budget (replaces the pct)")
    ap.add_argument("--budget-dsp", type=non_negative_int, help="DSP budget (0)")


def budget_values(a) -> dict:
    """The budget options given ({flag: value}, None where not given)."""
    return {k: getattr(a, k) for k in BUDGET_FLAGS}


def searching(a) -> bool:
    """True when a search option (a target or a budget) is given: the search chooses the folding."""
    return a.target_fps is not None or any(v is not None for v in budget_values(a).values())


def choose_budget(a, part: R.Part = R.XC7Z020, folding_file=None) -> Budget:
    """The command line's budget on `part`; with none given, the folding file's "_budget" (the
    budget it was made for) when it has one; else the default (70% LUT, 85% BRAM36, 0 DSP).
    `folding_file`: default the --folding option's."""
    folding_file = folding_file or getattr(a, "folding", None)
    if folding_file and all(v is None for v in budget_values(a).values()):
        return choose_budget_of_file(folding_file, part)
    pct = lambda v, default: (default if v is None else v) / 100   # noqa: E731
    return Budget(pct(a.budget_lut_pct, 70.0), pct(a.budget_bram_pct, 85.0), a.budget_dsp or 0,
                  part=part, lut_max=a.budget_lut, bram_max=a.budget_bram)


def estimate(g: Graph, folding_file=None, target_fps=None, clock_mhz: float = R.DEFAULT_CLOCK_MHZ,
             budget: Budget = Budget(), package=None) -> Design:
    """The design to report: the folding file's (rest completed automatically), or the search's.
    With the model `package` (host.package.Package) every design is priced as the generator
    emits it (generated.py); without one (--topology, model.json alone), by the graph model."""
    price = generated_pricer(package) if package is not None else evaluate
    if folding_file is not None:
        fixed = validate_folding(read_folding(folding_file), g, str(folding_file))
        for name, fold in fixed.items():   # mem = "uram" needs a part with UltraRAM
            err = None if str(name).startswith("_") else \
                rules.memory_on_part(name, fold, budget.part.name, budget.part.uram)
            if err:
                raise FoldingError(f"folding file {folding_file}: {err}")
        rate = fixed.pop(RATE_KEY, budget.part.lut / budget.part.bram36)
        depths = fixed.pop(FIFO_KEY, None)
        folding = complete(g, fixed, clock_mhz, target_fps, budget.part)
        if depths:
            if package is None:
                raise FoldingError(f"folding file {folding_file}: {FIFO_KEY} needs the generated design "
                                   f"(--package with params), not the graph model")
            folding[FIFO_KEY] = depths
        d = price(g, folding, clock_mhz, budget.part, Ctx(lut_per_bram=_rate(rate)))
        d.mode = f"folding file {folding_file}" + (
            f" ({len(folding) - len(fixed)} layers completed automatically)"
            if len(folding) - bool(depths) > len(fixed) else "") + (
            f", {len(depths)} FIFO depths sized" if depths else "")
        d.fifo_depths = depths or None
    else:
        d = search(g, clock_mhz, target_fps, budget, price=price)
        d.mode = (f"automatic: cheapest design for {target_fps:,.0f} FPS" if target_fps
                  else "automatic: fastest design within the budget")
    return d


def generation_folding(d: Design) -> dict:
    """The folding to generate `d` from: every layer's fold (out_pe included) and the exchange
    rate its memories were placed at (the generator places them by the same rule)."""
    out = dict({k: dict(v) for k, v in d.folding.items()}, **{RATE_KEY: d.lut_per_bram})
    if getattr(d, "fifo_depths", None):
        out[FIFO_KEY] = dict(d.fifo_depths)
    return out


def report(d: Design, budget: Budget, package: str = "", board: str = boards.DEFAULT) -> dict:
    """estimate.json (keys of docs/architecture.md, plus more)."""
    t, p, u = d.totals, d.part, d.utilization()
    layers = []
    for l in d.layers:
        rec = {k: v for k, v in l.items() if k != "items"}
        rec["resources"] = l["items"]
        layers.append(rec)
    return {
        "model": d.graph.name, "package": package, "mode": getattr(d, "mode", ""),
        "fps": round(d.fps, 1), "clock_mhz": d.clock_mhz, "cycles_per_frame": d.ii,
        "latency_cycles": d.latency_cycles, "lut_per_bram": d.lut_per_bram,
        "latency_us": round(d.latency_cycles / d.clock_mhz, 1),
        "bottleneck": d.bottleneck,
        "lut": round(t.lut), "ff": round(t.ff), "bram36": t.bram36, "dsp": round(t.dsp),
        "lutram": round(t.lutram),
        "uram": round(t.uram),   # weight memories in UltraRAM (written by the weight loader)
        "board": board, "part": p.name, "part_resources": p.as_dict(),
        "utilization": {k: round(v, 4) for k, v in u.items()},
        "fits": d.fits(), "within_budget": budget.allows(d), "budget": budget.as_dict(),
        "weight_bits": sum(l.get("weight_bits", 0) for l in d.layers),
        "folding": {l["name"]: {k: d.folding[l["name"]][k] for k in FOLD_KEYS
                                if k in d.folding[l["name"]]} for l in d.layers},
        "layers": layers,
        "priced_from": ("the generated dataflow (hls/codegen: its FIFOs, memories and converters)"
                        if d.generated else "the graph model (no package params: nothing generated)"),
        "fifos": d.fifos,
        "memories": d.memories,
        "converters": d.converters,
        "shell": dict(SHELL),
        "totals_by_kind": _by_kind(d),
    }


def _by_kind(d: Design) -> dict:
    layers = {"lut": 0, "ff": 0, "bram36": 0.0}
    for l in d.layers:
        for k in layers:
            layers[k] += l[k]
    fifos = {k: round(sum(f[k] for f in d.fifos + d.converters), 1) for k in ("lut", "ff", "bram36")}
    return {"layers": layers, "fifos_and_converters": fifos,
            "shell": {k: SHELL[k] for k in ("lut", "ff", "bram36")}}


def table(rep: dict) -> str:
    """A readable per-layer table with totals against the part."""
    rows = [("layer", "op", "PE", "SIMD", "cycles", "LUT", "FF", "BRAM36", "URAM", "weights")]
    ii = rep["cycles_per_frame"]
    for l in rep["layers"]:
        w = l["resources"].get("weights", {})
        mark = " <" if l["cycles"] == ii else ""
        rows.append((l["name"], l["op"], str(l["pe"] or ""), str(l["simd"] or ""),
                     f"{l['cycles']:,}{mark}", f"{l['lut']:,}", f"{l['ff']:,}",
                     f"{l['bram36']:g}", f"{l.get('uram', 0):g}", w.get("style", "") if w else ""))
    fl = rep["totals_by_kind"]["fifos_and_converters"]
    rows.append(("FIFOs + width conv.", "", "", "", "", f"{fl['lut']:,}", f"{fl['ff']:,}",
                 f"{fl['bram36']:g}", "", ""))
    sh = rep["shell"]
    rows.append(("shell (DMA, AXI)", "", "", "", "", f"{sh['lut']:,}", f"{sh['ff']:,}",
                 f"{sh['bram36']:g}", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {2, 3, 4, 5, 6, 7, 8}
    fmt = lambda r: "  ".join(c.rjust(w) if i in right else c.ljust(w)   # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    out = [fmt(rows[0]), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in rows[1:]]
    p, u = rep["part_resources"], rep["utilization"]
    out.append("")
    out.append(f"{rep['model']} on {rep.get('board', boards.DEFAULT)} ({rep['part']}) at "
               f"{rep['clock_mhz']:g} MHz ({rep['mode']})")
    out.append(f"  II {ii:,} cycles (bottleneck {rep['bottleneck']}) -> {rep['fps']:,.1f} FPS, "
               f"latency ~{rep['latency_us']:,.0f} us")
    lutram_of = f"{p['lutram']:,}" if p.get("lutram") else "?"
    out.append(f"  LUT    {rep['lut']:>7,} / {p['lut']:,} ({u['lut']:.1%})   "
               f"(distributed RAM {rep['lutram']:,} / {lutram_of})")
    out.append(f"  FF     {rep['ff']:>7,} / {p['ff']:,} ({u['ff']:.1%})")
    out.append(f"  BRAM36 {rep['bram36']:>7g} / {p['bram36']:g} ({u['bram36']:.1%})   "
               f"(weights {rep['weight_bits'] / 1e6:.2f} Mbit)")
    out.append(f"  URAM   {rep.get('uram', 0):>7,} / {p.get('uram', 0):,}"
               + (f" ({u['uram']:.1%})" if "uram" in u else ""))
    out.append(f"  DSP    {rep['dsp']:>7,} / {p['dsp']:,}")
    b = rep["budget"]
    out.append(f"  fits: {rep['fits']}   within budget ({b['lut']:,.0f} LUT, {b['bram36']:g} "
               f"BRAM36, {b['dsp']} DSP): {rep['within_budget']}")
    return "\n".join(out)


def plot(rep: dict, png) -> Path:
    """Horizontal bars of cycles per layer, the bottleneck highlighted, the II marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = rep["layers"]
    names = [l["name"] for l in layers]
    cyc = [l["cycles"] for l in layers]
    ii = rep["cycles_per_frame"]
    colors = ["#c0392b" if c == ii else ("#2980b9" if l["op"] == "Conv" else "#95a5a6")
              for c, l in zip(cyc, layers)]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(layers) + 1.6))
    ax.barh(range(len(layers)), cyc, color=colors)
    ax.set_yticks(range(len(layers)))
    ax.set_yticklabels([f"{n} ({l['pe']}/{l['simd']})" if l["simd"] else f"{n} ({l['pe']})"
                        for n, l in zip(names, layers)], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(ii, color="#c0392b", ls="--", lw=1)
    ax.set_xlabel("cycles per frame (label: PE/SIMD)")
    ax.set_title(f"{rep['model']}: II {ii:,} cycles -> {rep['fps']:,.0f} FPS at "
                 f"{rep['clock_mhz']:g} MHz; {rep['lut']:,} LUT, {rep['bram36']:g} BRAM36",
                 fontsize=9)
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def main(argv=None) -> int:
    return cli("estimate", _main, argv)


def _main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m hls.estimate", description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--package", help="model package folder (build/<model>/dataflow) or model.json")
    src.add_argument("--topology", choices=sorted(topologies.TOPOLOGIES),
                     help="estimate built-in shapes instead of a package")
    ap.add_argument("--folding", help="folding file {layer: {pe, simd}}; default: automatic search")
    add_search_arguments(ap)
    ap.add_argument("--board", default=boards.DEFAULT,
                    help=f"the board whose part and clock to plan for ({boards.names()})")
    ap.add_argument("--clock-mhz", type=positive_float, help="default: the board's (host/boards.py)")
    ap.add_argument("--out", help="estimate.json path (default: build/<model>/estimate.json)")
    ap.add_argument("--plot", help="PNG of per-layer cycles (default: beside --out)")
    ap.add_argument("--save-folding", help="write the folding used (default: beside --out)")
    ap.add_argument("--quiet", action="store_true", help="no table")
    a = ap.parse_args(argv)
    board = boards.get(a.board)
    clock = board.check_clock(a.clock_mhz if a.clock_mhz is not None else board.clock_mhz)
    budget = choose_budget(a, R.part_of(board))
    package = None
    if a.package:
        g = load_graph(a.package)
        pkg = Path(a.package)
        folder = pkg if pkg.is_dir() else pkg.parent
        out = Path(a.out) if a.out else folder.parent / "estimate.json"
        package = load_package(folder)
    else:
        g = Graph(topologies.TOPOLOGIES[a.topology](), f"--topology {a.topology}")
        out = Path(a.out) if a.out else Path("build") / a.topology / "estimate.json"
    d = estimate(g, a.folding, a.target_fps, clock, budget, package)
    rep = report(d, budget, str(a.package or a.topology), board.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    png = Path(a.plot) if a.plot else out.with_suffix(".png")
    fold_path = Path(a.save_folding) if a.save_folding else (
        out.with_name("folding.json") if out.name == "estimate.json"
        else out.with_name(out.stem + "_folding.json"))
    rep["plot"], rep["folding_file"] = str(png), str(fold_path)
    out.write_text(json.dumps(rep, indent=1) + "\n")
    plot(rep, png)
    write_folding(fold_path, generation_folding(d), g, comment=f"folding used by {out} ({rep['mode']})",
                  lut_per_bram=d.lut_per_bram)
    if not a.quiet:
        print(table(rep))
    print(f"wrote {out}, {png}, {fold_path}")
    if not rep["fits"]:
        raise FitError(f"the design does not fit {rep['part']} (see the totals above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
