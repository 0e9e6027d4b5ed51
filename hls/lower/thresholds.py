"""Per-channel integer thresholds that reproduce a float BN + activation exactly.

The float chain (what the exported graph computes on an integer stream `acc`, channel c):

    x = unit[c] * acc                                  the stream's float value (exact)
    y = (x - mean) / sqrt(var + eps) * gamma + beta    BatchNormalization (optional)
    z = gain[c] * y                                    positive Mul constants (TwoBitAct's 1.5)
    r = max(z, 0)                                      Relu (optional: see below)
    q = clamp(round(r / s), qmin, qmax)                a Quant, zero point 0 (unsigned: qmin = 0)
    code = q - qmin                                    (BipolarQuant: code = [z >= 0], the XNOR form)

The stream's own float value may carry an offset, x = unit[c] * (acc - offset[c]) (codes of a
signed or bipolar quantizer travel unsigned, and a conv reading them sums the offset into
every output channel): it is folded into the thresholds too.

`code >= j` (j = 1..2^bits-1) is `z / s` past a boundary b = b_{qmin+j} (ROUND, half to even:
b_i = i - 1/2, reached at equality only for even i; FLOOR: b_i = i; ...), and z is affine in
acc: so `code >= j` is `acc >= T_j` where gamma > 0 and `acc <= T'_j` where gamma < 0, i.e.
`-acc >= -T'_j` (direction -1). Relu changes nothing where b > 0 (every unsigned level); a
level whose boundary Relu already passes is reached by every acc.

Every parameter is a float32 (or a float64 product of float32s), hence an exact rational. The
thresholds are derived in exact arithmetic: a float64 estimate of the crossing, then the exact
predicate on the integers around it (Fractions; the one irrational, sqrt(var + eps), is handled
by comparing squares). So the integer comparison equals the float model evaluated without
rounding; a float32 evaluation can differ only where z / s lies within float32 rounding of a
boundary (a tie). `verify` measures exactly that, by brute force over the stream's range.
"""
import dataclasses
import math
from fractions import Fraction
from typing import Dict, List, Optional, Tuple

import numpy as np

from .graph import LoweringError

# The rounding modes of the QONNX Quant op we support, as (boundary b_j, reached at equality):
# q >= j  <=>  v > b_j  or  (v == b_j and inclusive), for v = r / s >= 0 and j >= 1.
ROUNDING_MODES = ("ROUND", "HALF_EVEN", "FLOOR", "CEIL", "HALF_UP", "HALF_DOWN")


def level_boundary(mode: str, j: int) -> Tuple[Fraction, bool]:
    mode = mode.upper()
    if mode in ("ROUND", "HALF_EVEN"):
        return Fraction(2 * j - 1, 2), j % 2 == 0
    if mode == "HALF_UP":
        return Fraction(2 * j - 1, 2), True
    if mode == "HALF_DOWN":
        return Fraction(2 * j - 1, 2), False
    if mode == "FLOOR":
        return Fraction(j), True
    if mode == "CEIL":
        return Fraction(j - 1), False
    raise LoweringError(f"rounding mode {mode!r} is not supported (supported: {', '.join(ROUNDING_MODES)})")


@dataclasses.dataclass
class BatchNorm:
    """ONNX BatchNormalization's parameters, float32 per channel (eps: the attribute)."""
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float


@dataclasses.dataclass
class ActivationChain:
    """The float chain from an integer stream to the unsigned codes of a quantizer."""
    unit: np.ndarray               # (C,) float64 > 0: the stream's float value per unit
    bn: Optional[BatchNorm]        # None: no BatchNormalization
    gain: List[np.ndarray]         # (C,) positive multipliers after the BN, in graph order
    quant_scale: float             # s (float32 value)
    bits: int                      # code width (1 for a bipolar quantizer)
    narrow: bool = False           # unsigned: codes 0..2^bits-2; signed: qmin = -(2^(bits-1) - 1)
    rounding: str = "ROUND"
    pre_gain: List[np.ndarray] = dataclasses.field(default_factory=list)  # (C,) positive
    #                                multipliers between the stream and the BN, in graph order
    signed: bool = False           # a signed Quant: code = q - qmin
    bipolar: bool = False          # a BipolarQuant: code = [z >= 0]
    relu: bool = False             # a Relu before the quantizer (irrelevant when unsigned)
    offset: Optional[np.ndarray] = None   # (C,) or scalar float64: x = unit * (acc - offset)

    @property
    def channels(self) -> int:
        return int(np.asarray(self.unit).size)

    @property
    def levels(self) -> int:
        return 2 ** self.bits - 1

    @property
    def qmin(self) -> int:
        if self.bipolar:
            return -1
        return -(2 ** (self.bits - 1)) + int(self.narrow) if self.signed else 0

    @property
    def qmax(self) -> int:
        """The largest code (code = q - qmin)."""
        if self.bipolar:
            return 1
        if self.signed:
            return 2 ** (self.bits - 1) - 1 - self.qmin
        return self.levels - 1 if self.narrow else self.levels

    def offsets(self) -> np.ndarray:
        if self.offset is None:
            return np.zeros(self.channels, np.float64)
        return np.broadcast_to(np.asarray(self.offset, np.float64).reshape(-1), (self.channels,))

    def boundary(self, j: int) -> Tuple[Fraction, bool]:
        """(b, inclusive): code >= j  <=>  z / s > b, or z / s == b when inclusive."""
        if self.bipolar:
            return Fraction(0), True
        return level_boundary(self.rounding, self.qmin + j)


def _sign_of_difference(left: Fraction, right: Fraction, square: Fraction) -> int:
    """sign(left - right * sqrt(square)), exactly (square > 0)."""
    if right == 0:
        return (left > 0) - (left < 0)
    if right > 0:
        if left <= 0:
            return -1
        d = left * left - right * right * square
    else:
        if left >= 0:
            return 1
        d = right * right * square - left * left
    return (d > 0) - (d < 0)


class _Channel:
    """The exact predicate `code >= j` of one channel, as a function of the integer acc."""

    def __init__(self, chain: ActivationChain, c: int):
        self.unit = Fraction(float(chain.unit[c]))
        self.offset = Fraction(float(chain.offsets()[c]))
        self.chain = chain
        for g in chain.pre_gain:
            self.unit *= Fraction(float(g[c]))
        gain = Fraction(1)
        for g in chain.gain:
            gain *= Fraction(float(g[c]))
        self.gain = gain
        self.s = Fraction(float(chain.quant_scale))
        self.rounding = chain.rounding
        self.qmax = chain.qmax
        bn = chain.bn
        if bn is None:
            self.gamma, self.beta, self.mean, self.square = Fraction(1), Fraction(0), Fraction(0), Fraction(1)
        else:
            self.gamma = Fraction(float(bn.gamma[c]))
            self.beta = Fraction(float(bn.beta[c]))
            self.mean = Fraction(float(bn.mean[c]))
            self.square = Fraction(float(bn.var[c])) + Fraction(float(np.float32(bn.eps)))
            if self.square <= 0:
                raise LoweringError(f"BatchNormalization channel {c}: var + eps = {float(self.square)} <= 0")
        self.direction = -1 if self.gamma < 0 else 1

    def target(self, j: int) -> Tuple[Fraction, bool]:
        """(R, inclusive): code >= j  <=>  (unit*acc - mean)*gamma vs R*sqrt(var+eps)."""
        b, inclusive = self.chain.boundary(j)
        return b * self.s / self.gain - self.beta, inclusive

    def holds(self, acc: int, j: int) -> bool:
        if j > self.qmax:
            return False
        if self.chain.relu and self.chain.signed:
            b, inclusive = self.chain.boundary(j)
            if b < 0 or (b == 0 and inclusive):
                return True   # z >= 0 after the Relu is past this boundary
        r, inclusive = self.target(j)
        left = (self.unit * (acc - self.offset) - self.mean) * self.gamma
        sign = _sign_of_difference(left, r, self.square)
        return sign > 0 or (sign == 0 and inclusive)

    def estimate(self, j: int) -> float:
        """A float64 estimate of the real acc where z / s crosses b_j."""
        r, _ = self.target(j)
        if self.gamma == 0:
            return math.nan
        return (float(self.mean) + float(r) * math.sqrt(float(self.square)) / float(self.gamma)) \
            / float(self.unit) + float(self.offset)


def derive(chain: ActivationChain, lo: int, hi: int) -> Tuple[np.ndarray, np.ndarray]:
    """(thresholds int32 (C, 2^bits - 1) ascending per row, direction int8 (C,)) such that for
    every integer acc in [lo, hi]: #{j : direction*acc >= T_j} = the chain's code, computed
    exactly. Levels reached by no acc get T = the top of the range + 1; levels reached by all
    get the bottom of the range."""
    if lo > hi:
        raise LoweringError(f"empty accumulator range [{lo}, {hi}]")
    if np.any(np.asarray(chain.unit) <= 0):
        raise LoweringError("the stream's scale must be positive in every channel")
    for g in list(chain.gain) + list(chain.pre_gain):
        if np.any(np.asarray(g) <= 0):
            raise LoweringError("a Mul between BatchNormalization and the quantizer must be positive")
    if not chain.quant_scale > 0:
        raise LoweringError(f"quantizer scale {chain.quant_scale} must be positive")
    channels = chain.channels
    thresholds = np.empty((channels, chain.levels), np.int64)
    direction = np.empty(channels, np.int8)
    for c in range(channels):
        ch = _Channel(chain, c)
        d = ch.direction
        direction[c] = d
        # In the direction's coordinate a = d * acc, `code >= j` is non-decreasing in a.
        a_lo, a_hi = (lo, hi) if d > 0 else (-hi, -lo)
        for j in range(1, chain.levels + 1):
            def p(a, j=j):
                return ch.holds(d * a, j)
            guess = ch.estimate(j)
            if p(a_lo):     # reached by every acc (or, next, by none): no walk through the range
                n = a_lo
            elif not p(a_hi):
                n = a_hi + 1
            elif math.isnan(guess) or math.isinf(guess):
                n = a_lo if p(a_lo) else a_hi + 1
            else:
                a_guess = d * guess
                n = a_lo if a_guess <= a_lo else a_hi + 1 if a_guess > a_hi else math.ceil(a_guess)
                while n > a_lo and p(n - 1):
                    n -= 1
                while n <= a_hi and not p(n):
                    n += 1
            thresholds[c, j - 1] = n
    # Exact monotone predicates give ascending rows; make sure nothing escaped.
    if np.any(np.diff(thresholds, axis=1) < 0):
        raise LoweringError("internal error: derived thresholds are not ascending")
    if thresholds.min() < np.iinfo(np.int32).min or thresholds.max() > np.iinfo(np.int32).max:
        raise LoweringError(f"thresholds exceed int32 (stream range [{lo}, {hi}])")
    return thresholds.astype(np.int32), direction


# -- verification by brute force -------------------------------------------------------------------

def float32_codes(chain: ActivationChain, acc: np.ndarray) -> np.ndarray:
    """The chain evaluated as the exported graph does, in float32 (ONNX's BatchNormalization
    formula, Quant as qonnx: divide, clamp, round half to even). acc: (C, M) integers."""
    f32 = np.float32
    c = chain.channels
    col = lambda v: np.asarray(v, np.float64).reshape(c, 1)  # noqa: E731
    x = ((acc.astype(np.float64) - col(chain.offsets())) * col(chain.unit)).astype(f32)
    for g in chain.pre_gain:
        x = x * col(g).astype(f32)
    if chain.bn is not None:
        bn = chain.bn
        x = (x - col(bn.mean).astype(f32)) / np.sqrt(col(bn.var).astype(f32) + f32(bn.eps)) \
            * col(bn.gamma).astype(f32) + col(bn.beta).astype(f32)
    for g in chain.gain:
        x = x * col(g).astype(f32)
    if chain.relu or not chain.signed:
        x = np.maximum(x, f32(0))
    if chain.bipolar:
        return (x >= 0).astype(np.int64)
    v = np.clip(x / f32(chain.quant_scale), f32(chain.qmin), f32(chain.qmin + chain.qmax))
    mode = chain.rounding.upper()
    if mode in ("ROUND", "HALF_EVEN"):
        q = np.round(v)
    elif mode == "FLOOR":
        q = np.floor(v)
    elif mode == "CEIL":
        q = np.ceil(v)
    elif mode == "HALF_UP":
        q = np.floor(v + f32(0.5))
    else:
        q = np.ceil(v - f32(0.5))
    return q.astype(np.int64) - chain.qmin


def _margins(chain: ActivationChain, acc: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """float64 (distance of z/s to its nearest boundary, size of the terms), both (C, M)."""
    c = chain.channels
    col = lambda v: np.asarray(v, np.float64).reshape(c, 1)  # noqa: E731
    x = (acc.astype(np.float64) - col(chain.offsets())) * col(chain.unit)
    for g in chain.pre_gain:
        x = x * col(g)
    size = np.abs(x)
    if chain.bn is not None:
        bn = chain.bn
        inv = col(bn.gamma) / np.sqrt(col(bn.var) + float(np.float32(bn.eps)))
        size = (size + np.abs(col(bn.mean))) * np.abs(inv) + np.abs(col(bn.beta))
        x = (x - col(bn.mean)) * inv + col(bn.beta)
    gain = np.ones((c, 1))
    for g in chain.gain:
        gain = gain * col(g)
    v = x * gain / float(chain.quant_scale)
    size = size * gain / float(chain.quant_scale) + np.abs(v)
    mode = chain.rounding.upper()
    if chain.bipolar:
        return np.abs(v), size
    offset = 0.5 if mode in ("ROUND", "HALF_EVEN", "HALF_UP", "HALF_DOWN") else 0.0
    distance = np.abs(v - offset - np.round(v - offset))
    # Only boundaries of reachable levels matter: qmin < boundary <= qmax (+ the offset).
    low = chain.qmin + 0.25 if (chain.signed and not chain.relu) else max(chain.qmin, 0) + 0.25
    outside = (v < low) | (v > chain.qmin + chain.qmax + 0.75)
    distance = np.where(outside, np.inf, distance)
    return distance, size


def verify(chain: ActivationChain, thresholds: np.ndarray, direction: np.ndarray, lo: int, hi: int,
           max_points: int = 1 << 14) -> Dict[str, int]:
    """Compare the integer thresholds with the float32 chain over the accumulator range (every
    value when the range is small, else a grid plus every value within 64 of a threshold).

    Returns counts: `points` (acc values checked per channel), `ties` (values where z/s lies
    within float32 rounding of a level boundary: a float evaluation may go either way there),
    `float32_mismatches` (those where it did). A mismatch away from a tie is a bug: raises.
    """
    from host.ops import multi_threshold

    span = hi - lo + 1
    if span <= max_points:
        values = np.arange(lo, hi + 1, dtype=np.int64)
    else:
        grid = np.linspace(lo, hi, max_points // 2).round().astype(np.int64)
        near = [np.arange(t - 64, t + 65) for t in np.unique(np.abs(thresholds))] + \
               [np.arange(-t - 64, -t + 65) for t in np.unique(np.abs(thresholds))]
        values = np.unique(np.concatenate([grid] + near))
        values = values[(values >= lo) & (values <= hi)]
    c = chain.channels
    acc = np.broadcast_to(values, (c, values.size))
    exact = multi_threshold(acc.T, thresholds, direction).T.astype(np.int64)
    floats = float32_codes(chain, acc)
    distance, size = _margins(chain, acc)
    tie = distance <= 1e-5 * np.maximum(size, 1.0)
    mismatch = exact != floats
    if np.any(mismatch & ~tie):
        ch, k = np.argwhere(mismatch & ~tie)[0]
        raise LoweringError(f"internal error: thresholds give code {exact[ch, k]} but the float "
                            f"model {floats[ch, k]} at channel {ch}, acc={values[k]} (not a tie)")
    return {"points": int(values.size), "ties": int(tie.sum()),
            "float32_mismatches": int(mismatch.sum())}
