"""Brevitas quantizers for w1a2 ERNs, as small declarative classes.

The integer contract with the rest of the pipeline (docs/architecture.md):
- weights are sign(W) (sign(0) = +1) times a scale that never reaches the accelerator;
- activations are unsigned 2-bit codes 0..3 of a fixed range [0, 2];
- every conv that writes the residual stream uses the shared constant scale 1/32, so the stream
  is (1/32) * integer and the residual add is an integer add.
"""
from brevitas.core.function_wrapper import TensorClamp
from brevitas.inject.enum import (BitWidthImplType, FloatToIntImplType, QuantType,
                                  RestrictValueType, ScalingImplType, ScalingPerOutputType,
                                  StatsOp)
from brevitas.quant.base import UintQuant
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver

# The shared constant of every residual-writing conv (official ERN code: sign(W) * 1/32).
SHARED_CONSTANT_SCALE = 1.0 / 32.0
# 2-bit activations: clip(x, 0, 2), codes q = round(1.5 x) in 0..3, value q * 2/3.
ACT_BITS = 2
ACT_RANGE = 2.0
ACT_SCALE = ACT_RANGE / (2 ** ACT_BITS - 1)


class BinaryWeightPerChannelMeanAbs(WeightQuantSolver):
    """sign(W) x mean|W_c| per output channel (XNOR-Net style); identity straight-through."""
    quant_type = QuantType.BINARY
    bit_width = 1
    bit_width_impl_type = BitWidthImplType.CONST
    signed = True
    narrow_range = True
    scaling_impl_type = ScalingImplType.STATS
    scaling_stats_op = StatsOp.AVE
    scaling_per_output_type = ScalingPerOutputType.CHANNEL
    restrict_scaling_type = RestrictValueType.FP
    scaling_min_val = 1e-8


class BinaryWeightSharedConstant(WeightQuantSolver):
    """sign(W) x 1/32 for every conv that writes the integer residual stream (no clipping of
    the latent weights, unlike Brevitas' SignedBinaryWeightPerTensorConst)."""
    quant_type = QuantType.BINARY
    bit_width = 1
    bit_width_impl_type = BitWidthImplType.CONST
    signed = True
    narrow_range = True
    scaling_impl_type = ScalingImplType.CONST
    scaling_const = SHARED_CONSTANT_SCALE
    scaling_per_output_type = ScalingPerOutputType.TENSOR
    restrict_scaling_type = RestrictValueType.FP


class _FixedRangeUint(UintQuant, ActQuantSolver):
    scaling_impl_type = ScalingImplType.CONST
    scaling_per_output_type = ScalingPerOutputType.TENSOR
    restrict_scaling_type = RestrictValueType.FP
    tensor_clamp_impl = TensorClamp  # zero gradient outside the range, as the ERN code does


class Uint2ActRange2(_FixedRangeUint):
    """2-bit unsigned activation over [0, 2]: emits q * 2/3 (post-scale on)."""
    bit_width = ACT_BITS
    scaling_const = ACT_SCALE
    max_val = ACT_RANGE


class Uint2ActCodes(_FixedRangeUint):
    """2-bit unsigned activation emitting the integer codes q (post-scale off). Its input is
    pre-multiplied by 1/ACT_SCALE = 1.5 (see layers.TwoBitAct), so q = round(1.5 x) as above."""
    bit_width = ACT_BITS
    scaling_const = 1.0
    max_val = 2.0 ** ACT_BITS - 1


class Uint8Pixel(_FixedRangeUint):
    """The raw uint8 pixel as an 8-bit unsigned quantized input (scale 1: the value is the
    pixel). CNV's first layer takes it, as FINN's does."""
    bit_width = 8
    scaling_const = 1.0
    max_val = 255.0


def thermometer_quant(step: float, bits: int):
    """Quantizer of the pixel embedding: q = clamp(floor(v / step), 0, 2^bits - 1)."""
    return type("ThermometerQuant", (_FixedRangeUint,), {
        "bit_width": bits,
        "scaling_const": float(step),
        "max_val": float(step) * (2 ** bits - 1),
        "float_to_int_impl_type": FloatToIntImplType.FLOOR,
    })


# ---------------------------------------------------------------------------------------------
# Activations of other widths: the same fixed range [0, 2], 2^bits - 1 steps.
# ---------------------------------------------------------------------------------------------

def act_scale(bits: int) -> float:
    """The step of a `bits`-wide activation over the fixed range [0, ACT_RANGE]."""
    return ACT_RANGE / (2 ** bits - 1)


def uint_act_quant(bits: int, post_scale: bool):
    """The activation quantizer of `bits` (1..4): codes q = round(x / act_scale(bits)) over [0, 2];
    post_scale emits q * act_scale(bits), else the integer codes (input pre-multiplied by
    1/act_scale, see layers.CodeAct). 2 bits: the w1a2 classes above, unchanged."""
    if not 1 <= bits <= 4:
        raise ValueError(f"activation bits must be 1..4, not {bits}")
    if bits == ACT_BITS:
        return Uint2ActRange2 if post_scale else Uint2ActCodes
    if post_scale:
        attrs = {"bit_width": bits, "scaling_const": act_scale(bits), "max_val": ACT_RANGE}
    else:
        attrs = {"bit_width": bits, "scaling_const": 1.0, "max_val": 2.0 ** bits - 1}
    return type(f"Uint{bits}Act{'Range2' if post_scale else 'Codes'}", (_FixedRangeUint,), attrs)


# ---------------------------------------------------------------------------------------------
# Bit-plane weights: residual binarization, homogeneous or heterogeneous (docs/ern.md, Fromm et al.)
# ---------------------------------------------------------------------------------------------
# A weight with M of B planes is x_hat = sum_{b<M} mu_b s_b, with s_b = sgn(R_b) (sgn(0) = +1),
# R_0 = W, R_{b+1} = R_b - mu_b s_b (residual binarization). The plane scales are
# mu_b = mu_0 / 2^b: mu_0 is the first plane's mean (mean |W| of the output channel, or the
# shared constant of a residual-writing conv), and each later plane halves it. That is the
# {-1,+1} decomposition: x_hat = unit * q with unit = mu_0 / 2^(B-1) and the integer
# q = sum_b 2^(B-1-b) m_b s_b, so the accelerator sums B binary branches with shifts and the
# per-channel unit folds into the thresholds like a binary conv's scale. (The paper's per-plane
# means mean|R_b| would give each plane its own float scale, which no integer threshold can
# absorb; the power-of-two ladder is the integer-exact version.)

def middle_out_fractions(average: float, planes: int):
    """(p_1, .., p_{B-1}): the fraction of weights that get more than b planes, for a target
    average bit count: average = 1 + sum_b p_b. Three planes: p_2 = p_1 / 3 while p_1 < 1
    (average 1.4 -> 70 % 1-bit, 20 % 2-bit, 10 % 3-bit), then p_1 = 1 and p_2 = average - 2.
    Two planes: p_1 = average - 1."""
    if planes not in (2, 3):
        raise ValueError(f"heterogeneous weights need 2 or 3 planes, not {planes}")
    if not 1.0 <= average <= planes:
        raise ValueError(f"average bits {average} must lie within 1..{planes}")
    extra = average - 1.0
    if planes == 2:
        return (extra,)
    p1 = min(1.0, 0.75 * extra)
    return (p1, extra - p1)


def middle_out_counts(cols: int, average: float, planes: int):
    """Weights per output row with more than b planes, b = 1..B-1 (nested: non-increasing)."""
    counts, previous = [], cols
    for p in middle_out_fractions(average, planes):
        previous = min(previous, int(round(p * cols)))
        counts.append(previous)
    return tuple(counts)


def bit_plane_integers(w, planes: int, mu0, counts=None):
    """(q, masks): the integers q = x_hat / unit of the residual binarization of the rows of
    w (C_out, cols) with plane scales mu_0 / 2^b, and the planes each weight has (B, C_out,
    cols) of 0/1. counts None: every weight has every plane. Else the middle-out rule: after
    plane b, the counts[b] weights of the row whose residual |R_{b+1}| is largest (those
    farthest from the plane's step, either side: the middle needs no more bits) among the
    ones that had plane b get plane b + 1."""
    import torch
    rest = w.detach().clone()
    mu0 = torch.as_tensor(mu0, dtype=w.dtype).reshape(-1, 1).expand(w.shape[0], 1)
    q = torch.zeros_like(rest)
    has = torch.ones_like(rest, dtype=torch.bool)
    masks = []
    for b in range(planes):
        if b > 0 and counts is not None:
            score = torch.where(has, rest.abs(), torch.full_like(rest, -1.0))
            top = torch.topk(score, counts[b - 1], dim=1).indices
            has = torch.zeros_like(has).scatter_(1, top, True)
        masks.append(has)
        sign = torch.where(rest >= 0, 1.0, -1.0)
        q += has * sign * 2 ** (planes - 1 - b)
        rest -= has * sign * mu0 / 2 ** b
    return q, torch.stack(masks).to(torch.uint8)


class BitPlaneWeight:
    """The bit-plane weight quantizer (declarative: planes, optional average, optional shared
    constant). quantize(w) -> (x_hat, unit, q, masks) with x_hat = unit * q on the forward pass
    and an identity straight-through gradient to w (plus the gradient of mean |W| through unit,
    as Brevitas' per-channel binary quantizer has).

    planes       B: the most sign planes a weight has (1..3)
    average      None: every weight has B planes; else the target average bits per weight,
                 reached per output row by the middle-out rule (bit_plane_integers), re-chosen
                 from the current weights at every forward pass (so during training)
    shared_scale None: mu_0 = mean |W| per output channel; else mu_0 = this constant (the
                 residual-writing convs: every writer of the stream shares one unit)
    """

    def __init__(self, planes: int, average=None, shared_scale=None):
        if not 1 <= planes <= 3:
            raise ValueError(f"weight planes must be 1..3, not {planes}")
        if average is not None:
            middle_out_fractions(average, planes)   # validates the pair now, not at forward
        self.planes, self.average, self.shared_scale = planes, average, shared_scale

    @property
    def bit_width(self) -> int:
        """The Quant node's width: q lies within +-(2^B - 1), signed narrow range."""
        return self.planes + 1

    def quantize(self, w):
        import torch
        rows = w.reshape(w.shape[0], -1)
        if self.shared_scale is None:
            mu0 = rows.abs().mean(dim=1).clamp_min(1e-8)
        else:
            mu0 = torch.full((w.shape[0],), float(self.shared_scale), dtype=w.dtype, device=w.device)
        counts = None if self.average is None else middle_out_counts(rows.shape[1], self.average, self.planes)
        with torch.no_grad():
            q, masks = bit_plane_integers(rows, self.planes, mu0.detach(), counts)
        unit = (mu0 / 2 ** (self.planes - 1)).reshape(-1, *([1] * (w.dim() - 1)))
        q = q.reshape(w.shape)
        x_hat = unit * q + (w - w.detach())
        return x_hat, unit, q, masks
