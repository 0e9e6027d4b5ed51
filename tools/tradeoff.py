"""Accuracy vs bit widths, with predicted FPS and LUT: the bit-width trade-off table of ern_tiny.

    python tools/tradeoff.py [--epochs 30] [--variants ern_tiny,ern_tiny_w1p4a2,...]
                             [--limit-batches N] [--images 1000] [--write benchmarks/RESULTS.md]

For each variant (default: weights 1 / 1.4 (heterogeneous) / 2 bits x activations 1 / 2 / 3
bits of ern_tiny) it runs, as separate commands (printed, and kept beside each row):

1. train   `python -m training.train --model M --epochs E --out <models>/M` (skipped when
           <models>/M/model.pt exists, unless --retrain; the row then lists the commands that
           trained it, read from <models>/M/train.log);
2. export, lower, estimate: the pipeline's step runner, `python -m hls --model M --build-dir <build>
           --models-dir <models> --to estimate [ESTIMATE_ARGS]` (hls/hls_flow.py; it skips the
           steps whose inputs are unchanged); a variant that does not fit the part is estimated
           again with a BRAM budget of 1000 % (its row says fits = no; the folding search then
           uses that budget in step 3 too);
3. codegen, testdata, csim: `python -m hls ... --from codegen --to csim --images N` (bit-exactness;
           --images 0 skips, --csim-variants limits it to some variants: each is a g++ build of
           the whole design).

and reads back: the test top-1 of the checkpoint (metrics.json, last epoch), the average bits per
weight (training.models.average_weight_bits of the checkpoint), predicted FPS and LUT
(estimate.json) and the C-simulation mismatches (hls/report.json). It writes
<build>/tradeoff.json, <build>/tradeoff.png (top-1 vs average weight bits, one line per
activation width, each point labelled with its predicted FPS and LUT) and prints the markdown
table; --write puts the table into a results file between `<!-- tradeoff:begin -->` and
`<!-- tradeoff:end -->` (appended when the markers are missing) and the plot beside it
(tradeoff.png in the results file's folder, linked from the table).

A smoke run (proves the pipeline, numbers meaningless):
    python tools/tradeoff.py --variants ern_tiny_w1p4a2,ern_tiny_w2a1 --epochs 1 --limit-batches 2 \
        --images 20 --models-dir build/tradeoff_smoke/models --build-dir build/tradeoff_smoke
"""
import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from host.artifacts import Artifacts  # noqa: E402
from host.errors import CHECK, NO_FIT, ErnError, cli  # noqa: E402
from host.names import non_negative_int, positive_int  # noqa: E402

GRID = ("ern_tiny_w1a1", "ern_tiny", "ern_tiny_w1a3",
        "ern_tiny_w1p4a1", "ern_tiny_w1p4a2", "ern_tiny_w1p4a3",
        "ern_tiny_w2a1", "ern_tiny_w2a2", "ern_tiny_w2a3")
BEGIN, END = "<!-- tradeoff:begin -->", "<!-- tradeoff:end -->"


# A variant whose weights do not fit the part's BRAM within the default budget (heterogeneous
# weights store B planes + B-1 masks per weight) is still estimated and C-simulated, with the
# BRAM budget lifted (the LUT budget kept, so its folding stays comparable), and its row says
# fits = no.
UNBOUNDED = ["--budget-bram-pct", "1000"]
# The default budget, named: a search option makes the search choose every variant's folding
# (without one, ern_tiny would get its committed folding, hls/foldings/ern_tiny.json).
SEARCH = ["--budget-lut-pct", "70"]


def command_text(cmd) -> str:
    """A step's command as a row shows it: the interpreter written as `python` (the project's
    .venv one), since rows are read on other machines."""
    return shlex.join(["python" if c == sys.executable else c for c in cmd])


def run(cmd, log, check=True):
    """Run one step (its command printed first); stop with its output's tail on failure."""
    text = command_text(cmd)
    print(f"$ {text}", flush=True)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0 and not check:
        print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()[-300:])
        return proc
    log.append(text)
    if proc.returncode != 0:
        print("\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:]), flush=True)
        raise StepError(f"step failed ({proc.returncode}): {text}", proc.returncode)
    return proc


class StepError(ErnError):
    """A step of the sweep failed: the tool exits with that step's code (the same convention)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message, exit_code=exit_code if exit_code > 0 else CHECK)


def variant_bits(model: str) -> int:
    """Activation bits of a zoo ERN (its default width)."""
    from training.models import ZOO
    return ZOO[model].bits.act


def measured_weight_bits(checkpoint: Path) -> float:
    from training.checkpoint import load_model
    from training.models import average_weight_bits
    model, _ = load_model(checkpoint)
    return average_weight_bits(model)


def training_commands(train_log: Path) -> list:
    """The `python -m training.train ...` lines a checkpoint folder's train.log recorded (one per
    run: a resumed schedule has several), so a row names the commands that made its checkpoint."""
    if not train_log.exists():
        return []
    return [line.split(" ", 3)[3].rsplit(" (world=", 1)[0]
            for line in train_log.read_text().splitlines()
            if line.startswith("# ") and " python -m training.train " in line]


def run_variant(model, args, py, csim: bool):
    models_dir = Path(args.models_dir)
    build = Path(args.build_dir) / model
    ckpt = models_dir / model / "model.pt"
    steps = []
    if args.retrain or not (REPO / ckpt).exists():
        cmd = [py, "-m", "training.train", "--model", model, "--dataset", args.dataset,
               "--epochs", str(args.epochs), "--out", str(models_dir / model), "--no-progress"]
        if args.retrain:
            cmd += ["--force"]   # --retrain replaces the checkpoint on purpose
        if args.limit_batches:
            cmd += ["--limit-batches", str(args.limit_batches)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        run(cmd, steps)
    else:
        steps += training_commands(REPO / models_dir / model / "train.log")
    # export, lower and estimate (then codegen and csim) through the pipeline's step runner
    # (hls/hls_flow.py), which skips the steps whose inputs are unchanged
    hls = [py, "-m", "hls", "--model", model, "--build-dir", str(args.build_dir), "--models-dir", str(models_dir)]
    budget = shlex.split(args.estimate_args) or SEARCH
    if run(hls + ["--to", "estimate"] + budget, [], check=False).returncode != 0:
        budget = budget + UNBOUNDED   # does not fit: estimate it anyway (exit 3: "does not fit the part")
        status = run(hls + ["--to", "estimate"] + budget, [], check=False).returncode
        if status not in (0, NO_FIT):
            raise StepError(f"{command_text(hls + ['--to', 'estimate'] + budget)} failed", status)
    steps.append(command_text(hls + ["--to", "estimate"] + budget))
    files = Artifacts(model, REPO / build)
    report = None
    if csim:
        run(hls + ["--from", "codegen", "--to", "csim", "--images", str(args.images), "--nice", *budget], steps)
        report = json.loads(files.report_json.read_text())
    metrics = json.loads((REPO / models_dir / model / "metrics.json").read_text())
    estimate = json.loads(files.estimate_json.read_text())
    return {"model": model, "weight_bits": round(measured_weight_bits(REPO / ckpt), 3),
            "act_bits": variant_bits(model), "epochs": metrics[-1]["epoch"],
            "top1": metrics[-1]["test_top1"], "fps": estimate["fps"], "lut": estimate["lut"],
            "bram36": estimate["bram36"], "fits": bool(estimate["fits"]) and UNBOUNDED[0] not in budget,
            "csim_images": report["images"] if report else 0,
            "csim_mismatches": report["mismatches"] if report else None,
            "commands": steps}


def table(rows) -> str:
    lines = ["| model | avg weight bits | act bits | epochs | test top-1 | predicted FPS | predicted LUT | "
             "BRAM36 | fits | C-sim (images, mismatches) | commands |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        csim = f"{r['csim_images']}, {r['csim_mismatches']}" if r["csim_images"] else "-"
        cmds = "<br>".join(f"`{c}`" for c in r["commands"])
        lines.append(f"| `{r['model']}` | {r['weight_bits']:.2f} | {r['act_bits']} | {r['epochs']} | "
                     f"{r['top1']:.2f} | {r['fps']:,.0f} | {r['lut']:,.0f} | {r['bram36']:g} | "
                     f"{'yes' if r['fits'] else 'no'} | {csim} | {cmds} |")
    return "\n".join(lines) + "\n"


def plot(rows, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for act in sorted({r["act_bits"] for r in rows}):
        pts = sorted((r for r in rows if r["act_bits"] == act), key=lambda r: r["weight_bits"])
        ax.plot([r["weight_bits"] for r in pts], [r["top1"] for r in pts], "o-", label=f"a{act}")
        for r in pts:
            ax.annotate(f"{r['fps']:,.0f} fps\n{r['lut'] / 1e3:.1f}k LUT", (r["weight_bits"], r["top1"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("average bits per weight (measured from the checkpoint)")
    ax.set_ylabel("test top-1 %")
    ax.set_title("ern_tiny: accuracy vs bit widths (FPS, LUT predicted by hls.estimate)")
    ax.grid(alpha=.3)
    ax.legend(title="activation bits")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_table(path: Path, text: str, command: str, plot_name: str = None):
    picture = f"\n![accuracy vs bit widths]({plot_name})\n" if plot_name else ""
    block = f"{BEGIN}\nProduced by `{command}`; FPS and LUT are *predicted* (hls.estimate), C-sim is " \
            f"g++ C-simulation against the numpy reference.\n\n{text}{picture}{END}"
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n## Bit-width trade-off (ern_tiny)\n\n" + block + "\n"
    path.write_text(new)


def main(argv=None) -> int:
    return cli("tradeoff", _main, argv)


def _main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python tools/tradeoff.py", description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(GRID), help="comma-separated zoo names")
    ap.add_argument("--dataset", default="fashion_mnist")
    ap.add_argument("--epochs", type=positive_int, default=30)
    ap.add_argument("--limit-batches", type=non_negative_int, default=0, help="batches per epoch (smoke runs)")
    ap.add_argument("--threads", type=non_negative_int, default=0)
    ap.add_argument("--retrain", action="store_true", help="train even when a checkpoint exists")
    ap.add_argument("--images", type=non_negative_int, default=1000, help="C-simulated test images (0: skip C-simulation)")
    ap.add_argument("--csim-variants", default="",
                    help="comma-separated variants to C-simulate (default: all)")
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--estimate-args", default="", help="extra options of hls.estimate / the folding search")
    ap.add_argument("--write", help="results file to put the table into (e.g. benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)
    from training.models import ZOO
    variants = [v for v in args.variants.split(",") if v]
    csim_variants = [v for v in args.csim_variants.split(",") if v] or variants
    unknown = [v for v in variants + csim_variants if v not in ZOO]
    if unknown:
        raise ErnError(f"unknown ERN variant {unknown[0]!r} (zoo: {', '.join(sorted(ZOO))})")
    py = sys.executable
    rows = [run_variant(v, args, py, csim=bool(args.images) and v in csim_variants) for v in variants]
    out = REPO / args.build_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "tradeoff.json").write_text(json.dumps(rows, indent=1) + "\n")
    plot(rows, out / "tradeoff.png")
    text = table(rows)
    print(text)
    if args.write:
        results = REPO / args.write
        results.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "tradeoff.png", results.parent / "tradeoff.png")
        write_table(results, text, shlex.join(["python", "tools/tradeoff.py", *(argv or sys.argv[1:])]),
                    "tradeoff.png")
    bad = [r["model"] for r in rows if r["csim_mismatches"]]
    if bad:
        raise StepError(f"C-simulation mismatches in {', '.join(bad)}", CHECK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
