"""The model zoo on every board, as the performance model PREDICTS it (no synthesis, no board).

    python benchmarks/zoo_boards.py [--models ern_tiny,cnv_w1a2] [--png benchmarks/zoo_boards.png]

For each model (its package: build/<m>/dataflow, from `make lower MODEL=<m>`) and each board of
host/boards.py: the folding search of `make estimate MODEL=<m> BOARD=<b>` (no folding file, no
target: the fastest design within the default budget of 70% LUT, 85% BRAM36, 0 DSP of the
board's part) at the board's default clock. Prints a Markdown table (FPS, LUT, BRAM36, URAM,
fits) and writes a PNG of predicted FPS against LUT, one marker per board.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hls.perf import resources as R  # noqa: E402
from hls.perf.estimate import estimate, load_graph, load_package, report  # noqa: E402
from hls.perf.folding import Budget, FitError  # noqa: E402
from host import boards  # noqa: E402
from host.errors import ErnError, cli  # noqa: E402


def predict(model: str, board: boards.Board) -> dict:
    folder = ROOT / "build" / model / "dataflow"
    g, package = load_graph(folder), load_package(folder)
    budget = Budget(part=R.part_of(board))
    try:
        d = estimate(g, None, None, board.clock_mhz, budget, package)
    except FitError as e:
        return {"model": model, "board": board.name, "error": str(e)}
    return report(d, budget, str(folder), board.name)


def table(rows) -> str:
    out = ["| model | board | part | clock MHz | FPS (predicted) | LUT | BRAM36 | URAM | fits | bottleneck |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b = boards.get(r["board"])
        if "error" in r:
            out.append(f"| `{r['model']}` | {b.title} | `{b.part}` | {b.clock_mhz:g} | - | - | - | - | "
                       f"no | {r['error']} |")
            continue
        p = r["part_resources"]
        out.append(f"| `{r['model']}` | {b.title} | `{b.part}` | {r['clock_mhz']:g} | {r['fps']:,.0f} | "
                   f"{r['lut']:,} / {p['lut']:,} | {r['bram36']:g} / {p['bram36']:g} | "
                   f"{r['uram']} / {p['uram']} | {'yes' if r['fits'] else 'no'} | {r['bottleneck']} |")
    return "\n".join(out)


def plot(rows, png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"ern_tiny": "o", "cnv_w1a2": "s"}
    # boards with the same die and clock give the same point: one colour, one label for them
    groups = {}
    for b in boards.BOARDS.values():
        groups.setdefault((b.lut, b.bram36, b.uram, b.dsp, b.clock_mhz), []).append(b)
    palette = ("#c0392b", "#2980b9", "#27ae60", "#2c3e50", "#8e44ad", "#e67e22")
    colors, labels = {}, {}
    for color, members in zip(palette, groups.values()):
        for b in members:
            colors[b.name] = color
        labels[color] = " = ".join(b.title for b in members)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in rows:
        if "error" in r:
            continue
        ax.scatter(r["lut"], r["fps"], marker=markers.get(r["model"], "^"), s=46,
                   color=colors[r["board"]], edgecolor="black", linewidth=0.4)
    for color, label in labels.items():
        ax.scatter([], [], color=color, label=label)
    for model, marker in markers.items():
        ax.scatter([], [], color="white", edgecolor="black", marker=marker, label=model)
    ax.set_xlabel("LUT (predicted)")
    ax.set_ylabel("frames/s (predicted, batch streaming)")
    ax.set_title("Performance model only: fastest folding within 70% LUT / 85% BRAM36,\n"
                 "each board's default clock (host/boards.py); not synthesized", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    return cli("zoo_boards", _main, argv)


def _main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/zoo_boards.py", description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="ern_tiny,cnv_w1a2")
    ap.add_argument("--boards", default=",".join(boards.BOARDS))
    ap.add_argument("--png", default=str(ROOT / "benchmarks" / "zoo_boards.png"))
    a = ap.parse_args(argv)
    rows = []
    for model in a.models.split(","):
        if not (ROOT / "build" / model / "dataflow" / "model.json").is_file():
            raise ErnError(f"build/{model}/dataflow missing: run `make lower MODEL={model}` first")
        for name in a.boards.split(","):
            t0 = time.time()
            rows.append(predict(model, boards.get(name)))
            print(f"zoo_boards: {model} on {name}: {time.time() - t0:.1f} s", file=sys.stderr, flush=True)
    print(table(rows))
    plot(rows, Path(a.png))
    print(f"wrote {a.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
