"""The numpy CPU reference: executes a model package bit-exactly (integer semantics).

    ref = Reference(load("build/ern_tiny/dataflow"))
    ref.class_sums(images)   # int64 (N, classes), what the accelerator emits
    ref.logits(images)       # float (N, classes): head scale and divisor applied
    ref.predict(images)      # int64 (N,) labels
    ref.trace(images)        # every stream by name, for per-layer comparison

The executor only walks the layers in order. `class_sums`, `logits` and `predict` run each layer
through its prepared fast kernel (host.kernels: the same integers, fewer float operations);
`trace`, and `Reference(package, fast=False)`, run the golden ops of host.ops.
Runs on the board: Python 3.10, numpy >= 1.21, nothing else.

Threads: `Reference(package, threads=n)` splits each call's images over n threads (default: the
cores this process may use, or OMP_NUM_THREADS where that is set), each running whole batches;
numpy releases the GIL inside its GEMMs and array loops, so the threads run on separate cores.
The BLAS is held at one thread meanwhile (host.blas): the parallelism is the reference's own.

CLI: python -m host.reference --package build/<m>/dataflow --images x.npy [--labels y.npy]
"""
import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import numpy as np

from host import blas, kernels
from host.datasets import check_labels
from host.errors import cli, fail
from host.names import positive_int
from host.package import Package, fit_input, load

DEFAULT_BATCH_SIZE = 64


def default_threads() -> int:
    """OMP_NUM_THREADS where it is a positive integer (the usual knob, which torch and the BLAS
    read too), else the cores this process may run on."""
    try:
        threads = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        threads = 0
    if threads > 0:
        return threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        return os.cpu_count() or 1


def batch_starts(images: int, batch_size: int, threads: int) -> range:
    """Where each batch starts (the range's step is the batch size): batch_size, or less when
    that would leave a thread without a batch (5 images over 2 threads: batches of 3 and 2)."""
    step = max(1, min(batch_size, -(-images // threads)))
    return range(0, max(images, 1), step)


class Reference:
    """Executes a Package on batches of uint8 images N x H x W x C."""

    def __init__(self, package: Package, batch_size: int = DEFAULT_BATCH_SIZE, fast: bool = True,
                 threads: Optional[int] = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        threads = default_threads() if threads is None else threads
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.package = package
        self.batch_size = batch_size
        self.threads = threads
        self.fast = fast
        # Resolved once: each layer's params by short name, in execution order.
        self._steps = [(layer, package.layer_params(layer)) for layer in package.layers]
        # Prepared once: each layer's fast kernel (weights unpacked and packed, thresholds clipped).
        # The stream bounds are the declared ones, which the loader checked against the ops.
        bounds = {name: stream.bounds for name, stream in package.streams.items()}
        self._kernels = [kernels.compile_layer(layer.operator, params,
                                               [bounds[n] for n in layer.inputs],
                                               [bounds[n] for n in layer.outputs])
                         for layer, params in self._steps] if fast else None

    def check_images(self, images: np.ndarray) -> np.ndarray:
        """The images, or a one-line ValueError naming what was expected and what came."""
        expected = self.package.input_shape
        images = fit_input(images, expected)
        if (not isinstance(images, np.ndarray) or images.dtype != np.uint8
                or images.ndim != 4 or images.shape[1:] != expected):
            got = (f"{images.dtype} array of shape {images.shape}" if isinstance(images, np.ndarray)
                   else type(images).__name__)
            raise ValueError(f"images: expected a uint8 array of shape (N, {', '.join(map(str, expected))}), "
                             f"got {got}")
        return images

    def run_batch(self, images: np.ndarray, keep_all: bool = False) -> Dict[str, np.ndarray]:
        """Execute one batch; returns the output stream (int64 when fast), or every stream when
        keep_all (through the golden ops: codes uint8, accumulators int64)."""
        if self.fast and not keep_all:
            return {self.package.output: self._run_fast(images)}
        streams = {self.package.input: images}
        for layer, params in self._steps:
            # Every stream has one consumer: pop it so its memory goes as soon as it is read.
            take = streams.get if keep_all else streams.pop
            outputs = layer.operator.execute([take(name) for name in layer.inputs], params)
            streams.update(zip(layer.outputs, outputs))
        return streams if keep_all else {self.package.output: streams[self.package.output]}

    def _run_fast(self, images: np.ndarray) -> np.ndarray:
        streams = {self.package.input: images}
        for (layer, _), kernel in zip(self._steps, self._kernels):
            outputs = kernel([streams.pop(name) for name in layer.inputs])
            streams.update(zip(layer.outputs, outputs))
        # Integers carried by floats inside; the output is int64 like the golden ops'.
        return streams[self.package.output].astype(np.int64, copy=False)

    def run(self, images: np.ndarray, keep_all: bool = False,
            batch_size: Optional[int] = None) -> Dict[str, np.ndarray]:
        """run_batch over the whole set, `batch_size` images at a time (fewer where that keeps
        every thread busy), on self.threads threads, concatenated in order."""
        images = self.check_images(images)
        starts = batch_starts(len(images), batch_size or self.batch_size, self.threads)
        batches = [images[start:start + starts.step] for start in starts]
        with blas.one_thread():
            if self.threads == 1 or len(batches) == 1:
                results = [self.run_batch(batch, keep_all) for batch in batches]
            else:
                with ThreadPoolExecutor(min(self.threads, len(batches))) as pool:
                    results = list(pool.map(lambda batch: self.run_batch(batch, keep_all), batches))
        return {name: np.concatenate([r[name] for r in results]) if len(results) > 1 else value
                for name, value in results[0].items()}

    def class_sums(self, images: np.ndarray, batch_size: Optional[int] = None) -> np.ndarray:
        """Integer class sums, int64 (N, classes)."""
        sums = self.run(images, batch_size=batch_size)[self.package.output]
        return sums.reshape(len(images), self.package.classes).astype(np.int64, copy=False)

    def logits(self, images: np.ndarray, batch_size: Optional[int] = None) -> np.ndarray:
        """float64 (N, classes): scale[c] * sums[c] / divisor (the average pool's division),
        + bias[c] where the head has one."""
        return self.logits_from_sums(self.class_sums(images, batch_size))

    def logits_from_sums(self, sums: np.ndarray) -> np.ndarray:
        return self.package.logits_from_sums(sums)

    def predict(self, images: np.ndarray, batch_size: Optional[int] = None) -> np.ndarray:
        """Labels, int64 (N,): the argmax of the logits (first class on a tie)."""
        return np.argmax(self.logits(images, batch_size), axis=1)

    def trace(self, images: np.ndarray, batch_size: Optional[int] = None) -> Dict[str, np.ndarray]:
        """Every stream (N x H x W x C each), by name: for per-layer comparisons."""
        return self.run(images, keep_all=True, batch_size=batch_size)


def main(argv: Optional[List[str]] = None) -> int:
    return cli("reference", _main, argv)


def _main(argv: Optional[List[str]]) -> int:
    parser = argparse.ArgumentParser(prog="python -m host.reference", description=__doc__.split("\n")[0])
    parser.add_argument("--package", required=True, help="model package folder (model.json, params.npz)")
    parser.add_argument("--images", required=True, help=".npy of uint8 images N x H x W x C")
    parser.add_argument("--labels", help=".npy of labels (N,): prints top-1")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="threads the batches are split over (default: OMP_NUM_THREADS, else every usable core)")
    parser.add_argument("--save", help="write the predictions and class sums to this .npz")
    args = parser.parse_args(argv)
    try:
        reference = Reference(load(args.package), args.batch_size, threads=args.threads)
        images = np.load(args.images, allow_pickle=False)
        start = time.perf_counter()
        sums = reference.class_sums(images)
        seconds = time.perf_counter() - start
    except ValueError as e:   # numpy's: not an .npy, or images of another shape
        return fail(e, "reference")
    labels = np.argmax(reference.logits_from_sums(sums), axis=1)
    line = (f"images={len(images)} seconds={seconds:.3f} fps={len(images) / max(seconds, 1e-9):.1f} "
            f"threads={reference.threads}")
    if args.labels:
        try:
            truth = check_labels(np.load(args.labels, allow_pickle=False), len(images),
                                 reference.package.classes, args.labels)
        except ValueError as e:
            return fail(e, "reference")
        line += f" top1={100.0 * np.mean(labels == truth):.2f}"
    if args.save:
        np.savez(args.save, predictions=labels, class_sums=sums)
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
