"""Images/s of the numpy CPU reference vs the same network in plain float torch (and Brevitas,
and the reference's golden ops), for several models, at 2 threads and at 1 thread, in one run.

    python benchmarks/bench_reference.py [--models ern_tiny cnv_w1a2] [--images 2000]
        [--threads 2 1] [--repeat 3] [--onnx-images 0] [--write benchmarks/RESULTS.md]

Reads models/<m>/model.pt and build/<m>/dataflow (`make lower MODEL=<m>`; build/<m>/model.onnx
too with --onnx-images). Each thread count runs in its own process, with OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set before numpy and torch load, and
torch.set_num_threads: 1 thread against 1 thread is the fairest stand-in for the board's two
Cortex-A9 cores. Inside a process the backends are interleaved, `--repeat` rounds over the same
images, and each figure is the median round, so load that comes and goes hits all of them alike;
the 1-minute load average is printed with every row. Prints a markdown table; `--write FILE`
also writes it (with the command, the machine and the settings) as one section of FILE.

Rows: `numpy reference` is host.reference as class_sums runs it (host/kernels.py), with its
default threads, as a user on the board gets them: OMP_NUM_THREADS when set (here, by the
thread count), else every core; the batches are split over them and the BLAS is held at one
thread at runtime (host/blas.py), so the BLAS variables set here change nothing for it;
`golden ops` is the same reference through host/ops.py's golden functions (`fast=False`, the
reference before host/kernels.py), threaded alike; `plain float torch` is training/plain_float.py (every
Brevitas layer swapped for its torch counterpart: the float network this one would be without
quantization); `Brevitas` is the quantized model in eval mode. The class sums of the two numpy
rows are checked identical on every image.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
BACKENDS = ("numpy reference", "golden ops", "plain float torch", "Brevitas eval")

from host.errors import ErnError, cli  # noqa: E402
from host.names import model_name_arg, positive_int  # noqa: E402


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def measure_model(model_name: str, images_nchw, repeat: int, onnx_images: int) -> dict:
    """Every backend on the same images, interleaved, `repeat` rounds: median seconds each."""
    import numpy as np

    from host import blas
    from host.package import load
    from host.reference import Reference
    from training import checkpoint, plain_float

    package = load(ROOT / "build" / model_name / "dataflow")
    brevitas, _ = checkpoint.load_model(ROOT / "models" / model_name / "model.pt", expected_model=model_name)
    float_net = plain_float.plain_float_copy(brevitas)
    nhwc = np.ascontiguousarray(images_nchw.transpose(0, 2, 3, 1))
    fast, golden = Reference(package), Reference(package, fast=False)
    runs = {"numpy reference": lambda: fast.class_sums(nhwc),
            "golden ops": lambda: golden.class_sums(nhwc),
            "plain float torch": lambda: plain_float.logits(float_net, images_nchw),
            "Brevitas eval": lambda: plain_float.logits(brevitas, images_nchw)}
    for run in runs.values():   # warm-up: torch picks its kernels, numpy maps its buffers
        run()
    seconds = {name: [] for name in runs}
    outputs = {}
    loads = [os.getloadavg()[0]]
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            outputs[name] = run()
            seconds[name].append(time.perf_counter() - start)
        loads.append(os.getloadavg()[0])
    identical = bool(np.array_equal(outputs["numpy reference"], outputs["golden ops"]))
    agree = float(np.mean(fast.logits_from_sums(outputs["numpy reference"]).argmax(1)
                          == outputs["Brevitas eval"].argmax(1))) * 100
    result = {"model": model_name, "images": len(nhwc), "seconds": {k: median(v) for k, v in seconds.items()},
              "identical_class_sums": identical, "agreement_brevitas": agree,
              "reference_threads": fast.threads, "blas_held": bool(blas.controls()),
              "load_min": min(loads), "load_max": max(loads)}
    if onnx_images:
        result["onnx"] = measure_onnx(model_name, images_nchw[:onnx_images])
    return result


def measure_onnx(model_name: str, images_nchw) -> float:
    """Seconds of qonnx's execute_onnx on the cleaned QONNX, one image at a time (one run)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    wrapper = ModelWrapper(str(ROOT / "build" / model_name / "model.onnx"))
    name = wrapper.graph.input[0].name
    start = time.perf_counter()
    for x in images_nchw.astype("float32"):
        execute_onnx(wrapper, {name: x[None]})
    return time.perf_counter() - start


def worker(args) -> int:
    """One thread count, every model: a JSON line on stdout."""
    import torch

    from training import data
    torch.set_num_threads(args.threads[0])
    images = data.load("fashion_mnist", "test").images.numpy()[:args.images]
    results = [measure_model(m, images, args.repeat, args.onnx_images) for m in args.models]
    print(json.dumps({"threads": args.threads[0], "torch_threads": torch.get_num_threads(),
                      "numpy": __import__("numpy").__version__, "torch": torch.__version__,
                      "results": results}))
    return 0


def run_worker(threads: int, args) -> dict:
    env = {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--threads", str(threads),
               "--images", str(args.images), "--repeat", str(args.repeat),
               "--onnx-images", str(args.onnx_images), "--models", *args.models]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ErnError(f"the {threads}-thread run failed (exit {done.returncode}): {last}",
                       exit_code=done.returncode if done.returncode > 0 else 1)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(runs) -> str:
    lines = ["| model | threads | numpy reference | golden ops | plain float torch | Brevitas eval | "
             "**reference / plain float torch** | reference / golden ops | load (1 min) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for run in runs:
        for r in run["results"]:
            fps = {k: r["images"] / s for k, s in r["seconds"].items()}
            lines.append(f"| {r['model']} | {run['threads']} | "
                         + " | ".join(f"{fps[k]:,.0f}" for k in BACKENDS)
                         + f" | **{fps['numpy reference'] / fps['plain float torch']:.2f}x** | "
                         f"{fps['numpy reference'] / fps['golden ops']:.2f}x | "
                         f"{r['load_min']:.1f}-{r['load_max']:.1f} |")
    return "\n".join(lines)


def notes(runs, args) -> str:
    first = runs[0]
    checks = "; ".join(f"{r['model']} {run['threads']}t: reference on {r['reference_threads']} "
                       f"thread{'s' if r['reference_threads'] != 1 else ''}"
                       f"{' (BLAS held at 1)' if r['blas_held'] else ' (BLAS not found: not held at 1)'}, "
                       f"class sums {'identical' if r['identical_class_sums'] else 'DIFFER'}"
                       f", top-1 agreement with Brevitas {r['agreement_brevitas']:.2f}%"
                       + (f", execute_onnx {args.onnx_images / r['onnx']:.1f} images/s" if "onnx" in r else "")
                       for run in runs for r in run["results"])
    return (f"Images/s, median of {args.repeat} interleaved rounds over the first {args.images} Fashion-MNIST "
            f"test images; {platform.machine()}, {os.cpu_count()} cores, numpy {first['numpy']}, torch "
            f"{first['torch']}, torch batch 100, reference batch 64. Threads: "
            f"{'/'.join(str(run['threads']) for run in runs)} ({', '.join(THREAD_VARIABLES)} and "
            f"torch.set_num_threads; the reference splits its batches over OMP_NUM_THREADS threads, "
            f"its default, with the BLAS held at 1 thread). Load: the 1-minute load average over each model's rounds (the "
            f"machine is shared: above ~0.5 other processes took part of the cores). {checks}.")


def main(argv=None) -> int:
    return cli("bench_reference", _main, argv)


def _main(argv) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/bench_reference.py", description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["ern_tiny", "cnv_w1a2"], type=model_name_arg)
    p.add_argument("--images", type=positive_int, default=2000)
    p.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    p.add_argument("--repeat", type=int, default=3, help="interleaved rounds; the median is reported")
    p.add_argument("--onnx-images", type=int, default=0, help="also time execute_onnx on N images (slow)")
    p.add_argument("--write", default=None, help="also write the table to this markdown file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    missing = [m for m in args.models if not (ROOT / "build" / m / "dataflow" / "model.json").is_file()]
    if missing:
        raise ErnError(f"no package for {', '.join(missing)}: run `make lower MODEL=...` first")
    runs = [run_worker(threads, args) for threads in args.threads]
    text = notes(runs, args) + "\n\n" + table(runs) + "\n"
    print(text)
    if args.write:
        command = f"python benchmarks/bench_reference.py {' '.join(argv if argv is not None else sys.argv[1:])}"
        write_section(Path(args.write), SECTION, f"`{command}`, {time.strftime('%Y-%m-%d %H:%M')}\n\n{text}")
    return 0


TITLE = "# Benchmark: numpy CPU reference vs Brevitas vs plain float torch vs qonnx execute_onnx\n"
SECTION = "numpy reference vs plain float torch, 2 threads and 1 thread"


def write_section(path: Path, model: str, body: str) -> None:
    """Replace the `## <model>` section of the results file (up to the next `## ` heading) in
    place, or append it; everything else in the file is kept byte for byte and in order (the
    file is the project's shared RESULTS.md)."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else [TITLE]
    section = [f"## {model}\n", "\n", body.rstrip("\n") + "\n", "\n"]
    heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
    start = next((i for i in heads if lines[i][3:].strip() == model), None)
    if start is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines += ["\n"] + section
    else:
        end = next((i for i in heads if i > start), len(lines))
        lines[start:end] = section
    path.write_text("".join(lines).rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
