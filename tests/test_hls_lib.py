"""The HLS layer library (hls/lib/*.h): every header against its numpy golden model.

Each header has a C++ test bench in tests/hls_tb/tb_<op>.cpp. The cases of a tier (quick by
default, `slow` by marker) are compiled together into one executable (tb_main.cpp + a generated
case table: one g++ run per tier, cached under build/csim_cache/ by content), with -Wall -Wextra
-Werror, so the library must compile warning-free. Each case then writes random inputs and
folded params as int64 files, runs its case id over 2-3 frames and compares the outputs with
host.ops on the whole batch.

The folding helpers (`fold_weight_planes`, `fold_rows`, hls/codegen/layout.py) are the param layout the headers expect
(hls/lib/README.md); the code generator lays out its const arrays the same way.
"""
import dataclasses
import functools
import re
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest

from hls import csim
from hls.codegen.layout import fold_rows, fold_weight_planes  # the param layout, shared with codegen
from host import ops

REPO = Path(__file__).resolve().parents[1]
TB_DIR = REPO / "tests" / "hls_tb"
TB_FLAGS = ("-Wextra",)  # on top of csim.WARNING_FLAGS, with -Werror


# ---------------------------------------------------------------------------------------------
# Param layout (hls/lib/README.md)
# ---------------------------------------------------------------------------------------------

def signed_bits(lo: int, hi: int) -> int:
    """Two's-complement width holding lo..hi."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def levels(bits: int) -> int:
    return (1 << bits) - 1


def random_thresholds(rng, values: np.ndarray, channels: int, n: int, lo: int, hi: int) -> np.ndarray:
    """Ascending thresholds per channel, mostly drawn from the values the channel takes (so every
    code occurs), some at the extremes lo/hi (a level never or always reached), with repeats."""
    values = values.reshape(-1, channels)
    rows = []
    for c in range(channels):
        pool = np.concatenate([values[:, c], values[:, c] + 1, [lo, hi]])
        rows.append(np.sort(rng.choice(pool, size=n)))
    return np.array(rows, np.int64)


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    op: str                 # test bench tests/hls_tb/tb_<op>.cpp and driver DRIVERS[op]
    fn: str                 # C++ run function
    p: Tuple                # (name, value) pairs: the template arguments, in order
    frames: int = 2
    tag: str = ""           # a variant of the driver's data (not a template argument)

    @property
    def d(self) -> Dict:
        return dict(self.p)

    def template_args(self) -> str:
        return ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for _, v in self.p)

    def __str__(self):
        """e.g. mvu_threshold-k3-s1-p1-...-th_bits8 (usable in -k: no '=' or ',')."""
        args = "-".join(f"{k}{int(v) if isinstance(v, bool) else v}" for k, v in self.p)
        return f"{self.fn[len('run_'):]}-{args}" + (f"-{self.tag}" if self.tag else "")


def case(op, fn=None, frames=2, tag="", **p) -> Case:
    return Case(op, fn or f"run_{op}", tuple(p.items()), frames, tag)


# The keyword order of each case is the template parameter order of its C++ run function.
def thermometer(pixels, c, k, pe, out_bits, th_bits=10, ern=False, frames=2, cin=None):
    return case("thermometer", frames=frames, tag="ern" if ern else "", pixels=pixels, c=c, k=k, pe=pe,
                out_bits=out_bits, th_bits=th_bits, cin=c if cin is None else cin)


def sliding_window(k, s, p, h, w, c, simd, bits):
    return case("sliding_window", k=k, s=s, p=p, h=h, w=w, c=c, simd=simd, bits=bits)


def mvu_threshold(k, s, p, h, w, c, cout, simd, pe, in_bits, out_bits, frames=2, w_bits=1, masked=False,
                  out_pe=None, zeros=False):
    bound = k * k * c * levels(in_bits) * levels(w_bits) + 1  # thresholds up to one past the largest |acc|
    return case("mvu", "run_mvu_threshold", frames, k=k, s=s, p=p, h=h, w=w, c=c, cout=cout, simd=simd,
                pe=pe, in_bits=in_bits, out_bits=out_bits, th_bits=signed_bits(-bound, bound), w_bits=w_bits,
                masked=masked, out_pe=out_pe or pe, zeros=zeros)


def mvu_accumulate(k, s, p, h, w, c, cout, simd, pe, in_bits, acc_bits=None, frames=2, w_bits=1, masked=False,
                   out_pe=None, zeros=False):
    bound = k * k * c * levels(in_bits) * levels(w_bits)
    return case("mvu", "run_mvu_accumulate", frames, "narrow" if acc_bits else "", k=k, s=s, p=p, h=h,
                w=w, c=c, cout=cout, simd=simd, pe=pe, in_bits=in_bits,
                acc_bits=acc_bits or signed_bits(-bound, bound), w_bits=w_bits, masked=masked, out_pe=out_pe or pe,
                zeros=zeros)


def threshold(pixels, c, pe, in_bits, out_bits, signed=True):
    return case("threshold", pixels=pixels, c=c, pe=pe, in_bits=in_bits, out_bits=out_bits,
                th_bits=in_bits + 2, signed=signed)


def add(pixels, c, pe, a_bits, b_bits, a_signed=True, b_signed=True):
    return case("add", pixels=pixels, c=c, pe=pe, a_bits=a_bits, b_bits=b_bits,
                out_bits=max(a_bits, b_bits) + 1, a_signed=a_signed, b_signed=b_signed)


def duplicate(pixels, c, pe, bits, copies):
    return case("duplicate", pixels=pixels, c=c, pe=pe, bits=bits, copies=copies)


def weight_load(pe, tiles, w, axi_bits=64):
    return case("weight_load", frames=1, pe=pe, tiles=tiles, w=w, axi_bits=axi_bits)


def global_sum(pixels, c, pe, in_bits, signed=True):
    lo, hi = (-(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1) if signed else (0, levels(in_bits))
    return case("global_sum", pixels=pixels, c=c, pe=pe, in_bits=in_bits,
                out_bits=signed_bits(pixels * lo, pixels * hi), signed=signed)


def max_pool(k, s, h, w, c, pe, bits):
    return case("max_pool", k=k, s=s, h=h, w=w, c=c, pe=pe, bits=bits)


def width_convert(pixels, c, in_pe, out_pe, bits):
    return case("width_convert", pixels=pixels, c=c, in_pe=in_pe, out_pe=out_pe, bits=bits)


def axi_in(pixels, c, axi_bits, pe=None):
    return case("axi_stream", "run_axi_stream_in", pixels=pixels, c=c, axi_bits=axi_bits, pe=c if pe is None else pe)


def axi_out(c, pe, in_bits, axi_bits, lane_bits=32, last_per_frame=False, frames=2):
    return case("axi_stream", "run_axi_stream_out", frames, c=c, pe=pe, in_bits=in_bits, axi_bits=axi_bits,
                lane_bits=lane_bits, last_per_frame=last_per_frame)


QUICK: List[Case] = [
    thermometer(6, 1, 10, 10, 2, ern=True),      # ern_tiny's embedding: k=10, l=2, s=8
    thermometer(5, 3, 10, 6, 2),                 # PE not a multiple of k: lanes span two pixels' channels
    thermometer(4, 3, 4, 12, 3),                 # the whole pixel per beat
    thermometer(1, 784, 1, 56, 1, cin=56),       # a flattened 28 x 28 image: the pixel in folds of PE/K
    sliding_window(3, 1, 1, 5, 6, 4, 2, 2),
    sliding_window(3, 2, 1, 7, 6, 2, 1, 2),      # odd size, stride 2
    sliding_window(2, 2, 0, 5, 5, 3, 3, 1),      # last row/column not covered
    sliding_window(1, 2, 0, 6, 5, 4, 4, 2),      # 1x1 stride 2: the buffer-free path
    mvu_threshold(3, 1, 1, 4, 4, 4, 8, 4, 4, 2, 2),    # NF=2, SF=9
    mvu_threshold(3, 2, 1, 5, 5, 3, 6, 3, 2, 8, 2),    # 8-bit input (CNV's first layer)
    mvu_threshold(3, 1, 0, 4, 4, 8, 4, 8, 4, 1, 1),    # 1-bit in and out, NF=1
    mvu_accumulate(1, 1, 0, 1, 1, 16, 10, 8, 5, 2),    # FC / classifier: a 1x1 map
    mvu_accumulate(3, 1, 1, 4, 3, 2, 4, 1, 1, 2, acc_bits=6),  # narrower than the worst case
    mvu_threshold(3, 1, 1, 4, 4, 4, 8, 4, 4, 2, 2, out_pe=1),  # serialized output: 4 beats per fold
    mvu_accumulate(3, 2, 1, 5, 5, 4, 8, 4, 8, 2, out_pe=2),    # 4 beats in SF=9 cycles, NF=1
    # multi-bit weights: B x IN_BITS binary branches (2-bit x 2-bit, 3-bit x 1-bit), heterogeneous
    # (masked) planes, and a 2-plane word wider than 64 bits
    mvu_threshold(3, 1, 1, 4, 4, 4, 8, 4, 4, 2, 2, w_bits=2),
    mvu_accumulate(3, 1, 1, 4, 3, 3, 4, 3, 2, 1, w_bits=3),
    mvu_threshold(3, 1, 1, 4, 4, 4, 8, 2, 2, 3, 2, w_bits=3, masked=True),
    mvu_accumulate(3, 2, 1, 5, 5, 8, 6, 8, 3, 4, w_bits=2, masked=True),
    mvu_accumulate(1, 1, 0, 1, 1, 48, 10, 48, 5, 2, w_bits=3, masked=True),
    # weights equal to 0 (Conv `zeros`): ternary -1/0/+1 (Brevitas' 2-bit), serialized, and zeros
    # beside unmasked and masked planes
    mvu_threshold(3, 1, 1, 4, 4, 4, 8, 4, 4, 2, 2, zeros=True),
    mvu_accumulate(3, 2, 1, 5, 5, 8, 6, 8, 3, 1, zeros=True, out_pe=1),
    mvu_accumulate(3, 1, 1, 4, 3, 3, 4, 3, 2, 2, w_bits=2, zeros=True),
    mvu_threshold(3, 1, 1, 4, 4, 4, 8, 2, 2, 3, 2, w_bits=3, masked=True, zeros=True),
    threshold(6, 8, 4, 10, 2),
    threshold(5, 6, 6, 6, 3, signed=False),
    add(6, 8, 4, 9, 7),
    add(4, 6, 2, 5, 8, a_signed=False),
    duplicate(5, 8, 4, 2, 2),
    weight_load(2, 5, 8), weight_load(3, 4, 64), weight_load(2, 3, 100), weight_load(1, 7, 130),
    duplicate(3, 3, 1, 12, 3),
    global_sum(16, 10, 5, 12),
    global_sum(9, 4, 4, 2, signed=False),
    max_pool(2, 2, 6, 6, 4, 2, 2),
    max_pool(3, 2, 7, 5, 2, 1, 2),               # overlapping windows
    width_convert(4, 12, 4, 2, 2),               # down
    width_convert(4, 12, 3, 6, 2),               # up
    width_convert(4, 12, 4, 6, 2),               # neither divides the other
    width_convert(4, 12, 6, 4, 3),
    axi_in(12, 1, 64),                           # 12 bytes: 2 words, the second half padding
    axi_in(5, 3, 64),                            # pixels straddle words
    axi_in(1, 784, 64, pe=56),                   # a flattened 28 x 28 image in folds of 56 bytes
    axi_out(10, 5, 20, 64),
    axi_out(10, 2, 12, 64, last_per_frame=True, frames=3),
]

SLOW: List[Case] = [
    thermometer(16, 3, 10, 30, 2, ern=True),
    thermometer(7, 2, 3, 1, 4, th_bits=12),
    thermometer(9, 3, 21, 7, 2, frames=3),
    thermometer(2, 12, 3, 6, 2, cin=2),          # IN*K = PE: one output beat per input beat
    thermometer(1, 12, 2, 2, 2, cin=2, frames=3),  # IN*K = 2 PE: two output beats per input beat
    sliding_window(5, 1, 2, 8, 7, 3, 1, 3),
    sliding_window(3, 3, 0, 9, 10, 2, 2, 2),     # K == S
    sliding_window(1, 1, 1, 4, 4, 2, 2, 2),      # 1x1 with padding: the line-buffer path
    sliding_window(3, 1, 0, 3, 3, 8, 4, 2),      # a single output pixel
    sliding_window(1, 1, 0, 4, 4, 8, 2, 2),      # identity
    sliding_window(4, 2, 1, 9, 8, 2, 2, 2),      # even kernel
    sliding_window(3, 2, 2, 6, 9, 4, 4, 1),
    sliding_window(2, 3, 0, 8, 8, 2, 1, 2),      # K < S with the line buffer
    sliding_window(3, 1, 1, 16, 16, 64, 32, 2),  # wide beats (64 bits)
    sliding_window(3, 1, 1, 2, 1, 4, 2, 2),      # a map smaller than the kernel
    mvu_threshold(3, 1, 1, 6, 6, 8, 16, 4, 4, 3, 4),
    mvu_threshold(3, 2, 1, 8, 8, 30, 16, 10, 8, 2, 2),    # after the thermometer
    mvu_threshold(3, 1, 1, 5, 5, 3, 8, 1, 1, 8, 3, frames=3),
    mvu_threshold(1, 1, 0, 3, 3, 80, 4, 80, 2, 2, 2),     # SIMD > 64
    mvu_accumulate(3, 2, 1, 7, 7, 16, 16, 16, 16, 2),     # fully parallel
    mvu_accumulate(3, 1, 1, 6, 6, 16, 16, 16, 16, 2, out_pe=2),  # BEATS = 8 <= SF = 9
    mvu_threshold(1, 1, 0, 3, 3, 8, 8, 2, 4, 2, 2, out_pe=1),    # BEATS = SF = 4: back to back
    mvu_accumulate(1, 2, 0, 6, 6, 8, 8, 2, 2, 2),         # 1x1 stride-2 shortcut
    mvu_accumulate(3, 1, 1, 8, 8, 64, 10, 64, 5, 2),      # classifier-like, 64 channels
    threshold(10, 16, 1, 16, 4),
    threshold(7, 12, 12, 5, 1),
    threshold(4, 8, 2, 30, 2),
    add(12, 16, 16, 20, 20),
    add(7, 9, 3, 3, 3, a_signed=False, b_signed=False),
    duplicate(16, 64, 32, 2, 2),
    global_sum(49, 10, 1, 15),
    global_sum(1, 6, 3, 8),
    max_pool(2, 2, 5, 5, 6, 3, 2),
    max_pool(1, 1, 4, 4, 4, 2, 3),
    max_pool(3, 1, 6, 6, 8, 8, 4),
    max_pool(2, 2, 16, 16, 64, 16, 2),
    width_convert(3, 12, 1, 12, 2),
    width_convert(3, 12, 12, 1, 2),
    width_convert(5, 6, 2, 3, 17),
    width_convert(5, 6, 3, 2, 5),
    width_convert(3, 8, 4, 4, 2),
    width_convert(2, 64, 32, 64, 2),
    axi_in(7, 3, 32),
    axi_in(9, 1, 8),
    axi_in(28 * 28, 1, 64),
    axi_in(32 * 32, 3, 64),
    axi_out(3, 3, 24, 32),
    axi_out(10, 10, 16, 128, lane_bits=16),
    axi_out(1000, 8, 18, 64, last_per_frame=True),
]
SLOW_IDS = {str(c) for c in SLOW}
assert len({str(c) for c in QUICK}) == len(QUICK) and len(SLOW_IDS) == len(SLOW), "duplicate case"


# ---------------------------------------------------------------------------------------------
# Build and run
# ---------------------------------------------------------------------------------------------

def case_table(cases: List[Case]) -> str:
    lines = [f'#include "tb_{op}.cpp"' for op in sorted({c.op for c in cases})]
    lines += [f"ERN_CASE({i}, {c.fn}, {c.template_args()})" for i, c in enumerate(cases)]
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=None)
def _tier_build(tier: str):
    """(executable, None) or (None, the build error): a failed build fails every case of the
    tier at once instead of being retried per case."""
    cases = QUICK if tier == "quick" else SLOW
    table = case_table(cases)
    table_dir = csim.CACHE_DIR / "tb_cases" / f"{tier}-{zlib.crc32(table.encode()):08x}"
    table_dir.mkdir(parents=True, exist_ok=True)
    (table_dir / "cases.inc").write_text(table)
    try:
        return csim.build([TB_DIR / "tb_main.cpp"], include_dirs=[table_dir, TB_DIR],
                          defines={"ERN_TB_CASES": '"cases.inc"'}, werror=True, extra_flags=TB_FLAGS,
                          depends=sorted(TB_DIR.glob("tb_*.cpp")), name=f"hls_lib_tb_{tier}"), None
    except csim.CsimError as e:
        return None, e


def tier_binary(tier: str) -> Path:
    """The test-bench executable holding every case of a tier (built once, cached by content)."""
    exe, error = _tier_build(tier)
    if error is not None:
        raise error
    return exe


class Bench:
    """One case's folder of int64 files and its run."""

    def __init__(self, case: Case, folder: Path):
        self.case, self.folder = case, folder

    def put(self, **arrays):
        for name, a in arrays.items():
            np.ascontiguousarray(a, dtype="<i8").tofile(self.folder / f"{name}.bin")

    def get(self, name: str) -> np.ndarray:
        return np.fromfile(self.folder / f"{name}.bin", dtype="<i8")

    def run(self):
        tier = "slow" if str(self.case) in SLOW_IDS else "quick"
        cases = SLOW if tier == "slow" else QUICK
        exe = tier_binary(tier)
        proc = csim.run(exe, [cases.index(self.case), self.folder, self.case.frames], timeout=60)
        # hls::stream's C model only warns when a layer reads an empty stream or leaves data.
        assert "WARNING" not in proc.stdout, proc.stdout[-2000:]


def assert_same(got: np.ndarray, want: np.ndarray, what: str = "out"):
    want = np.asarray(want).astype(np.int64)
    got = got.reshape(want.shape)
    if not np.array_equal(got, want):
        bad = np.argwhere(got != want)
        first = tuple(bad[0])
        raise AssertionError(f"{what}: {len(bad)} of {want.size} values differ; first at {first}: "
                             f"got {got[first]}, want {want[first]}")


def signed_range(bits: int) -> Tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def int_range(bits: int, signed: bool) -> Tuple[int, int]:
    return signed_range(bits) if signed else (0, levels(bits))


# ---------------------------------------------------------------------------------------------
# Drivers: random inputs -> bench -> golden (host.ops)
# ---------------------------------------------------------------------------------------------

def drive_thermometer(b: Bench, rng, d):
    n, pixels, c, k = b.case.frames, d["pixels"], d["c"], d["k"]
    x = rng.integers(0, 256, size=(n, 1, pixels, c))
    x[0, 0, 0, 0], x[-1, 0, -1, -1] = 0, 255
    nt = levels(d["out_bits"])
    if b.case.tag == "ern":
        # docs/ern.md: z_i = #{j in 1..2^l-1 : x >= s*(j*k - k + 1 + i)}, s = max(1, 255 // ((2^l-1)*k))
        s = max(1, 255 // (nt * k))
        t = np.array([[s * (j * k - k + 1 + i) for j in range(1, nt + 1)] for i in range(k)] * c)
    else:
        t = random_thresholds(rng, np.repeat(x, k, axis=3), c * k, nt, -3, 258)
    b.put(x=x, thresholds=fold_rows(t, d["pe"]))
    b.run()
    want = ops.thermometer(x.astype(np.uint8), t, k)
    if b.case.tag == "ern":  # the integer closed form of docs/ern.md, too
        z = [np.clip((x.astype(np.int64) + s * (k - 1 - i)) // (s * k), 0, nt) for i in range(k)]
        assert_same(want, np.stack(z, axis=4).reshape(want.shape), "ops.thermometer vs docs/ern.md")
    assert_same(b.get("out"), want)


def drive_sliding_window(b: Bench, rng, d):
    x = rng.integers(0, levels(d["bits"]) + 1, size=(b.case.frames, d["h"], d["w"], d["c"]))
    b.put(x=x)
    b.run()
    assert_same(b.get("out"), ops.im2col(x, d["k"], d["s"], d["p"]))


def drive_mvu(b: Bench, rng, d):
    k, s, p, c, cout = d["k"], d["s"], d["p"], d["c"], d["cout"]
    x = rng.integers(0, levels(d["in_bits"]) + 1, size=(b.case.frames, d["h"], d["w"], c))
    top = levels(d["w_bits"])
    # every nonzero weight of B planes when masked (per-weight bit counts 1..B), else the odd ones
    values = [v for v in range(-top, top + 1) if v and (d["masked"] or v % 2)]
    w = rng.choice(values, size=(cout, k * k * c))
    if d["zeros"]:   # a third of the weights 0 (ternary for B = 1)
        w = np.where(rng.random(w.shape) < 1 / 3, 0, w)
        assert 0 < np.mean(w == 0) < 1, "test data has no zero weight"
    if b.case.tag == "narrow":
        # An output stream narrower than the worst case (the lowering may bound it with the
        # actual weights): keep the sums inside it with 0/1 activations.
        x %= 2
    # the package's form (host.ops.conv_weight_params, the model's own, zeros included), unpacked
    attrs, packed = ops.conv_weight_params(w, d["w_bits"], d["masked"])
    assert bool(attrs.get("zeros")) == d["zeros"]
    conv = ops.Conv(kernel=k, stride=s, pad=p, in_bits=d["in_bits"], weight_bits=d["w_bits"], cols=k * k * c,
                    output="accumulator", **{a: v for a, v in attrs.items() if a != "weight_bits"})
    assert_same(conv.weight_matrix(packed), w, "host.ops weights")
    signs, masks = conv.planes(packed)
    if d["masked"]:
        assert 0 < masks.mean() < 1, "test data has no masked-off plane"
    nonzero = conv.nonzero(packed) if d["zeros"] else None
    params = {"x": x, "weights": fold_weight_planes(signs, masks, d["pe"], d["simd"], d["masked"], nonzero)}
    acc = ops.conv_accumulate(x, w, k, s, p)
    if b.case.fn == "run_mvu_threshold":
        bound = k * k * c * levels(d["in_bits"]) * top + 1
        direction = rng.choice([-1, 1], size=cout)
        t = random_thresholds(rng, acc * direction, cout, levels(d["out_bits"]), -bound, bound)
        b.put(thresholds=fold_rows(t, d["pe"]), direction=fold_rows(direction, d["pe"]), **params)
        b.run()
        assert_same(b.get("out"), ops.multi_threshold(acc, t, direction))
    else:
        lo, hi = signed_range(d["acc_bits"])
        assert lo <= acc.min() and acc.max() <= hi, "test data overflows acc_bits"
        b.put(**params)
        b.run()
        assert_same(b.get("out"), acc)


def drive_threshold(b: Bench, rng, d):
    c, lo, hi = d["c"], *int_range(d["in_bits"], d["signed"])
    x = rng.integers(lo, hi + 1, size=(b.case.frames, 1, d["pixels"], c))
    x.reshape(-1)[:2] = lo, hi
    direction = rng.choice([-1, 1], size=c)
    t = random_thresholds(rng, x * direction, c, levels(d["out_bits"]), -hi - 1, hi + 1)
    b.put(x=x, thresholds=fold_rows(t, d["pe"]), direction=fold_rows(direction, d["pe"]))
    b.run()
    assert_same(b.get("out"), ops.multi_threshold(x, t, direction))


def drive_add(b: Bench, rng, d):
    shape = (b.case.frames, 1, d["pixels"], d["c"])
    lo_a, hi_a = int_range(d["a_bits"], d["a_signed"])
    lo_b, hi_b = int_range(d["b_bits"], d["b_signed"])
    a, bb = rng.integers(lo_a, hi_a + 1, size=shape), rng.integers(lo_b, hi_b + 1, size=shape)
    a.reshape(-1)[:2], bb.reshape(-1)[:2] = (lo_a, hi_a), (lo_b, hi_b)
    b.put(a=a, b=bb)
    b.run()
    assert_same(b.get("out"), ops.add(a, bb))


def drive_duplicate(b: Bench, rng, d):
    x = rng.integers(0, levels(d["bits"]) + 1, size=(b.case.frames, d["pixels"], d["c"]))
    b.put(x=x)
    b.run()
    for i in range(d["copies"]):
        assert_same(b.get(f"out{i}"), x, f"out{i}")


def drive_global_sum(b: Bench, rng, d):
    lo, hi = int_range(d["in_bits"], d["signed"])
    x = rng.integers(lo, hi + 1, size=(b.case.frames, 1, d["pixels"], d["c"]))
    x[0], x[-1, :, :, 0] = hi, lo  # the extremes of the sum
    b.put(x=x)
    b.run()
    assert_same(b.get("out"), ops.global_sum(x))


def drive_max_pool(b: Bench, rng, d):
    x = rng.integers(0, levels(d["bits"]) + 1, size=(b.case.frames, d["h"], d["w"], d["c"]))
    b.put(x=x)
    b.run()
    assert_same(b.get("out"), ops.max_pool(x, d["k"], d["s"]))


def drive_width_convert(b: Bench, rng, d):
    x = rng.integers(0, levels(d["bits"]) + 1, size=(b.case.frames, d["pixels"], d["c"]))
    b.put(x=x)
    b.run()
    assert_same(b.get("out"), x)


def drive_axi_stream(b: Bench, rng, d):
    n = b.case.frames
    if b.case.fn == "run_axi_stream_in":
        per_word = d["axi_bits"] // 8
        x = rng.integers(0, 256, size=(n, d["pixels"] * d["c"]))
        words = -(-x.shape[1] // per_word)
        padded = np.full((n, words * per_word), 0xA5)  # padding bytes must be ignored
        padded[:, :x.shape[1]] = x
        b.put(bytes=padded)
        b.run()
        assert_same(b.get("pixels"), x, "pixels")
    else:
        c, lanes = d["c"], d["axi_bits"] // d["lane_bits"]
        lo, hi = signed_range(d["in_bits"])
        x = rng.integers(lo, hi + 1, size=(n, c))
        x.reshape(-1)[:2] = lo, hi
        b.put(x=x)
        b.run()
        words = -(-c // lanes)
        want = np.zeros((n, words * lanes), np.int64)
        want[:, :c] = x
        assert_same(b.get("data"), want, "data")
        last = np.zeros((n, words), np.int64)
        last[:, -1] = 1
        if not d["last_per_frame"]:
            last[:-1] = 0
        assert_same(b.get("last"), last, "last")
        assert b.get("keep_ok")[0] == 1, "TKEEP/TSTRB not all ones"


def drive_weight_load(b: Bench, rng, d):
    """Random W-bit elements -> the weight image (host/weights.py, the host's one writer of it)
    -> the loader -> the same elements."""
    from host.weights import element_words
    pe, tiles, bits = d["pe"], d["tiles"], d["w"]
    values = [[int.from_bytes(rng.bytes(-(-bits // 8)), "little") & ((1 << bits) - 1) for _ in range(tiles)]
              for _ in range(pe)]
    values[0][0] = (1 << bits) - 1   # every bit of the widest element set
    b.put(words=element_words(values, bits).view(np.int64))
    b.run()
    chunks = -(-bits // 64)
    want = [(v >> (64 * c)) & ((1 << 64) - 1) for row in values for v in row for c in range(chunks)]
    assert_same(b.get("w"), np.array(want, dtype=np.uint64).view(np.int64), "w")


DRIVERS: Dict[str, Callable] = {
    "thermometer": drive_thermometer, "sliding_window": drive_sliding_window, "mvu": drive_mvu,
    "threshold": drive_threshold, "add": drive_add, "duplicate": drive_duplicate,
    "global_sum": drive_global_sum, "max_pool": drive_max_pool, "width_convert": drive_width_convert,
    "axi_stream": drive_axi_stream, "weight_load": drive_weight_load,
}


def params_for(op: str):
    return ([pytest.param(c, id=str(c)) for c in QUICK if c.op == op] +
            [pytest.param(c, id=str(c), marks=pytest.mark.slow) for c in SLOW if c.op == op])


def check(case: Case, tmp_path: Path):
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))
    DRIVERS[case.op](Bench(case, tmp_path), rng, case.d)


# One test per header, parametrized over its cases.
@pytest.mark.parametrize("case", params_for("thermometer"))
def test_thermometer(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("sliding_window"))
def test_sliding_window(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("mvu"))
def test_mvu(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("threshold"))
def test_threshold(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("add"))
def test_add(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("duplicate"))
def test_duplicate(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("weight_load"))
def test_weight_load(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("global_sum"))
def test_global_sum(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("max_pool"))
def test_max_pool(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("width_convert"))
def test_width_convert(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize("case", params_for("axi_stream"))
def test_axi_stream(case, tmp_path):
    check(case, tmp_path)


# ---------------------------------------------------------------------------------------------
# The line buffer's C-simulation dependence guard (sliding_window.h, RingGuard)
# ---------------------------------------------------------------------------------------------

def test_window_guard_catches_a_false_raw_declaration(tmp_path):
    """K = S = 2: the window loads words right behind the read frontier, some stored in the
    previous iteration (6 per frame). With the shipped declaration (RAW kept) the bench passes;
    compiled with the test-only ERN_TEST_WINDOW_FALSE_RAW (the old `inter false`, which would let
    the scheduler hoist such a load above the store) the C-simulation guard must abort."""
    c = sliding_window(2, 2, 0, 5, 5, 3, 3, 1)
    table_dir = tmp_path / "table"
    table_dir.mkdir()
    (table_dir / "cases.inc").write_text(case_table([c]))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, size=(c.frames, 5, 5, 3))
    Bench(c, run_dir).put(x=x)
    results = {}
    for wrong in (False, True):
        defines = {"ERN_TB_CASES": '"cases.inc"', **({"ERN_TEST_WINDOW_FALSE_RAW": None} if wrong else {})}
        exe = csim.build([TB_DIR / "tb_main.cpp"], include_dirs=[table_dir, TB_DIR], defines=defines, werror=True,
                         extra_flags=TB_FLAGS, name=f"window_guard_{int(wrong)}", cache_dir=tmp_path)
        results[wrong] = csim.run(exe, [0, run_dir, c.frames], check=False, timeout=60)
    assert results[False].returncode == 0, results[False].stderr
    assert_same(Bench(c, run_dir).get("out"), ops.im2col(x, 2, 2, 0))
    assert results[True].returncode != 0
    assert "loads the word stored in the previous iteration while the RAW dependence is declared false" \
        in results[True].stderr


# ---------------------------------------------------------------------------------------------
# Library hygiene and the csim helper
# ---------------------------------------------------------------------------------------------

HEADERS = sorted(p.name for p in csim.LIB_DIR.glob("*.h"))


def test_every_header_has_a_test_bench():
    benches = {p.stem[len("tb_"):] for p in TB_DIR.glob("tb_*.cpp")} - {"main"}
    tested = {c.op for c in QUICK}
    assert benches == tested == set(DRIVERS)
    expected = {f"{op}.h" for op in tested} | {"common.h"}
    assert set(HEADERS) == expected, "a header without a test bench (or a bench without a header)"


def test_every_pipelined_loop_is_flushable():
    """style=flp on every PIPELINE pragma (hls/lib/README.md): the default stall style can
    deadlock at dataflow joins where the C semantics cannot."""
    pipelines = [(h, line.strip()) for h in HEADERS for line in (csim.LIB_DIR / h).read_text().splitlines()
                 if re.match(r"\s*#pragma HLS PIPELINE", line, re.I)]
    assert len(pipelines) >= 10
    assert [p for p in pipelines if "style=flp" not in p[1]] == []


def test_the_line_buffer_keeps_its_raw_dependence():
    """Outside the test-only ERN_TEST_WINDOW_FALSE_RAW branch, the ring's only inter dependence
    declared false is WAR."""
    text = (csim.LIB_DIR / "sliding_window.h").read_text()
    head, test_only = text.split("#ifdef ERN_TEST_WINDOW_FALSE_RAW\n", 1)
    assert "inter dependent=false" in test_only.split("#else", 1)[0]
    shipped = head + test_only.split("#else", 1)[1]
    inter = [line.strip() for line in shipped.splitlines() if "DEPENDENCE" in line and "type=inter" in line]
    assert inter == ["#pragma HLS DEPENDENCE variable=buf type=inter direction=WAR dependent=false"]


@pytest.mark.slow
@pytest.mark.parametrize("header", HEADERS)
def test_header_is_self_contained_and_warning_free(header, tmp_path):
    """Each header compiles on its own (includes what it uses), warning-free under -Wall -Wextra."""
    src = tmp_path / "one.cpp"
    src.write_text(f'#include "{header}"\nint main() {{ return 0; }}\n')
    csim.build([src], werror=True, extra_flags=TB_FLAGS, name="header_check", cache_dir=tmp_path)


def test_csim_cache_and_errors(tmp_path):
    good = tmp_path / "good.cpp"
    good.write_text("#include <ap_int.h>\n#include <cstdio>\n"
                    "int main() { ap_int<5> x = -3; ap_uint<70> y = 1; y <<= 69;\n"
                    "  std::printf(\"%d %d\\n\", x.to_int(), int(y[69])); return 0; }\n")
    exe = csim.build([good], name="good", cache_dir=tmp_path)
    assert csim.run(exe).stdout.split() == ["-3", "1"]
    assert csim.build([good], name="good", cache_dir=tmp_path) == exe  # a cache hit
    bad = tmp_path / "bad.cpp"
    bad.write_text("#error deliberately broken\n")
    with pytest.raises(csim.CsimError, match="deliberately broken"):
        csim.build([bad], name="bad", cache_dir=tmp_path)
    assert (csim.ap_types_dir() / "ap_int.h").is_file()
