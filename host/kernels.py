"""Fast exact kernels for the CPU reference: the integers of host.ops's golden functions, with
fewer floating-point operations.

`compile_layer(op, params, in_bounds)` turns one layer of a package into a function
`inputs -> outputs`, prepared once (weights unpacked, transformed and transposed; thresholds
clipped) instead of on every batch. Ops without a fast kernel run their golden `execute`.
host.reference uses these for `class_sums`/`logits`/`predict`; its `trace` keeps the golden ops.

Streams between fast kernels carry exact integers, possibly in a float dtype: a thresholded
Conv or a Threshold gives uint8 codes, an accumulator is float32 when its declared bounds are
within 2^24, float64 within 2^53, else int64. The executor converts the output to int64.

## Why the floats are exact
A float with a p-bit significand (p = 24 for float32, 53 for float64) holds every integer of
magnitude <= 2^p. BLAS adds the products of a dot product in an order of its own; if every
term is an integer and the sum of the terms' magnitudes is <= 2^p, every partial sum in any
order is an integer within 2^p, so each addition is exact and the result is the integer sum.

## Packed accumulators (the main saving: GEMMs with a half or a third of the columns)
A Conv's inputs are unsigned codes x in [0, X]. Write the integer weights as W = g * V - c with
V >= 0 integers (+-1 weights: V = (W + 1) / 2 in {0, 1}, g = 2, c = 1). Then
    acc[o] = W[o] . x = g * (V[o] . x) - c * sum(x),
and every term of V[o] . x is >= 0, so it lies in [0, span] with span = cols * X * max(V).
F = V . x values for several output channels fit in one float word: with a shift s such that
2^s > span, the word column sum_k 2^(s*k) V[o_k] gives the dot product
    S = sum_k 2^(s*k) F_k,   0 <= F_k <= span,
whose terms are all >= 0, so every partial sum lies in [0, S] and S <= span * sum_k 2^(s*k).
When that is <= 2^p the GEMM is exact, and the fields come back exactly: S's part below field k
is < 2^(s*k) (each lower field is < 2^s), so F_k = floor(S / 2^(s*k)) (division by a power of
two is exact) and subtracting F_k * 2^(s*k) (an integer <= S) is exact. For ern_tiny's
1152-column convs (span 1152 * 3 = 3456 < 2^12, s = 12: 3456 * (1 + 2^12) < 2^24) two channels
share a float32 word, so the GEMM has half the columns; 1x1 convs over 64 channels (span 192,
s = 8) put three in a word. The window sums sum(x) come from one more GEMM row of ones (terms
>= 0, sum <= cols * X, exact under the same bound).

Signed packing skips the offset form where one more bit per field still fits: the words hold
the weights W as they are, every |acc| <= bound = cols * X * max|W|, and with 2^s > 2 * bound
the part of S below field k lies strictly within +-2^(s*k - 1), so round-to-nearest of
S / 2^(s*k) is field k (no ties: the bound is strict). The partial sums' magnitudes stay
within bound * sum_k 2^(s*k) <= 2^p. ern_tiny's and cnv_w1a2's 576-column 3x3 convs
(bound 1728, s = 12: 1728 * (1 + 2^12) < 2^24) pack two channels this way.
"""
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from host import ops

Kernel = Callable[[List[np.ndarray]], List[np.ndarray]]

# Significand bits: every integer of magnitude <= 2^p is exact in the dtype.
SIGNIFICAND_BITS = {np.float32: 24, np.float64: 53}

# Dtypes the packed GEMM may use, cheapest multiply-add first. float64 is left out: it holds 4
# fields to float32's 2, but measured slower on whole networks (twice the bytes through every
# unpacking and threshold pass; benchmarks/bench_candidates.py --network), and the board's
# Cortex-A9 has no float64 NEON lanes at all.
PACKING_DTYPES = (np.float32,)

# Patch elements per chunk of the batch: the patches, the packed words and the accumulators of
# one chunk stay in cache between im2col, the GEMM, the unpacking and the thresholds.
PATCH_ELEMENTS_PER_CHUNK = ops.PATCH_ELEMENTS_PER_CHUNK


def exact_dtype(magnitude: int):
    """The narrowest of float32, float64, int64 that holds every integer within +-magnitude."""
    for dtype in (np.float32, np.float64):
        if magnitude <= 2 ** SIGNIFICAND_BITS[dtype]:
            return dtype
    return np.int64


# ---------------------------------------------------------------------------------------------
# Packed accumulators: planning, packing the weights, unpacking the words
# ---------------------------------------------------------------------------------------------

class Packing(NamedTuple):
    """`fields` accumulators per word of `dtype`, field k weighted 2^(shift*k): non-negative
    ones (each < 2^shift), or signed ones (each of magnitude < 2^(shift-1))."""
    dtype: Any
    fields: int
    shift: int
    signed: bool = False


def largest_word(span: int, packing: Packing) -> int:
    """The largest word: every field at span."""
    return span * sum(1 << (packing.shift * k) for k in range(packing.fields))


def plan_packing(span: int, dtypes: Optional[Sequence[Any]] = None,
                 signed: bool = False) -> Optional[Packing]:
    """The most fields per word for dot products whose terms are >= 0 and sum to <= span (or,
    signed, whose terms' magnitudes sum to <= span), in the first dtype (cheapest first) that
    holds at least two; None when none does (packing would not save anything)."""
    # 2^shift > span: a field never carries into the next one. Signed: 2^shift > 2 * span, so
    # everything below field k lies strictly within +-2^(shift*k - 1) and rounds away.
    shift = max(1, int(2 * span if signed else span).bit_length())
    for dtype in PACKING_DTYPES if dtypes is None else dtypes:   # the module's, when it is called
        fields = 1
        while largest_word(span, Packing(dtype, fields + 1, shift)) <= 2 ** SIGNIFICAND_BITS[dtype]:
            fields += 1
        if fields >= 2:
            return Packing(dtype, fields, shift, signed)
    return None


def offset_form(w: np.ndarray) -> Tuple[np.ndarray, int, int]:
    """(V, g, c) with w = g * V - c, V >= 0 integers and g as large as possible (so V, and the
    span of V . x, is as small as possible). +-1 weights give V = (w + 1) / 2, g = 2, c = 1."""
    w = np.asarray(w).astype(np.int64)
    c = max(0, -int(w.min())) if w.size else 0
    shifted = w + c
    g = int(np.gcd.reduce(shifted.ravel())) if shifted.size else 0
    g = max(g, 1)   # all shifted weights 0 (every weight equal to the smallest)
    return shifted // g, g, c


def pack_words(v: np.ndarray, packing: Packing) -> np.ndarray:
    """The (slots, cols) GEMM matrix of words: word j holds channel k * slots + j in field k, so
    field k of every word unpacks into the contiguous channel block k*slots .. (k+1)*slots."""
    c_out, cols = v.shape
    slots = -(-c_out // packing.fields)
    padded = np.zeros((packing.fields * slots, cols), np.int64)   # spare channels: zero weights
    padded[:c_out] = v
    words = np.zeros((slots, cols), np.int64)
    for k in range(packing.fields):
        words += padded[k * slots:(k + 1) * slots] << (packing.shift * k)
    return words.astype(packing.dtype)   # exact: every word is <= largest_word <= 2^p


def unpack_fields(words: np.ndarray, packing: Packing, out: np.ndarray) -> np.ndarray:
    """Field k of words (slots, rows) into the block out[k*slots:(k+1)*slots] (out has
    fields * slots rows, the words' dtype); consumes `words`. Top field first: the fields below
    field k add up to less than 2^(shift*k) (signed: to a magnitude below 2^(shift*k - 1)), so
    floor (signed: round to nearest) of rest / 2^(shift*k) is field k."""
    slots = words.shape[0]
    rest = words
    for k in range(packing.fields - 1, 0, -1):
        scale = float(1 << (packing.shift * k))
        top = out[k * slots:(k + 1) * slots]
        np.multiply(rest, 1.0 / scale, out=top)   # exact: a power of two
        (np.rint if packing.signed else np.floor)(top, out=top)
        rest -= top * scale                       # exact: integers <= rest
    out[:slots] = rest
    return out


# ---------------------------------------------------------------------------------------------
# Conv
# ---------------------------------------------------------------------------------------------

# Packing saves GEMM work in proportion to the fan-in (cols) and costs a fixed few array passes
# per accumulator (unpacking, g * F - c * sum(x)). Below this many columns per group it does
# not pay (measured on cnv_w1a2's first conv, cols = 9: 2x slower packed).
MIN_PACKED_COLS = 32


class PackedPlan(NamedTuple):
    """The packed GEMM of one Conv: the columns split into `groups` equal contiguous ranges
    (the last may be shorter), each small enough that its dot products pack `packing.fields` to
    a word; one GEMM and one unpacking per group, the groups' accumulators added."""
    packing: Packing
    groups: int


def plan_conv(cols: int, term_max: int, signed_term_max: int = 0,
              dtypes: Optional[Sequence[Any]] = None) -> Optional[PackedPlan]:
    """The fewest column groups whose dot products pack >= 2 to a word, or None when that needs
    groups narrower than MIN_PACKED_COLS: non-negative ones (terms in [0, term_max], the offset
    form) or signed ones (|terms| <= signed_term_max, the weights as they are; 0: not tried).
    Signed wins a tie: it needs no sum(x) row and no offset pass, but one more bit per field
    (ern_tiny's 576-column convs: 2 fields either way). One group is the whole fan-in; two halve
    it, so ern_tiny's 2304-column conv packs 2 to a float32 word in two GEMMs of 1152 columns:
    the same multiply-adds as one packed GEMM, and one more unpacking."""
    if term_max < 1:
        return None   # every V is 0: nothing to pack
    groups = 1
    while -(-cols // groups) >= MIN_PACKED_COLS:
        width = -(-cols // groups)
        offset = plan_packing(width * term_max, dtypes)
        signed = plan_packing(width * signed_term_max, dtypes, signed=True) if signed_term_max else None
        if signed is not None and (offset is None or signed.fields >= offset.fields):
            return PackedPlan(signed, groups)
        if offset is not None:
            return PackedPlan(offset, groups)
        groups += 1
    return None


class ConvKernel:
    """One Conv layer, prepared: thresholded codes (uint8) or accumulators, exactly as
    ops.conv_threshold / ops.conv_accumulate, for inputs within in_bounds (the declared stream
    bounds, which the package's loader has checked against the producers' worst cases).

    Packed (plan_conv found a plan): per column group, one GEMM of word columns plus a row of
    ones (sum(x) over the group's part of the window, 1/slots more work), the fields unpacked;
    acc = g * sum_groups F - c * sum_groups sum(x). Otherwise one GEMM of the signed weights in
    the cheapest exact dtype, as ops.conv_accumulate. Everything runs channel-major (C_out, rows)
    per chunk of the batch, and the result is written channel-last once."""

    def __init__(self, w: np.ndarray, kernel: int, stride: int, pad: int, in_bounds: ops.Bounds,
                 thresholds: Optional[np.ndarray] = None, direction: Optional[np.ndarray] = None):
        lo, hi = in_bounds
        if lo < 0:
            raise ValueError(f"ConvKernel: inputs must be unsigned codes, bounds are [{lo}, {hi}]")
        self.kernel, self.stride, self.pad = kernel, stride, pad
        w = np.asarray(w).astype(np.int64)
        if thresholds is not None:
            # direction[o] * (W[o] . x) = (direction[o] * W[o]) . x: the direction is in the signs.
            w = w * np.asarray(direction).astype(np.int64)[:, None]
        self.c_out, self.cols = w.shape
        # |acc| <= cols * hi * max|W|: the sum of the terms' magnitudes, the exactness bound.
        self.bound = self.cols * hi * int(np.abs(w).max(initial=0))
        v, self.g, self.c = offset_form(w)
        v_max = int(v.max(initial=0))
        self.plan = plan_conv(self.cols, hi * v_max, hi * int(np.abs(w).max(initial=0)))
        if self.plan is not None and not self._plan_fits(hi, v_max):
            self.plan = None
        if self.plan is not None and self.plan.packing.signed:   # the weights as they are
            self.dtype = self.plan.packing.dtype
            self.ranges = column_ranges(self.cols, self.plan.groups)
            self.matrices = [pack_words(w[:, a:b], self.plan.packing) for a, b in self.ranges]
        elif self.plan is not None:   # the offset form, plus a row of ones for sum(x)
            self.dtype = self.plan.packing.dtype
            self.ranges = column_ranges(self.cols, self.plan.groups)
            ones = np.ones((1, self.cols), np.int64)
            self.matrices = [np.vstack([pack_words(v[:, a:b], self.plan.packing), ones[:, a:b]])
                             .astype(self.dtype) for a, b in self.ranges]
        else:   # one accumulator per column: the signed weights, as ops.conv_accumulate
            self.dtype = ops.exact_matmul_dtype(self.bound)
            self.ranges = [(0, self.cols)]
            self.matrices = [w.astype(self.dtype)]
        self.limits = None
        self.out_dtype = self.dtype
        if thresholds is not None:
            # No accumulator lies outside [-bound, bound]: clipping keeps every comparison and
            # makes both ends exact in the accumulators' dtype.
            clipped = np.clip(np.asarray(thresholds).astype(np.int64), -self.bound, self.bound + 1)
            self.limits = clipped.astype(self.dtype)[:, :, None]   # (C_out, levels, 1): per row
            self.out_dtype = np.uint8 if clipped.shape[1] < 256 else np.int32

    def _plan_fits(self, hi: int, v_max: int) -> bool:
        """Every value besides the words exact in the packing dtype: the clipped thresholds
        (bound + 1) and, in the offset form, the summed fields g * F (<= g * cols * hi * v_max)
        and c * sum(x), whose difference is acc (within bound, so exact too)."""
        top = 2 ** SIGNIFICAND_BITS[self.plan.packing.dtype]
        if self.bound + 1 > top:
            return False
        window = self.cols * hi   # the largest sum(x)
        return self.plan.packing.signed or (self.g * window * v_max <= top and self.c * window <= top)

    def __call__(self, inputs: List[np.ndarray]) -> List[np.ndarray]:
        x = inputs[0]
        n, h, w, _ = x.shape
        ho = ops.conv_output_size(h, self.kernel, self.stride, self.pad)
        wo = ops.conv_output_size(w, self.kernel, self.stride, self.pad)
        out = np.empty((n, ho, wo, self.c_out), self.out_dtype)
        step = max(1, PATCH_ELEMENTS_PER_CHUNK // (ho * wo * self.cols))
        for start in range(0, n, step):
            part = x[start:start + step]
            patches = ops.im2col(part, self.kernel, self.stride, self.pad, dtype=self.dtype)
            acc = self._accumulate(patches.reshape(-1, self.cols))   # (C_out, rows)
            if self.limits is not None:   # codes channel-major, then one transposing copy
                acc = count_reached_into(acc, self.limits, np.empty(acc.shape, self.out_dtype))
            out[start:start + len(part)].reshape(-1, self.c_out).T[...] = acc
        return [out]

    def _accumulate(self, patches: np.ndarray) -> np.ndarray:
        """acc of one chunk, channel-major (C_out, rows), in self.dtype. Channel-major because
        every per-channel operation (unpacking a field, comparing with a channel's thresholds)
        then runs along whole contiguous rows: broadcasting a (C_out,) vector along a short
        last axis is measured 2-3x slower in numpy."""
        if self.plan is None:   # (few columns, mostly: BLAS is memory-bound and the copy would cost)
            return self.matrices[0] @ patches.T
        signed = self.plan.packing.signed
        acc, sums = None, None
        for (a, b), matrix in zip(self.ranges, self.matrices):
            words = channel_major_product(patches[:, a:b], matrix)
            slots = len(words) - (0 if signed else 1)   # offset form: the last row is sum(x)
            unpacked = np.empty((slots * self.plan.packing.fields, words.shape[1]), self.dtype)
            fields = unpack_fields(words[:slots], self.plan.packing, unpacked)[:self.c_out]
            acc = fields if acc is None else np.add(acc, fields, out=acc)
            if not signed:
                sums = words[-1] if sums is None else np.add(sums, words[-1], out=sums)
        if signed:
            return acc
        if self.g != 1:
            acc *= self.g
        if self.c:
            acc -= sums if self.c == 1 else sums * self.c
        return acc


def channel_major_product(patches: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """matrix @ patches.T, (C, rows) contiguous. BLAS computes it row-major (patches @ matrix.T)
    and numpy transposes the copy: measured ~10% faster than asking BLAS for matrix @ patches.T
    on ern_tiny's 3x3 layers (OpenBLAS 0.3.23, 1 thread), copy included; but 10% slower on
    cnv_w1a2's 9-column first conv, so only the packed path uses it."""
    return np.ascontiguousarray((patches @ matrix.T).T)


def column_ranges(cols: int, groups: int) -> List[Tuple[int, int]]:
    """`groups` contiguous ranges covering 0..cols, all of the same width but the last."""
    width = -(-cols // groups)
    return [(a, min(cols, a + width)) for a in range(0, cols, width)]


def count_reached_into(values: np.ndarray, limits: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[...] = #{j : values >= limits[:, j]}, ops.count_reached written in place, for limits
    shaped to broadcast against values with j as axis 1 (channel-major: (C, levels, 1))."""
    out[...] = 0
    for j in range(limits.shape[1]):
        out += values >= limits[:, j]
    return out


# ---------------------------------------------------------------------------------------------
# The integer ops around the convs, on streams that may carry floats
# ---------------------------------------------------------------------------------------------

def magnitude(bounds: ops.Bounds) -> int:
    lo, hi = bounds
    return max(abs(int(lo)), abs(int(hi)))


def add_kernel(in_bounds: Sequence[ops.Bounds], out_bounds: ops.Bounds) -> Kernel:
    """ops.add in the narrowest dtype exact for both inputs and the sum, by their declared
    bounds (float32 for ern_tiny's residual stream: no int64 conversion of either input)."""
    dtype = exact_dtype(max(magnitude(b) for b in list(in_bounds) + [out_bounds]))

    def run(inputs):
        a, b = inputs
        return [np.add(a.astype(dtype, copy=False), b.astype(dtype, copy=False))]
    return run


def threshold_kernel(thresholds: np.ndarray, direction: np.ndarray, in_bounds: ops.Bounds) -> Kernel:
    """ops.multi_threshold for an input within in_bounds, in the input's own dtype when that is
    a float: direction * acc is exact (a sign flip), and the thresholds are clipped to
    [-bound, bound + 1], integers the float holds exactly, without changing any comparison."""
    bound = magnitude(in_bounds)
    clipped = np.clip(np.asarray(thresholds).astype(np.int64), -bound, bound + 1)
    signs = np.asarray(direction).astype(np.int8)
    levels = clipped.shape[1]

    def run(inputs):
        x = inputs[0]
        if x.dtype.kind != "f" or bound + 1 > 2 ** SIGNIFICAND_BITS[x.dtype.type]:
            return [ops.multi_threshold(x, thresholds, direction)]
        seen = x * signs.astype(x.dtype)
        codes = np.empty(x.shape, np.uint8 if levels < 256 else np.int32)
        return [count_reached_into(seen, clipped.astype(x.dtype), codes)]
    return run


def global_sum_kernel(inputs: List[np.ndarray]) -> List[np.ndarray]:
    """ops.global_sum on integers carried by any dtype: converted to int64 first (the map is
    small at this point, and the class sums are int64 by contract)."""
    return [ops.global_sum(inputs[0].astype(np.int64))]


def conv_kernel(op: "ops.Conv", params: Dict[str, np.ndarray], in_bounds: ops.Bounds) -> Kernel:
    thresholds = params["thresholds"] if op.thresholded else None
    direction = params["direction"] if op.thresholded else None
    return ConvKernel(op.weight_matrix(params), op.kernel, op.stride, op.pad, in_bounds,
                      thresholds, direction)


def compile_layer(op: "ops.Op", params: Dict[str, np.ndarray], in_bounds: Sequence[ops.Bounds],
                  out_bounds: Sequence[ops.Bounds]) -> Kernel:
    """The layer as a prepared function inputs -> outputs. Ops without a fast kernel run their
    golden execute, which accepts integers in any dtype."""
    if isinstance(op, ops.Conv):
        return conv_kernel(op, params, in_bounds[0])
    if isinstance(op, ops.Add):
        return add_kernel(in_bounds, out_bounds[0])
    if isinstance(op, ops.Threshold):
        return threshold_kernel(params["thresholds"], params["direction"], in_bounds[0])
    if isinstance(op, ops.GlobalSum):
        return global_sum_kernel
    return lambda inputs: op.execute(inputs, params)
