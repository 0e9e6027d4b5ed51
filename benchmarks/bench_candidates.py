"""The candidate ways to compute one thresholded w1a2 conv in numpy, timed on the same inputs:
the measurements behind host/kernels.py's choice (benchmarks/RESULTS.md).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_candidates.py [--model ern_tiny] [--layer Conv_1]
        [--images 64] [--repeat 9] [--network]

The layer's real weights, thresholds and directions from build/<m>/dataflow, on random codes of
its input's width (the cost does not depend on the values). Every candidate's codes are checked
equal to ops.conv_threshold's. Interleaved rounds, the median per candidate, CPU time of this
process (less sensitive to other processes than wall time on a shared machine). `--network`
times whole networks instead (class sums of the first --images Fashion-MNIST test images):
the golden ops, and the fast reference with float32 words only or float64 words allowed.
"""
import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from host import kernels, ops  # noqa: E402
from host.errors import cli  # noqa: E402
from host.package import load  # noqa: E402
from host.reference import Reference  # noqa: E402


def golden(x, w, t, d, k, s, p):
    """Today's golden path: im2col copy, one float32 GEMM, thresholds (ops.conv_threshold)."""
    return ops.conv_threshold(x, w, t, d, k, s, p)


def shifted_gemms(x, w, t, d, k, s, p):
    """im2col without the patch copy (stride 1 only): the padded map flattened to rows, and one
    GEMM per kernel offset on a contiguous slice of it, summed; the rows that wrap around the
    right edge are computed and dropped."""
    n, h, width, c = x.shape
    hp, wp = h + 2 * p, width + 2 * p
    padded = np.zeros((n, hp, wp, c), np.float32)
    padded[:, p:p + h, p:p + width] = x
    flat = padded.reshape(n, hp * wp, c)
    ho, wo = hp - k + 1, wp - k + 1
    signed = (w * d[:, None]).reshape(-1, k, k, c).astype(np.float32)
    acc = np.zeros((n, ho * wp, w.shape[0]), np.float32)
    length = (ho - 1) * wp + wo
    for ky in range(k):
        for kx in range(k):
            start = ky * wp + kx
            acc[:, :length] += flat[:, start:start + length] @ signed[:, ky, kx].T
    acc = acc.reshape(n, ho, wp, -1)[:, :, :wo]
    return ops.count_reached(acc, np.clip(t, -2 ** 20, 2 ** 20).astype(np.float32))


def xnor_popcount(x, w, t, d, k, s, p, in_bits=2):
    """Bit-packed: activation bit planes and weight signs packed 8 to a byte, per (pixel,
    channel) popcount(w & a_p) through a 256-entry table: acc = sum_p 2^p (2 pc(w & a_p) - pc(a_p))."""
    table = np.array([bin(i).count("1") for i in range(256)], np.uint16)
    patches = ops.im2col(x, k, s, p).reshape(-1, w.shape[1])
    signs = np.packbits((w * d[:, None]) > 0, axis=1, bitorder="little")   # (C_out, bytes)
    acc = np.zeros((len(patches), w.shape[0]), np.int64)
    for bit in range(in_bits):
        plane = np.packbits((patches >> bit) & 1, axis=1, bitorder="little")   # (rows, bytes)
        ones = table[plane].sum(axis=1, dtype=np.int64)
        both = table[plane[:, None, :] & signs[None, :, :]].sum(axis=2, dtype=np.int64)
        acc += (2 * both - ones[:, None]) << bit
    return ops.count_reached(acc.reshape(x.shape[0], *ops.im2col(x[:1], k, s, p).shape[1:3], -1), t)


def packed(dtypes):
    def run(x, w, t, d, k, s, p, cache={}):
        key = (id(w), dtypes)
        if key not in cache:   # prepared once, as the reference does
            saved = kernels.PACKING_DTYPES
            kernels.PACKING_DTYPES = dtypes
            try:
                cache[key] = kernels.ConvKernel(w, k, s, p, (0, int(x.max(initial=0)) or 1), t, d)
            finally:
                kernels.PACKING_DTYPES = saved
        return cache[key]([x])[0]
    return run


CANDIDATES = {
    "golden: im2col copy + float32 GEMM + thresholds (ops.conv_threshold)": golden,
    "im2col without copies: one GEMM per kernel offset on shifted views": shifted_gemms,
    "bit-packed xnor/popcount through a byte lookup table": xnor_popcount,
    "packed float32 accumulators (host/kernels.py)": packed((np.float32,)),
    "packed, float64 words allowed (4 fields to a word)": packed((np.float64, np.float32)),
}


def reference_with(package, dtypes):
    """The fast reference with its packed words drawn from `dtypes` (cheapest first)."""
    saved = kernels.PACKING_DTYPES
    kernels.PACKING_DTYPES = dtypes
    try:
        return Reference(package)
    finally:
        kernels.PACKING_DTYPES = saved


def time_networks(args) -> int:
    from host import datasets
    package = load(ROOT / "build" / args.model / "dataflow")
    images = datasets.load_test_images(package.input_shape, args.images, None)[0]
    runs = {"golden ops (Reference(fast=False))": Reference(package, fast=False),
            "packed float32 words (host/kernels.py)": reference_with(package, (np.float32,)),
            "packed, float64 words allowed": reference_with(package, (np.float64, np.float32))}
    expected = runs["golden ops (Reference(fast=False))"].class_sums(images)
    seconds = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, reference in runs.items():
            start = time.process_time()
            sums = reference.class_sums(images)
            seconds[name].append(time.process_time() - start)
            assert np.array_equal(sums, expected), name
    print(f"{args.model}, whole network, {len(images)} images; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; CPU time, median of {args.repeat}; class sums "
          f"identical; load {os.getloadavg()[0]:.1f}\n")
    print("| reference | images per CPU second |\n|---|---:|")
    for name, values in seconds.items():
        print(f"| {name} | {len(images) / float(np.median(values)):,.0f} |")
    return 0


def main(argv=None) -> int:
    return cli("bench_candidates", _main, argv)


def _main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_candidates.py", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ern_tiny")
    ap.add_argument("--layer", default="Conv_1")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--popcount-images", type=int, default=4, help="the lookup-table candidate is slow")
    ap.add_argument("--network", action="store_true", help="whole networks instead of one layer")
    args = ap.parse_args(argv)
    if args.network:
        return time_networks(args)
    package = load(ROOT / "build" / args.model / "dataflow")
    layer = package.layer(args.layer)
    op, params = layer.operator, package.layer_params(layer)
    w, t, d = op.weight_matrix(params), params["thresholds"], params["direction"]
    hi = package.streams[layer.inputs[0]].max
    x = np.random.default_rng(0).integers(0, hi + 1, (args.images,) + package.streams[layer.inputs[0]].shape,
                                          dtype=np.uint8)
    geometry = (op.kernel, op.stride, op.pad)
    if op.stride != 1:
        CANDIDATES.pop("im2col without copies: one GEMM per kernel offset on shifted views")
    expected = golden(x, w, t, d, *geometry)
    seconds = {name: [] for name in CANDIDATES}
    for _ in range(args.repeat):
        for name, run in CANDIDATES.items():
            few = x[:args.popcount_images] if "popcount" in name else x
            start = time.process_time()
            codes = run(few, w, t, d, *geometry)
            seconds[name].append((time.process_time() - start) / len(few))
            assert np.array_equal(codes, expected[:len(few)]), name
    print(f"{args.model} {args.layer}: {op.kernel}x{op.kernel} stride {op.stride}, cols {op.cols}, "
          f"C_out {w.shape[0]}, {args.images} images ({args.popcount_images} for the popcount); "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; CPU time, median of "
          f"{args.repeat}; every candidate's codes equal the golden ones; load {os.getloadavg()[0]:.1f}\n")
    base = float(np.median(seconds[next(iter(CANDIDATES))]))
    print("| candidate | ms per image | vs golden |\n|---|---:|---:|")
    for name, values in seconds.items():
        ms = float(np.median(values)) * 1e3
        print(f"| {name} | {ms:.3f} | {base * 1e3 / ms:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
