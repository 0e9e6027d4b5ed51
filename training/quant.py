"""Brevitas quantizers for w1a2 ERNs, as small declarative classes.

The integer contract with the rest of the pipeline (architecture.md):
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
