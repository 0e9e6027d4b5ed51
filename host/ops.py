"""The dataflow ops of the model package (host/FORMAT.md): golden numpy functions and op classes.

Two levels:

- Module-level functions (`thermometer`, `conv_accumulate`, `multi_threshold`, ...): pure numpy on
  batched integer arrays `N x H x W x C`. The HLS test benches import them as golden models, so
  their names and signatures are part of the contract.
- One small class per op (`Thermometer`, `Conv`, ...), registered by its op name in `OPS`. Its
  dataclass fields are the op's declared attributes (the `model.json` schema of that op); its
  methods give the shape rule, the param shapes, the output bounds and `execute`. The package
  loader, the builder and the reference executor talk only to this interface, so adding an op
  means adding one class here, never editing a switch elsewhere.

Dtypes: codes (Thermometer, threshold outputs) are uint8, accumulators and sums int64.
Ops never modify their inputs (Duplicate hands the same array to every consumer).

Runs on the board: Python 3.10, numpy >= 1.21, nothing else.
"""
import dataclasses
from typing import Any, ClassVar, Dict, List, NamedTuple, Optional, Sequence, Tuple, Type

import numpy as np
from numpy.lib.stride_tricks import as_strided

from host.errors import ErnError

Shape = Tuple[int, int, int]  # H, W, C of one feature map
Bounds = Tuple[int, int]  # worst-case (min, max) of the integers on a stream

# float32 holds every integer of magnitude <= 2^24 exactly, float64 every one <= 2^53.
# A dot product of integers whose sum of |terms| stays within that bound is exact in BLAS:
# every partial sum, in whatever order BLAS adds, is an integer no larger than that bound.
FLOAT32_EXACT = 2 ** 24
FLOAT64_EXACT = 2 ** 53

# im2col patches are built per slice of the batch of about this many elements (2 MB as float32),
# so memory stays bounded whatever the batch size and the patches stay in cache between im2col
# and the GEMM (measured: 2^19 as fast as or faster than 2^20..2^24 on ern_tiny's layers).
PATCH_ELEMENTS_PER_CHUNK = 1 << 19


class OpError(ErnError, ValueError):
    """What is wrong with one op's attributes, params or shapes (without the layer's name;
    host.package adds the layer and the file)."""


# ---------------------------------------------------------------------------------------------
# Golden functions
# ---------------------------------------------------------------------------------------------

def _require_4d(name: str, x: np.ndarray) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a batch N x H x W x C, got shape {x.shape}")


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output length of a sliding window along one axis: (size + 2*pad - kernel) // stride + 1."""
    out = (size + 2 * pad - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel}-wide window with pad {pad} does not fit in {size} pixels")
    return out


def count_reached(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """codes[..., c] = #{j : values[..., c] >= thresholds[c, j]} (uint8 when it fits).

    One vectorised comparison per threshold column over the whole array: there are only
    2^bits - 1 columns (3 for 2-bit codes).
    """
    levels = thresholds.shape[1]
    codes = np.zeros(values.shape, np.uint8 if levels < 256 else np.int32)
    for j in range(levels):
        codes += values >= thresholds[:, j]
    return codes


def thermometer(x: np.ndarray, thresholds: np.ndarray, k: int) -> np.ndarray:
    """Pixel embedding: out[..., o] = #{j : x[..., o // k] >= thresholds[o, j]}.

    x: uint8 N x H x W x C; thresholds: (C*k, n). Returns uint8 codes N x H x W x (C*k),
    colour-major (R0..R(k-1), G0.., B0..).
    """
    x = np.asarray(x)
    thresholds = np.asarray(thresholds)
    _require_4d("thermometer", x)
    if x.dtype != np.uint8:
        raise ValueError(f"thermometer: pixels must be uint8, got {x.dtype}")
    channels = x.shape[3]
    if thresholds.ndim != 2 or thresholds.shape[0] != channels * k:
        raise ValueError(f"thermometer: thresholds must be ({channels * k}, n) for "
                         f"{channels} channels and k={k}, got {thresholds.shape}")
    # A pixel has only 256 values: tabulate the codes of each (the definition, applied once per
    # value), then look every pixel up. Measured ~4x faster than comparing every pixel k*n times.
    values = np.repeat(np.arange(256)[:, None], channels * k, axis=1)  # (256, C*k)
    table = count_reached(values, thresholds)
    codes = np.empty(x.shape[:3] + (channels * k,), table.dtype)
    for c in range(channels):
        codes[..., c * k:(c + 1) * k] = table[:, c * k:(c + 1) * k][x[..., c]]
    return codes


def unpack_weights(packed: np.ndarray, cols: int) -> np.ndarray:
    """The (C_out, cols) int8 matrix of +-1 from bits packed little-endian per row (1 = +1)."""
    packed = np.asarray(packed, dtype=np.uint8)
    if packed.ndim != 2 or packed.shape[1] != (cols + 7) // 8:
        raise ValueError(f"unpack_weights: {cols} columns pack into (C_out, {(cols + 7) // 8}) "
                         f"bytes, got {packed.shape}")
    bits = np.unpackbits(packed, axis=1, count=cols, bitorder="little")
    return bits.astype(np.int8) * 2 - 1


def pack_weights(w_pm1: np.ndarray) -> np.ndarray:
    """Pack a (C_out, cols) matrix of +-1 into uint8 rows, bit 1 = +1, little bit order."""
    w = np.asarray(w_pm1)
    if w.ndim != 2:
        raise ValueError(f"pack_weights: expected a (C_out, cols) matrix, got shape {w.shape}")
    if not np.all((w == 1) | (w == -1)):
        raise ValueError("pack_weights: weights must all be +1 or -1")
    return np.packbits(w > 0, axis=1, bitorder="little")


MAX_WEIGHT_BITS = 3  # planes of a multi-bit weight (heterogeneous binarization: 1..3 bits)


def plane_weight(b: int, weight_bits: int) -> int:
    """The integer weight of sign plane b of a weight_bits-plane weight: 2^(weight_bits-1-b)
    (plane 0 is the most significant: residual binarization's first, largest step)."""
    return 1 << (weight_bits - 1 - b)


def weight_matrix(signs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The integer weights W = sum_b 2^(B-1-b) * masks[b] * signs[b] (int8, (C_out, cols)).

    signs: (B, C_out, cols) of +-1; masks: (B, C_out, cols) of 0/1, masks[0] all ones and
    nested (a weight with M bits uses planes 0..M-1). B = 1: W = signs[0], the +-1 weights."""
    signs = np.asarray(signs)
    masks = np.asarray(masks)
    bits = signs.shape[0]
    w = np.zeros(signs.shape[1:], np.int8)
    for b in range(bits):
        w += (plane_weight(b, bits) * masks[b] * signs[b]).astype(np.int8)
    return w


def decompose_weights(w: np.ndarray, weight_bits: int) -> Tuple[np.ndarray, np.ndarray]:
    """(signs, masks) with weight_matrix(signs, masks) == w: the {-1,+1} decomposition of
    integer weights, each a sum of its top M planes (M = weight_bits - trailing zeros of |w|).

    Every nonzero integer |w| <= 2^B - 1 has exactly one such form (the odd multiples of
    2^(B-M) are the sums of M planes), so the package can be written from the integers alone.
    Where a plane is masked off its sign is -1 (packed bit 0: the canonical form)."""
    w = np.asarray(w).astype(np.int64)
    top = 2 ** weight_bits - 1
    if w.size and (np.any(w == 0) or np.abs(w).max() > top):
        bad = tuple(int(i) for i in np.argwhere((w == 0) | (np.abs(w) > top))[0])
        raise ValueError(f"decompose_weights: weight {int(w[bad])} at {bad} is not a nonzero "
                         f"integer within +-{top} ({weight_bits} planes)")
    rest = w.copy()
    signs = -np.ones((weight_bits,) + w.shape, np.int8)
    masks = np.zeros((weight_bits,) + w.shape, np.uint8)
    for b in range(weight_bits):
        used = rest != 0   # once the residual is 0, the lower planes are off (nested masks)
        sign = np.where(rest > 0, 1, -1)
        signs[b] = np.where(used, sign, -1)
        masks[b] = used
        rest -= used * sign * plane_weight(b, weight_bits)
    return signs, masks


def conv_weight_params(w: np.ndarray, weight_bits: int, masked: Optional[bool] = None
                       ) -> Tuple[Dict[str, int], Dict[str, np.ndarray]]:
    """(attributes, params) of FORMAT.md's Conv for the integer weights w (C_out, cols): the
    inverse of Conv.planes. `weights` holds plane 0, `weight_planes` planes 1..B-1 and, when
    masked (default: when some nonzero weight has fewer than B planes), `weight_masks` their
    masks. Weights equal to 0 (ternary, Brevitas' narrow 2-bit) add `zeros` = 1 and the
    `weight_nonzero` mask; their sign and mask bits are written 0."""
    w = np.asarray(w)
    nonzero = w != 0
    has_zeros = not np.all(nonzero)
    signs, masks = decompose_weights(np.where(nonzero, w, 1 << (weight_bits - 1)), weight_bits)
    if has_zeros:
        signs[:, ~nonzero] = -1
        masks[1:, ~nonzero] = 0
    if masked is None:
        masked = not np.all(masks[:, nonzero])
    attrs = {"weight_bits": weight_bits, **({"masked": 1} if masked else {}),
             **({"zeros": 1} if has_zeros else {})}
    params = {"weights": pack_weights(signs[0])}
    if weight_bits > 1:
        params["weight_planes"] = np.stack([pack_weights(p) for p in signs[1:]])
    if masked:
        params["weight_masks"] = np.stack([np.packbits(m, axis=1, bitorder="little") for m in masks[1:]])
    if has_zeros:
        params["weight_nonzero"] = np.packbits(nonzero, axis=1, bitorder="little")
    return attrs, params


def bit_plane_accumulate(x: np.ndarray, signs: np.ndarray, masks: np.ndarray, in_bits: int,
                         kernel: int, stride: int, pad: int) -> np.ndarray:
    """conv_accumulate computed the way hls/lib/mvu.h does: as B x in_bits binary branches.

    With weight planes (sign bit w_b = (s_b + 1)/2, mask m_b) and activation bit planes a_p:
      acc = sum_b sum_p 2^(B-1-b) 2^p (2*popcount(w_b & m_b & a_p) - popcount(m_b & a_p)),
    one AND/popcount branch per (weight plane, activation plane) pair and no multiplier. Equal
    to conv_accumulate(x, weight_matrix(signs, masks), ...) (tests/test_host_ops.py)."""
    x = np.asarray(x).astype(np.int64)
    bits = signs.shape[0]
    patches = im2col(x, kernel, stride, pad)
    acc = np.zeros(patches.shape[:3] + (signs.shape[1],), np.int64)
    for p in range(in_bits):
        a_p = (patches >> p) & 1
        for b in range(bits):
            w_bits = ((signs[b] > 0) & (masks[b] > 0)).astype(np.int64)
            m_bits = (masks[b] > 0).astype(np.int64)
            branch = 2 * (a_p @ w_bits.T) - a_p @ m_bits.T
            acc += plane_weight(b, bits) * (1 << p) * branch
    return acc


def im2col(x: np.ndarray, kernel: int, stride: int, pad: int, dtype=None) -> np.ndarray:
    """Sliding-window patches: (N, Ho, Wo, K*K*C), column (ky*K + kx)*C + c, zero padding.

    `dtype` converts while padding (the input is small; the patches are K*K times larger).
    """
    x = np.asarray(x)
    _require_4d("im2col", x)
    n, h, w, c = x.shape
    ho = conv_output_size(h, kernel, stride, pad)
    wo = conv_output_size(w, kernel, stride, pad)
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad, c), dtype or x.dtype)
    padded[:, pad:pad + h, pad:pad + w, :] = x
    # A read-only view (N, Ho, Wo, K, K, C) of every window; reshaping it copies the patches
    # in one pass, in exactly the column order (ky, kx, c). Measured 2-4x faster than K*K
    # strided slice copies.
    sn, sh, sw, sc = padded.strides
    windows = as_strided(padded, (n, ho, wo, kernel, kernel, c),
                         (sn, sh * stride, sw * stride, sh, sw, sc), writeable=False)
    return windows.reshape(n, ho, wo, kernel * kernel * c)


def exact_matmul_dtype(abs_sum_bound: int):
    """The cheapest dtype whose BLAS matmul is exact for dot products bounded by abs_sum_bound:
    float32, float64, or int64 (numpy's own loop: exact but slow). Strict bounds, so that
    bound + 1 is representable too (conv_threshold compares against it)."""
    if abs_sum_bound < FLOAT32_EXACT:
        return np.float32
    if abs_sum_bound < FLOAT64_EXACT:
        return np.float64
    return np.int64


def _max_magnitude(x: np.ndarray) -> int:
    if x.size == 0:
        return 0
    return max(abs(int(x.min())), abs(int(x.max())))


def _sliding_product(x: np.ndarray, w: np.ndarray, kernel: int, stride: int, pad: int,
                     name: str) -> Tuple[np.ndarray, int]:
    """The accumulators (N, Ho, Wo, C_out), exact, in the dtype exact_matmul_dtype picks, and
    the bound cols * max|x| * max|w| that no partial sum exceeds."""
    _require_4d(name, x)
    n, h, width, c = x.shape
    cols = kernel * kernel * c
    if w.ndim != 2 or w.shape[1] != cols:
        raise ValueError(f"{name}: weights must be (C_out, {cols}) for a {kernel}x{kernel} "
                         f"kernel over {c} channels, got {w.shape}")
    bound = cols * _max_magnitude(x) * _max_magnitude(w)
    dtype = exact_matmul_dtype(bound)
    ho = conv_output_size(h, kernel, stride, pad)
    wo = conv_output_size(width, kernel, stride, pad)
    weights_t = np.ascontiguousarray(w.T, dtype=dtype)  # (cols, C_out)
    product = np.empty((n, ho, wo, w.shape[0]), dtype)
    images_per_chunk = max(1, PATCH_ELEMENTS_PER_CHUNK // (ho * wo * cols))
    for start in range(0, n, images_per_chunk):
        stop = min(n, start + images_per_chunk)
        patches = im2col(x[start:stop], kernel, stride, pad, dtype=dtype)
        # One 2-D GEMM per chunk (a 4-D @ 2-D would loop over the leading axes), written in
        # place: a slice along the batch axis of a C-contiguous array is contiguous.
        np.matmul(patches.reshape(-1, cols), weights_t, out=product[start:stop].reshape(-1, w.shape[0]))
    return product, bound


def conv_accumulate(x: np.ndarray, w_pm1: np.ndarray, kernel: int, stride: int,
                    pad: int) -> np.ndarray:
    """acc[n, y, x, o] = sum_{ky,kx,c} W[o, (ky*K+kx)*C+c] * x[n, y*S+ky-P, x*S+kx-P, c].

    x: integer N x H x W x C (outside reads 0); w_pm1: (C_out, K*K*C) of +-1.
    Returns int64 N x Ho x Wo x C_out, exact: the matmul runs in float32 while every partial
    sum is bounded by 2^24 (cols * max|x|), else in float64 (2^53), else in int64.
    """
    product, _ = _sliding_product(np.asarray(x), np.asarray(w_pm1), kernel, stride, pad,
                                  "conv_accumulate")
    return product.astype(np.int64, copy=False)


def _check_threshold_params(name: str, channels: int, thresholds: np.ndarray,
                            direction: np.ndarray) -> None:
    if thresholds.ndim != 2 or thresholds.shape[0] != channels or direction.shape != (channels,):
        raise ValueError(f"{name}: {channels} channels need thresholds ({channels}, n) "
                         f"and direction ({channels},), got {thresholds.shape} and {direction.shape}")


def multi_threshold(acc: np.ndarray, thresholds: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """codes[..., c] = #{j : direction[c] * acc[..., c] >= thresholds[c, j]} (uint8).

    direction is +1 or -1 per channel (-1 where the folded BN scale is negative).
    """
    acc = np.asarray(acc)
    thresholds = np.asarray(thresholds)
    direction = np.asarray(direction)
    _check_threshold_params("multi_threshold", acc.shape[-1], thresholds, direction)
    # int64 * int8 stays int64 (exact, no overflow at either sign); copy=False avoids copying an
    # int64 accumulator before the multiply (measured: 2x faster than converting both to int64).
    signed = acc.astype(np.int64, copy=False) * direction.astype(np.int8, copy=False)
    return count_reached(signed, thresholds)


def conv_threshold(x: np.ndarray, w_pm1: np.ndarray, thresholds: np.ndarray,
                   direction: np.ndarray, kernel: int, stride: int, pad: int) -> np.ndarray:
    """multi_threshold(conv_accumulate(x, w_pm1, ...), thresholds, direction), fused and faster.

    Two exact rewrites: direction[o] * (W[o] . a) = (direction[o] * W[o]) . a, so the direction
    goes into the weight signs; and the GEMM's float output is compared directly with thresholds
    clipped to [-bound, bound + 1] (no accumulator lies outside [-bound, bound], and both ends
    are exact in the GEMM's dtype), which skips the int64 conversion and the multiply.
    """
    w = np.asarray(w_pm1)
    thresholds = np.asarray(thresholds)
    direction = np.asarray(direction)
    _check_threshold_params("conv_threshold", w.shape[0], thresholds, direction)
    signed_weights = w.astype(np.int8, copy=False) * direction.astype(np.int8)[:, None]
    product, bound = _sliding_product(np.asarray(x), signed_weights, kernel, stride, pad,
                                      "conv_threshold")
    limits = np.clip(thresholds.astype(np.int64), -bound, bound + 1).astype(product.dtype)
    return count_reached(product, limits)


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The residual add: a + b as int64 (same shape)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"add: shapes differ: {a.shape} and {b.shape}")
    return a.astype(np.int64) + b


def global_sum(x: np.ndarray) -> np.ndarray:
    """The sum over all pixels: N x H x W x C -> int64 N x 1 x 1 x C (the average pool without
    the division, which the host applies)."""
    x = np.asarray(x)
    _require_4d("global_sum", x)
    return x.sum(axis=(1, 2), keepdims=True, dtype=np.int64)


def max_pool(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Max over K x K windows with stride S, no padding."""
    x = np.asarray(x)
    _require_4d("max_pool", x)
    ho = conv_output_size(x.shape[1], kernel, stride, 0)
    wo = conv_output_size(x.shape[2], kernel, stride, 0)
    out = None
    for ky in range(kernel):
        for kx in range(kernel):
            window = x[:, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride, :]
            out = window.copy() if out is None else np.maximum(out, window, out=out)
    return out


# ---------------------------------------------------------------------------------------------
# Declared attributes
# ---------------------------------------------------------------------------------------------

def attribute(doc: str, *, kind: type = int, choices: Optional[Sequence[Any]] = None,
              low: Optional[int] = None, high: Optional[int] = None, optional: bool = False,
              derived: bool = False, default: Any = None):
    """A dataclass field that declares one op attribute: its meaning, type and allowed values.

    optional: may be absent from model.json (then None). derived: not in model.json at all,
    set from the layer's wiring (Duplicate's number of copies).
    """
    metadata = {"doc": doc, "kind": kind, "choices": tuple(choices) if choices else None,
                "low": low, "high": high, "derived": derived}
    if optional or derived:
        return dataclasses.field(default=default, metadata=metadata)
    return dataclasses.field(metadata=metadata)


def _check_attribute(name: str, value: Any, meta: Dict[str, Any]) -> Any:
    """The value, normalised to a plain Python int/str (so it serialises), or OpError."""
    kind = meta["kind"]
    if kind is int:
        # bool is an int in Python; a JSON `true` for a width is a mistake, not a 1.
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise OpError(f"attribute {name!r} must be an integer, got {value!r}")
        value = int(value)
    elif not isinstance(value, kind):
        raise OpError(f"attribute {name!r} must be a {kind.__name__}, got {value!r}")
    if meta["choices"] is not None and value not in meta["choices"]:
        raise OpError(f"attribute {name}={value!r} is not supported (supported: "
                      f"{', '.join(repr(c) for c in meta['choices'])})")
    if meta["low"] is not None and value < meta["low"]:
        raise OpError(f"attribute {name}={value} must be >= {meta['low']}")
    if meta["high"] is not None and value > meta["high"]:
        raise OpError(f"attribute {name}={value} must be <= {meta['high']}")
    return value


class ParamSpec(NamedTuple):
    """The declared shape and dtype of one entry of params.npz."""
    shape: Tuple[int, ...]
    dtype: type


def levels(bits: int) -> int:
    """Number of thresholds of a `bits`-wide code: 2^bits - 1."""
    return 2 ** bits - 1


def threshold_specs(channels: int, out_bits: int) -> Dict[str, ParamSpec]:
    return {"thresholds": ParamSpec((channels, levels(out_bits)), np.int32),
            "direction": ParamSpec((channels,), np.int8)}


def check_thresholds(thresholds: np.ndarray) -> None:
    """Each row ascending (equal neighbours allowed: a code that no input reaches)."""
    if thresholds.shape[1] > 1:
        falling = np.nonzero(np.any(np.diff(thresholds.astype(np.int64), axis=1) < 0, axis=1))[0]
        if falling.size:
            row = int(falling[0])
            raise OpError(f"thresholds row {row} is not ascending: {thresholds[row].tolist()}")


def check_direction(direction: np.ndarray) -> None:
    bad = np.nonzero((direction != 1) & (direction != -1))[0]
    if bad.size:
        raise OpError(f"direction[{int(bad[0])}] = {int(direction[bad[0]])}, must be +1 or -1")


def check_masks(masks: np.ndarray) -> None:
    """Nested masks: a weight that has plane b has every plane before it."""
    grows = np.nonzero(np.any((masks[1:] > masks[:-1]).reshape(masks.shape[0] - 1, masks.shape[1], -1),
                              axis=2))
    if grows[0].size:
        plane, row = int(grows[0][0]) + 1, int(grows[1][0])
        raise OpError(f"weight_masks: row {row} has plane {plane} on a weight without plane "
                      f"{plane - 1} (masks must be nested)")


def check_codes_fit(bounds: Bounds, bits: int, what: str) -> None:
    """An input read as unsigned `bits`-wide codes must hold 0 .. 2^bits - 1."""
    lo, hi = bounds
    if lo < 0 or hi > levels(bits):
        raise OpError(f"input stream holds [{lo}, {hi}] but {what} reads unsigned "
                      f"{bits}-bit codes [0, {levels(bits)}]")


# ---------------------------------------------------------------------------------------------
# Op classes
# ---------------------------------------------------------------------------------------------

OPS: Dict[str, Type["Op"]] = {}


def register_op(cls: Type["Op"]) -> Type["Op"]:
    """Class decorator: make the op known under its class name (the `op` of model.json)."""
    if cls.__name__ in OPS:
        raise ValueError(f"op {cls.__name__} registered twice")
    OPS[cls.__name__] = cls
    return cls


def op_class(name: str) -> Type["Op"]:
    try:
        return OPS[name]
    except KeyError:
        raise OpError(f"unknown op {name!r} (supported: {', '.join(sorted(OPS))})") from None


@dataclasses.dataclass(frozen=True)
class Op:
    """Base of the op classes. Subclasses declare their attributes as dataclass fields made by
    `attribute(...)`, and override the methods below that apply to them."""

    n_inputs: ClassVar[int] = 1
    n_outputs: ClassVar[int] = 1

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and field.default is None:
                continue  # an optional attribute left out
            object.__setattr__(self, field.name, _check_attribute(field.name, value, field.metadata))

    # -- construction / serialisation ----------------------------------------------------------
    @classmethod
    def declared(cls) -> List[dataclasses.Field]:
        """The attributes model.json carries for this op (derived ones excluded)."""
        return [f for f in dataclasses.fields(cls) if not f.metadata["derived"]]

    @classmethod
    def from_layer(cls, attrs: Dict[str, Any], n_inputs: int, n_outputs: int) -> "Op":
        """The op of one layer: its attributes from model.json and its number of streams."""
        cls.check_arity(n_inputs, n_outputs)
        known = {f.name for f in cls.declared()}
        unknown = sorted(set(attrs) - known)
        if unknown:
            raise OpError(f"unknown attribute {unknown[0]!r} (known: {', '.join(sorted(known)) or 'none'})")
        missing = [f.name for f in cls.declared()
                   if f.name not in attrs and f.default is dataclasses.MISSING]
        if missing:
            raise OpError(f"missing attribute {missing[0]!r}")
        return cls(**attrs)

    @classmethod
    def check_arity(cls, n_inputs: int, n_outputs: int) -> None:
        if n_inputs != cls.n_inputs:
            raise OpError(f"takes {cls.n_inputs} input(s), got {n_inputs}")
        if n_outputs != cls.n_outputs:
            raise OpError(f"gives {cls.n_outputs} output(s), got {n_outputs}")

    def attrs(self) -> Dict[str, Any]:
        """The attributes as written to model.json (optional ones only when set)."""
        return {f.name: getattr(self, f.name) for f in self.declared()
                if getattr(self, f.name) is not None}

    # -- what the loader and the lowering ask ---------------------------------------------------
    def param_names(self) -> Tuple[str, ...]:
        """The params.npz entries this layer has (without the `<layer>.` prefix)."""
        return ()

    def output_shapes(self, in_shapes: Sequence[Shape], params: Dict[str, np.ndarray]) -> List[Shape]:
        raise NotImplementedError

    def param_specs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> Dict[str, ParamSpec]:
        return {}

    def check_params(self, params: Dict[str, np.ndarray]) -> None:
        """Value rules on the params (their shapes are already checked)."""

    def check_input_bounds(self, in_bounds: Sequence[Bounds]) -> None:
        """Raise OpError when an input stream can hold values this op does not read."""

    def output_bounds(self, in_shapes: Sequence[Shape], in_bounds: Sequence[Bounds],
                      params: Optional[Dict[str, np.ndarray]] = None) -> List[Bounds]:
        """Worst-case (min, max) of each output given those of the inputs; with params, tighter
        where the params tell more (a conv's actual weight signs)."""
        raise NotImplementedError

    def execute(self, inputs: Sequence[np.ndarray], params: Dict[str, np.ndarray]) -> List[np.ndarray]:
        raise NotImplementedError


def _rows(params: Dict[str, np.ndarray], name: str) -> int:
    array = params[name]
    if array.ndim != 2:
        raise OpError(f"param {name!r} must be 2-D, got shape {array.shape}")
    return array.shape[0]


@register_op
@dataclasses.dataclass(frozen=True)
class Thermometer(Op):
    """Pixel embedding: each uint8 channel becomes k channels of out_bits-wide codes."""

    k: int = attribute("codes per input channel (10 in the ERN paper)", low=1)
    out_bits: int = attribute("l, the width of each code", low=1, high=8)

    def param_names(self):
        return ("thresholds",)

    def output_shapes(self, in_shapes, params):
        (h, w, c), = in_shapes
        return [(h, w, c * self.k)]

    def param_specs(self, in_shapes, out_shapes):
        return {"thresholds": ParamSpec((out_shapes[0][2], levels(self.out_bits)), np.int32)}

    def check_params(self, params):
        check_thresholds(params["thresholds"])

    def check_input_bounds(self, in_bounds):
        check_codes_fit(in_bounds[0], 8, "Thermometer (uint8 pixels)")

    def output_bounds(self, in_shapes, in_bounds, params=None):
        return [(0, levels(self.out_bits))]

    def execute(self, inputs, params):
        return [thermometer(inputs[0], params["thresholds"], self.k)]


@register_op
@dataclasses.dataclass(frozen=True)
class Conv(Op):
    """Sliding window + matrix-vector unit over unsigned codes with +-1 weights (also FC: a
    1 x 1 conv on a 1 x 1 map). C_out is the number of rows of `weights`."""

    kernel: int = attribute("K: the window is K x K", low=1)
    stride: int = attribute("S", low=1)
    pad: int = attribute("P: zero rows/columns on every side (a padded code is 0)", low=0)
    in_bits: int = attribute("width of the unsigned input codes", low=1, high=8)
    weight_bits: int = attribute("B, sign planes per weight: W = sum_b 2^(B-1-b) m_b s_b "
                                 "(1: weights are +-1)", low=1, high=MAX_WEIGHT_BITS)
    cols: int = attribute("K*K*C_in: the length of a weight row", low=1)
    output: str = attribute("'threshold': codes; 'accumulator': the raw signed sum", kind=str,
                            choices=("threshold", "accumulator"))
    out_bits: Optional[int] = attribute("code width (threshold mode only)", low=1, high=8,
                                        optional=True)
    masked: Optional[int] = attribute("1: per-weight bit counts (heterogeneous binarization), "
                                      "planes 1..B-1 carry masks in `weight_masks`",
                                      choices=(0, 1), optional=True)
    zeros: Optional[int] = attribute("1: some weights are 0 (ternary -1/0/+1 for B = 1): "
                                     "`weight_nonzero` masks every plane of them",
                                     choices=(0, 1), optional=True)

    def __post_init__(self):
        super().__post_init__()
        if self.output == "threshold" and self.out_bits is None:
            raise OpError("missing attribute 'out_bits' (required when output='threshold')")
        if self.output == "accumulator" and self.out_bits is not None:
            raise OpError("attribute 'out_bits' applies only to output='threshold'")
        if self.masked and self.weight_bits == 1:
            raise OpError("attribute 'masked' needs weight_bits >= 2 (plane 0 is never masked)")

    @property
    def thresholded(self) -> bool:
        return self.output == "threshold"

    def weight_param_names(self) -> Tuple[str, ...]:
        """`weights`: plane 0 (the signs); `weight_planes`: the signs of planes 1..B-1;
        `weight_masks`: which weights have planes 1..B-1 (masked only)."""
        names = ("weights",)
        if self.weight_bits > 1:
            names += ("weight_planes",)
        if self.masked:
            names += ("weight_masks",)
        if self.zeros:
            names += ("weight_nonzero",)
        return names

    def param_names(self):
        return self.weight_param_names() + (("thresholds", "direction") if self.thresholded else ())

    def output_shapes(self, in_shapes, params):
        (h, w, c), = in_shapes
        k = self.kernel
        if self.cols != k * k * c:
            raise OpError(f"cols={self.cols} but a {k}x{k} kernel over {c} channels needs {k * k * c}")
        try:
            ho = conv_output_size(h, k, self.stride, self.pad)
            wo = conv_output_size(w, k, self.stride, self.pad)
        except ValueError as e:
            raise OpError(str(e)) from None
        return [(ho, wo, _rows(params, "weights"))]

    def param_specs(self, in_shapes, out_shapes):
        c_out = out_shapes[0][2]
        row_bytes = (self.cols + 7) // 8
        specs = {"weights": ParamSpec((c_out, row_bytes), np.uint8)}
        lower = (self.weight_bits - 1, c_out, row_bytes)
        if self.weight_bits > 1:
            specs["weight_planes"] = ParamSpec(lower, np.uint8)
        if self.masked:
            specs["weight_masks"] = ParamSpec(lower, np.uint8)
        if self.zeros:
            specs["weight_nonzero"] = ParamSpec((c_out, row_bytes), np.uint8)
        if self.thresholded:
            specs.update(threshold_specs(c_out, self.out_bits))
        return specs

    def check_params(self, params):
        if self.masked:
            check_masks(self.planes(params)[1])
        if self.thresholded:
            check_thresholds(params["thresholds"])
            check_direction(params["direction"])

    def check_input_bounds(self, in_bounds):
        check_codes_fit(in_bounds[0], self.in_bits, f"Conv (in_bits={self.in_bits})")

    def planes(self, params: Dict[str, np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """(signs (B, C_out, cols) of +-1, masks (B, C_out, cols) of 0/1) from the params."""
        signs = [unpack_weights(params["weights"], self.cols)]
        masks = [np.ones_like(signs[0], np.uint8)]
        for b in range(1, self.weight_bits):
            signs.append(unpack_weights(params["weight_planes"][b - 1], self.cols))
            masks.append(np.unpackbits(params["weight_masks"][b - 1], axis=1, count=self.cols,
                                       bitorder="little") if self.masked else masks[0])
        return np.stack(signs), np.stack(masks)

    def nonzero(self, params: Dict[str, np.ndarray]) -> np.ndarray:
        """(C_out, cols) 0/1: which weights are nonzero (all ones without `zeros`)."""
        if not self.zeros:
            return np.ones((_rows(params, "weights"), self.cols), np.int8)
        return np.unpackbits(params["weight_nonzero"], axis=1, count=self.cols,
                             bitorder="little").astype(np.int8)

    def weight_matrix(self, params: Dict[str, np.ndarray]) -> np.ndarray:
        """The integer weights (C_out, cols): +-1 for weight_bits = 1 (-1/0/+1 with zeros)."""
        if self.weight_bits == 1:
            w = unpack_weights(params["weights"], self.cols)
        else:
            w = weight_matrix(*self.planes(params))
        return w * self.nonzero(params) if self.zeros else w

    def accumulator_bounds(self, in_bounds: Sequence[Bounds],
                           params: Optional[Dict[str, np.ndarray]] = None) -> Bounds:
        """Worst-case (min, max) of acc over all output channels. With the weights, each row
        sums its own positive and negative weights; without, any row may be all +(2^B - 1)
        or all -(2^B - 1)."""
        lo, hi = in_bounds[0]
        if self.pad:  # padded positions read 0
            lo, hi = min(lo, 0), max(hi, 0)
        if params is not None and "weights" in params:
            w = self.weight_matrix(params).astype(np.int64)
            plus = np.where(w > 0, w, 0).sum(axis=1).astype(object)  # Python ints: no overflow
            minus = np.where(w < 0, -w, 0).sum(axis=1).astype(object)
        else:
            top = self.cols * (2 ** self.weight_bits - 1)   # every weight at +-(2^B - 1)
            plus = np.array([top, 0], dtype=object)
            minus = top - plus
        highest = plus * hi - minus * lo
        lowest = plus * lo - minus * hi
        return int(lowest.min()), int(highest.max())

    def output_bounds(self, in_shapes, in_bounds, params=None):
        if self.thresholded:
            return [(0, levels(self.out_bits))]
        return [self.accumulator_bounds(in_bounds, params)]

    def execute(self, inputs, params):
        weights = self.weight_matrix(params)
        if self.thresholded:
            return [conv_threshold(inputs[0], weights, params["thresholds"], params["direction"],
                                   self.kernel, self.stride, self.pad)]
        return [conv_accumulate(inputs[0], weights, self.kernel, self.stride, self.pad)]


@register_op
@dataclasses.dataclass(frozen=True)
class Threshold(Op):
    """BN + activation on an integer stream (the residual stream) as per-channel thresholds."""

    out_bits: int = attribute("code width", low=1, high=8)

    def param_names(self):
        return ("thresholds", "direction")

    def output_shapes(self, in_shapes, params):
        return [tuple(in_shapes[0])]

    def param_specs(self, in_shapes, out_shapes):
        return threshold_specs(in_shapes[0][2], self.out_bits)

    def check_params(self, params):
        check_thresholds(params["thresholds"])
        check_direction(params["direction"])

    def output_bounds(self, in_shapes, in_bounds, params=None):
        return [(0, levels(self.out_bits))]

    def execute(self, inputs, params):
        return [multi_threshold(inputs[0], params["thresholds"], params["direction"])]


@register_op
@dataclasses.dataclass(frozen=True)
class Add(Op):
    """The residual add of two integer streams of the same shape."""

    n_inputs: ClassVar[int] = 2

    def output_shapes(self, in_shapes, params):
        a, b = in_shapes
        if tuple(a) != tuple(b):
            raise OpError(f"inputs have different shapes {list(a)} and {list(b)}")
        return [tuple(a)]

    def output_bounds(self, in_shapes, in_bounds, params=None):
        (lo_a, hi_a), (lo_b, hi_b) = in_bounds
        return [(lo_a + lo_b, hi_a + hi_b)]

    def execute(self, inputs, params):
        return [add(inputs[0], inputs[1])]


@register_op
@dataclasses.dataclass(frozen=True)
class Duplicate(Op):
    """A fork: every output is the input. The number of copies is the number of outputs."""

    copies: int = attribute("number of outputs (from the layer's wiring)", low=2, derived=True,
                            default=2)

    @classmethod
    def check_arity(cls, n_inputs, n_outputs):
        if n_inputs != 1:
            raise OpError(f"takes 1 input, got {n_inputs}")
        if n_outputs < 2:
            raise OpError(f"needs 2 or more outputs, got {n_outputs}")

    @classmethod
    def from_layer(cls, attrs, n_inputs, n_outputs):
        op = super().from_layer(attrs, n_inputs, n_outputs)
        return dataclasses.replace(op, copies=n_outputs)

    def output_shapes(self, in_shapes, params):
        return [tuple(in_shapes[0])] * self.copies

    def output_bounds(self, in_shapes, in_bounds, params=None):
        return [tuple(in_bounds[0])] * self.copies

    def execute(self, inputs, params):
        return [inputs[0]] * self.copies


@register_op
@dataclasses.dataclass(frozen=True)
class GlobalSum(Op):
    """H x W x C -> 1 x 1 x C: the sum over all pixels (the host divides: head.divisor)."""

    def output_shapes(self, in_shapes, params):
        h, w, c = in_shapes[0]
        return [(1, 1, c)]

    def output_bounds(self, in_shapes, in_bounds, params=None):
        h, w, _ = in_shapes[0]
        lo, hi = in_bounds[0]
        return [(h * w * lo, h * w * hi)]

    def execute(self, inputs, params):
        return [global_sum(inputs[0])]


@register_op
@dataclasses.dataclass(frozen=True)
class MaxPool(Op):
    """Max over K x K windows with stride S, no padding, over unsigned codes."""

    kernel: int = attribute("K: the window is K x K", low=1)
    stride: int = attribute("S", low=1)

    def output_shapes(self, in_shapes, params):
        h, w, c = in_shapes[0]
        try:
            return [(conv_output_size(h, self.kernel, self.stride, 0),
                     conv_output_size(w, self.kernel, self.stride, 0), c)]
        except ValueError as e:
            raise OpError(str(e)) from None

    def check_input_bounds(self, in_bounds):
        if in_bounds[0][0] < 0:
            raise OpError(f"input stream holds [{in_bounds[0][0]}, {in_bounds[0][1]}] but MaxPool "
                          "reads unsigned codes")

    def output_bounds(self, in_shapes, in_bounds, params=None):
        return [tuple(in_bounds[0])]

    def execute(self, inputs, params):
        return [max_pool(inputs[0], self.kernel, self.stride)]
