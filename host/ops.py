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


class OpError(ValueError):
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


def register(cls: Type["Op"]) -> Type["Op"]:
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


@register
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


@register
@dataclasses.dataclass(frozen=True)
class Conv(Op):
    """Sliding window + matrix-vector unit over unsigned codes with +-1 weights (also FC: a
    1 x 1 conv on a 1 x 1 map). C_out is the number of rows of `weights`."""

    kernel: int = attribute("K: the window is K x K", low=1)
    stride: int = attribute("S", low=1)
    pad: int = attribute("P: zero rows/columns on every side (a padded code is 0)", low=0)
    in_bits: int = attribute("width of the unsigned input codes", low=1, high=8)
    weight_bits: int = attribute("1: weights are +-1", choices=(1,))
    cols: int = attribute("K*K*C_in: the length of a weight row", low=1)
    output: str = attribute("'threshold': codes; 'accumulator': the raw signed sum", kind=str,
                            choices=("threshold", "accumulator"))
    out_bits: Optional[int] = attribute("code width (threshold mode only)", low=1, high=8,
                                        optional=True)

    def __post_init__(self):
        super().__post_init__()
        if self.output == "threshold" and self.out_bits is None:
            raise OpError("missing attribute 'out_bits' (required when output='threshold')")
        if self.output == "accumulator" and self.out_bits is not None:
            raise OpError("attribute 'out_bits' applies only to output='threshold'")

    @property
    def thresholded(self) -> bool:
        return self.output == "threshold"

    def param_names(self):
        return ("weights", "thresholds", "direction") if self.thresholded else ("weights",)

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
        specs = {"weights": ParamSpec((c_out, (self.cols + 7) // 8), np.uint8)}
        if self.thresholded:
            specs.update(threshold_specs(c_out, self.out_bits))
        return specs

    def check_params(self, params):
        if self.thresholded:
            check_thresholds(params["thresholds"])
            check_direction(params["direction"])

    def check_input_bounds(self, in_bounds):
        check_codes_fit(in_bounds[0], self.in_bits, f"Conv (in_bits={self.in_bits})")

    def accumulator_bounds(self, in_bounds: Sequence[Bounds],
                           params: Optional[Dict[str, np.ndarray]] = None) -> Bounds:
        """Worst-case (min, max) of acc over all output channels. With the weights, each row
        counts its own +1s and -1s; without, any row may be all +1 or all -1."""
        lo, hi = in_bounds[0]
        if self.pad:  # padded positions read 0
            lo, hi = min(lo, 0), max(hi, 0)
        if params is not None and "weights" in params:
            w = unpack_weights(params["weights"], self.cols)
            plus = (w > 0).sum(axis=1).astype(object)  # Python ints: no overflow
            minus = self.cols - plus
        else:
            plus = np.array([self.cols, 0], dtype=object)
            minus = self.cols - plus
        highest = plus * hi - minus * lo
        lowest = plus * lo - minus * hi
        return int(lowest.min()), int(highest.max())

    def output_bounds(self, in_shapes, in_bounds, params=None):
        if self.thresholded:
            return [(0, levels(self.out_bits))]
        return [self.accumulator_bounds(in_bounds, params)]

    def execute(self, inputs, params):
        weights = unpack_weights(params["weights"], self.cols)
        if self.thresholded:
            return [conv_threshold(inputs[0], weights, params["thresholds"], params["direction"],
                                   self.kernel, self.stride, self.pad)]
        return [conv_accumulate(inputs[0], weights, self.kernel, self.stride, self.pad)]


@register
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


@register
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


@register
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


@register
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


@register
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
