"""Frames per second and accuracy of one model on every backend this machine has.

    python host/bench.py [--model ern_tiny] [--board pynq-z2] [--images 1000]

On the board (--board: host/boards.py; with build/<m>/overlay/<m>.bit, or the deploy folder's): the accelerator
(`hardware`) and the numpy CPU reference on the same images. Off the board: the emulated
accelerator (`emulation`: the generated HLS C++ compiled with g++ behind a fake pynq device,
which runs the very same driver), the CPU reference (`cpu-reference`), the same network in
plain float torch on the same images (`torch-float`, where torch, Brevitas and
models/<m>/model.pt are here; otherwise the Brevitas model as `make verify` recorded it in
verify.json; host/ itself never imports torch) and the performance model's hardware FPS (`predicted`, from estimate.json). The accelerator's
class sums are compared with the reference's on every image.

Writes build/<m>/bench.json (a list of rows {backend, images, seconds, fps, top1, kind, ...})
and build/<m>/bench.png (a bar chart); prints a table. In a repository checkout off the board,
a first run builds what it lacks with the pipeline's step runner (`python -m hls --to STEP`: the
model package, the estimate for predicted, the generated C++ for emulation; a few minutes, once;
--no-build to skip);
torch-float needs `make verify`. A missing input skips its row with a note, never the whole
bench. Exit status (host/errors.py): 0; 1 when the accelerator disagrees with the reference; 2 on
bad input (one line).

Runs on the board: Python 3.10, numpy, pynq (tqdm and matplotlib when installed).
"""
import argparse
import importlib
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

if __package__ in (None, ""):  # run as a script: python host/bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _bootstrap() -> None:
    """In a repository checkout, `python host/bench.py` under a Python that lacks the host
    library's dependencies (numpy; pynq for the driver and its emulation) re-runs itself under
    the project's .venv, making it first (`make setup`) when there is none."""
    missing = [m for m in ("numpy", "pynq") if importlib.util.find_spec(m) is None]
    root = Path(__file__).resolve().parents[1]
    venv = root / ".venv"
    in_checkout = (root / "Makefile").is_file() and not (root / "deploy.json").is_file()
    if missing and in_checkout and Path(sys.prefix).resolve() != venv.resolve():
        if not (venv / "bin" / "python").is_file() and shutil.which("make"):
            print(f"bench: this Python lacks {', '.join(missing)}: making the project's .venv "
                  f"(make setup)", flush=True)
            subprocess.run(["make", "--no-print-directory", "-C", str(root), "setup"])
        if (venv / "bin" / "python").is_file():
            os.execv(str(venv / "bin" / "python"), [str(venv / "bin" / "python"), *sys.argv])
    if "numpy" in missing:
        sys.exit("bench: needs numpy (pip install numpy)")


if __name__ == "__main__":
    _bootstrap()
import numpy as np  # noqa: E402

from host import boards, datasets  # noqa: E402
from host.artifacts import Artifacts, deployed, repo_root  # noqa: E402
from host.errors import cli, fail  # noqa: E402
from host.names import BadName, model_name_arg, non_negative_int, positive_int  # noqa: E402
from host.package import PackageError, load  # noqa: E402
from host.reference import Reference  # noqa: E402

KINDS = ("hardware", "emulation", "cpu-reference", "torch-float", "predicted")
COLORS = {"hardware": "#d62728", "emulation": "#ff7f0e", "cpu-reference": "#1f77b4",
          "torch-float": "#9467bd", "predicted": "#7f7f7f"}


def _optional(name: str):
    """An optional dependency (tqdm, matplotlib): the module, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class Progress:
    """A tqdm bar when tqdm is installed (and `enabled`), else nothing."""

    def __init__(self, total: int, desc: str, enabled: bool = True):
        tqdm = _optional("tqdm") if enabled else None
        self.bar = tqdm.tqdm(total=total, desc=desc, unit="img", leave=False) if tqdm else None

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def row(backend: str, kind: str, images: int, seconds: Optional[float], top1: Optional[float],
        **extra) -> Dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    fps = images / seconds if seconds else None
    return {"backend": backend, "images": int(images),
            "seconds": None if seconds is None else round(float(seconds), 4),
            "fps": None if fps is None else round(float(fps), 2),
            "top1": None if top1 is None else round(float(top1), 2), "kind": kind, **extra}


def top1(labels: np.ndarray, truth: Optional[np.ndarray]) -> Optional[float]:
    return None if truth is None else 100.0 * float(np.mean(labels == truth))


# ---------------------------------------------------------------------------------------------
# The rows
# ---------------------------------------------------------------------------------------------

def run_reference(reference: Reference, images: np.ndarray, truth, batch_size: int,
                  progress: bool):
    bar = Progress(len(images), "cpu-reference", progress)
    sums = []
    start = time.perf_counter()
    for i in range(0, len(images), batch_size):
        sums.append(reference.class_sums(images[i:i + batch_size]))
        bar.update(len(sums[-1]))
    seconds = time.perf_counter() - start
    bar.close()
    sums = np.concatenate(sums)
    labels = np.argmax(reference.logits_from_sums(sums), axis=1)
    return row(f"numpy CPU reference (host.reference, {reference.threads} threads)", "cpu-reference",
               len(images), seconds, top1(labels, truth)), sums


def run_accelerator(accel, images: np.ndarray, truth, reference_sums: np.ndarray, label: str,
                    progress: bool):
    """One timed pass of the driver over every image (packing, DMA, unpacking included)."""
    accel.class_sums(images[:1])  # warm-up: buffers, caches, the first DMA transfer
    bar = Progress(len(images), accel.backend, progress)
    start = time.perf_counter()
    sums = accel.class_sums(images, progress=bar.update)
    seconds = time.perf_counter() - start
    bar.close()
    labels = np.argmax(accel.logits_from_sums(sums), axis=1)
    mismatches = int(np.sum(np.any(sums != reference_sums, axis=1)))
    return row(label, accel.backend, len(images), seconds, top1(labels, truth),
               mismatches=mismatches, batch_size=accel.batch_size)


def predicted_row(files: Artifacts, images: int, board: str = boards.DEFAULT) -> Optional[Dict[str, Any]]:
    """The estimate's FPS when estimate.json was made for `board` (else None: no row)."""
    try:
        estimate = json.loads(files.estimate_json.read_text())
        fps = float(estimate["fps"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if estimate.get("board", boards.DEFAULT) != board:
        return None
    clock = estimate.get("clock_mhz")
    return row(f"predicted {boards.get(board).title} (estimate.json{f', {clock:g} MHz' if clock else ''})",
               "predicted",
               images, images / fps, None, source=str(files.estimate_json),
               fits=estimate.get("fits"))


def plain_float_row(model: str, images: np.ndarray, truth) -> Optional[Dict[str, Any]]:
    """The same network in plain float torch (training/plain_float.py), timed here on the same
    images as the other rows; None where torch, Brevitas or the checkpoint is missing. Imported
    by name, lazily, so that host/ still imports without torch (on the board)."""
    checkpoint = repo_root() / "models" / model / "model.pt"
    plain_float = _optional("training.plain_float") if checkpoint.is_file() else None
    if plain_float is None:
        return None
    try:
        network = plain_float.load(checkpoint, model)
    except ImportError:   # torch without Brevitas
        return None
    torch = importlib.import_module("torch")
    logits, seconds = plain_float.timed_logits(network, images)
    return row(f"plain float torch, same network ({torch.get_num_threads()} threads)", "torch-float",
               len(images), seconds, top1(np.argmax(logits, axis=1), truth), source=str(checkpoint))


def torch_float_row(files: Artifacts) -> Optional[Dict[str, Any]]:
    """The float Brevitas model as `make verify` ran it (host/ never imports torch)."""
    try:
        verify = json.loads(files.verify_json.read_text())
        images, seconds = int(verify["images"]), float(verify["seconds_brevitas"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return row("Brevitas float torch (recorded by make verify)", "torch-float", images, seconds,
               verify.get("top1_brevitas"), source=str(files.verify_json))


# ---------------------------------------------------------------------------------------------
# First run in a repository checkout: build the missing inputs
# ---------------------------------------------------------------------------------------------

def missing_steps(files: Artifacts, emulation: str) -> List[str]:
    """The pipeline steps (hls/hls_flow.py) whose outputs the bench lacks, in pipeline order."""
    steps = []
    if not files.package_json.is_file():
        steps.append("lower")
    if not files.estimate_json.is_file():
        steps.append("estimate")
    if emulation == "compiled" and not files.emu_cpp.is_file():
        steps.append("codegen")
    return steps


def can_build(files: Artifacts, on_board: bool) -> bool:
    """Only a repository checkout off the board builds: its hls/ step runner, its build/<model>/."""
    root = repo_root()
    return (not on_board and not deployed() and (root / "hls" / "hls_flow.py").is_file()
            and files.build_dir.resolve() == (root / "build" / files.model).resolve())


def step_command(model: str, steps: List[str], board: str = boards.DEFAULT) -> List[str]:
    """The step runner up to the last missing step (it skips what is up to date). The bench
    compiles or loads its own emulation library and checks it against the reference itself, so
    it needs the generated C++, not a C-simulation."""
    return [sys.executable, "-m", "hls", "--model", model, "--board", board, "--to", steps[-1]]


def build_missing(files: Artifacts, steps: List[str], board: str = boards.DEFAULT) -> Optional[str]:
    """Run the pipeline's steps up to the last of `steps`, output shown; None, or a note saying what failed."""
    cmd = step_command(files.model, steps, board)
    print(f"bench: first run for {files.model}: building {', '.join(steps)} "
          f"(a few minutes, once):\n  {shlex.join(cmd)}", flush=True)
    status = subprocess.run(cmd, cwd=repo_root()).returncode
    return None if status == 0 else f"build: `{shlex.join(cmd)}` failed (exit {status})"


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def table(rows: List[Dict[str, Any]]) -> str:
    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    lines = [f"{'kind':<14} {'backend':<58} {'images':>7} {'seconds':>9} {'fps':>11} {'top1':>6}"]
    for r in rows:
        lines.append(f"{r['kind']:<14} {r['backend'][:58]:<58} {r['images']:>7} "
                     f"{fmt(r['seconds'], '9.3f')} {fmt(r['fps'], '11,.1f')} {fmt(r['top1'], '6.2f')}")
    return "\n".join(lines)


def plot(rows: List[Dict[str, Any]], path: Path, model: str) -> Optional[Path]:
    matplotlib = _optional("matplotlib")
    if matplotlib is None:
        return None
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    shown = [r for r in rows if r["fps"]]
    if not shown:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.8 * len(shown) + 1.6))
    names = [r["kind"] + "\n" + "\n".join(textwrap.wrap(r["backend"], 38)[:2]) for r in shown]
    ys = np.arange(len(shown))[::-1]
    bars = ax.barh(ys, [r["fps"] for r in shown], color=[COLORS[r["kind"]] for r in shown])
    for bar, r in zip(bars, shown):
        if r["kind"] in ("emulation", "predicted"):
            bar.set_hatch("//")
        label = (f" {r['fps']:,.0f} FPS" + (f", top-1 {r['top1']:.2f}%" if r["top1"] is not None else "")
                 + f" ({r['images']} images)")
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, label, va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(right=max(r["fps"] for r in shown) * 30)
    ax.set_xlabel("images per second (log scale)")
    ax.set_title(f"{model}: images per second by backend\n(hatched: emulation or predicted, "
                 "not measured on hardware)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    return cli("bench", _main, argv)


def _main(argv) -> int:
    p = argparse.ArgumentParser(prog="python host/bench.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, type=model_name_arg,
                   help="default: ern_tiny (a deploy folder's own model)")
    p.add_argument("--images", type=positive_int, default=1000, help="test images to run (default 1000)")
    p.add_argument("--batch-size", type=positive_int, default=500, help="images per DMA transfer (board)")
    p.add_argument("--emulation-images", type=non_negative_int, default=100,
                   help="off the board: the emulated accelerator runs the first N of the images "
                        "(default 100: the compiled C++ simulation manages a few images/s)")
    p.add_argument("--build-dir", default=None, help="default: build/<model> (or the deploy folder)")
    p.add_argument("--emulation", choices=("compiled", "reference", "none"), default="compiled",
                   help="off the board: the compiled HLS C++ (default), the numpy stand-in "
                        "behind the fake device (tests the driver only), or none")
    p.add_argument("--no-build", action="store_true",
                   help="in a repository checkout: do not build missing inputs (python -m hls)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--board", default=boards.DEFAULT,
                   help=f"the board the bitstream and estimate are for; off the board the emulated "
                        f"device is configured as it ({boards.names()})")
    args = p.parse_args(argv)
    try:
        target = boards.get(args.board)
        files = Artifacts.find(args.model, args.build_dir)
    except (boards.BoardError, BadName) as e:   # a bad --board, or a deploy.json naming a bad model
        return fail(e, "bench")
    model = files.model
    progress = not args.no_progress
    notes: List[str] = []
    try:
        from host import driver
    except ImportError as e:  # no pynq: the reference and predicted rows still run
        driver = None
        notes.append(f"accelerator: cannot import the driver ({e})")
    board = driver is not None and driver.on_board()
    steps = missing_steps(files, args.emulation if not board else "none")
    if steps and not args.no_build and can_build(files, board):
        failed = build_missing(files, steps, target.name)
        if failed:
            notes.append(failed)

    if not files.package_json.is_file():
        raise PackageError(f"{files.package_dir} missing: run `make lower MODEL={model}` first "
                           f"(and `make estimate`, `make hls` for the predicted and emulation rows)")
    try:
        package = load(files.package_dir)
        images, truth, _, source = datasets.load_test_images(package.input_shape, args.images,
                                                              files.samples_dir)
    except ValueError as e:   # PackageError, DatasetError are ValueErrors too
        return fail(e, "bench")
    print(f"{model}: {len(images)} images from {source}")

    reference = Reference(package, batch_size=min(args.batch_size, 256))
    rows: List[Dict[str, Any]] = []
    ref_row, ref_sums = run_reference(reference, images, truth, args.batch_size, progress)

    accel_row = None
    try:
        if board:
            if files.bitfile.is_file():
                with driver.ErnAccelerator(str(files.bitfile), package,
                                           batch_size=args.batch_size) as accel:
                    print(accel.describe())
                    accel_row = run_accelerator(accel, images, truth, ref_sums,
                                                f"{target.title} accelerator ({files.bitfile.name})", progress)
                    report = accel.throughput_test()
                    print("throughput_test: " + driver.summary(report))
                    accel_row["throughput_test"] = report
            else:
                notes.append(f"hardware: no bitstream at {files.bitfile} (make overlay, make deploy)")
        elif driver is not None and args.emulation != "none":
            from host import emulation
            if args.emulation == "compiled" and not files.emu_cpp.is_file():
                notes.append(f"emulation: {files.emu_cpp} missing: run `make hls MODEL={model}` "
                             "(or --emulation reference for the driver path with a numpy stand-in)")
            else:
                n = min(len(images), args.emulation_images)
                if args.emulation == "compiled":
                    print(f"emulation: compiling {files.emu_cpp} (cached after the first time)...",
                          flush=True)
                with emulation.open_emulated(model, package=package, hls_dir=files.hls_dir,
                                             core=args.emulation, build_dir=files.build_dir,
                                             board=target.name,
                                             batch_size=min(args.batch_size, 10)) as accel:
                    print(accel.describe())
                    label = f"EMULATION: {accel.device.core_kind}"
                    accel_row = run_accelerator(accel, images[:n], None if truth is None else truth[:n],
                                                ref_sums[:n], label, progress)
    except Exception as e:  # a backend that fails is reported, the rest of the bench still runs
        print(f"bench: accelerator failed: {type(e).__name__}: {e}", file=sys.stderr)
        notes.append(f"accelerator: {type(e).__name__}: {e}")
    if accel_row is not None:
        rows.append(accel_row)
    rows.append(ref_row)

    torch_row = plain_float_row(model, images, truth) or torch_float_row(files)
    if torch_row is not None:
        rows.append(torch_row)
    else:
        notes.append("torch-float: host/ does not import torch; " + (
            "`make verify` on the development machine records it" if (files.build_dir / "deploy.json").is_file()
            else f"no {files.verify_json} (run `make verify MODEL={model}`)"))
    pred = predicted_row(files, len(images), target.name)
    if pred is not None:
        rows.append(pred)
    else:
        notes.append(f"predicted: no {files.estimate_json} for {target.name} "
                     f"(run `make estimate MODEL={model} BOARD={target.name}`)")

    print(table(rows))
    for note in notes:
        print(f"note: {note}")
    status = 0
    if accel_row is not None:
        bad = accel_row["mismatches"]
        verdict = "matches" if bad == 0 else "DIFFERS FROM"
        print(f"{accel_row['kind']} {verdict} the CPU reference: class sums equal on "
              f"{accel_row['images'] - bad}/{accel_row['images']} images (the first "
              f"{accel_row['images']} of the {len(images)})")
        status = 1 if bad else 0
    try:
        files.bench_json.parent.mkdir(parents=True, exist_ok=True)
        files.bench_json.write_text(json.dumps(rows, indent=2) + "\n")
        chart = plot(rows, files.bench_png, model)
    except OSError as e:
        return fail(OSError(f"cannot write results: {e}"), "bench")
    print(f"wrote {files.bench_json}" + (f" and {chart}" if chart else " (no matplotlib: no chart)"))
    return status


if __name__ == "__main__":
    sys.exit(main())
