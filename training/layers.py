"""Brevitas building blocks of ERNs: pixel embedding, 2-bit activation, binary convs."""
import torch
from torch import nn
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU

from .quant import (ACT_SCALE, BinaryWeightPerChannelMeanAbs, BinaryWeightSharedConstant,
                    Uint2ActCodes, Uint2ActRange2, thermometer_quant)


def thermometer_step(k: int, bits: int) -> int:
    """s of ern.md Eq. 6: max(1, floor(255 / ((2^l - 1) k)))."""
    return max(1, 255 // ((2 ** bits - 1) * k))


def thermometer_codes(pixels: torch.Tensor, k: int = 10, bits: int = 2) -> torch.Tensor:
    """The exact integer form of the generalized thermometer encoding (ern.md), on integer
    tensors: z_i = clamp(floor((x + s(k-1-i)) / (s k)), 0, 2^l - 1), channels colour-major."""
    s = thermometer_step(k, bits)
    x = pixels.long().repeat_interleave(k, dim=1)
    i = torch.arange(k).repeat(pixels.shape[1]).view(1, -1, 1, 1)
    return torch.clamp(torch.div(x + s * (k - 1 - i), s * k, rounding_mode="floor"),
                       0, 2 ** bits - 1)


class PixelEmbedding(nn.Module):
    """Generalized thermometer encoding of raw 8-bit pixels: each colour channel becomes k
    channels of l-bit codes. Fixed (nothing to learn). Written as repeat -> add an integer
    offset -> a FLOOR quantizer with step s*k, so that it exports to plain QONNX and the
    lowering can turn it into integer thresholds on the pixel. Output: code * s * k (the
    constant step is absorbed by the first BN)."""

    def __init__(self, in_channels: int, k: int = 10, bits: int = 2):
        super().__init__()
        self.in_channels, self.k, self.bits = in_channels, k, bits
        s = thermometer_step(k, bits)
        offsets = torch.tensor([float(s * (k - 1 - i)) for i in range(k)] * in_channels)
        self.register_buffer("offset", offsets.view(1, -1, 1, 1), persistent=False)
        self.quant = QuantIdentity(act_quant=thermometer_quant(s * k, bits))

    @property
    def out_channels(self) -> int:
        return self.in_channels * self.k

    def forward(self, x):
        return self.quant(x.repeat_interleave(self.k, dim=1) + self.offset)


class TwoBitAct(nn.Module):
    """2-bit unsigned activation of the fixed range [0, 2]: codes q = round(1.5 x) in 0..3.
    post_scale=True emits q * 2/3; post_scale=False emits the integer q, which is what every
    activation feeding a shared-constant (residual-writing) conv must do."""

    def __init__(self, post_scale: bool = True):
        super().__init__()
        self.post_scale = post_scale
        self.act = QuantReLU(act_quant=Uint2ActRange2 if post_scale else Uint2ActCodes)

    def forward(self, x):
        if not self.post_scale:
            x = x * (1.0 / ACT_SCALE)
        return self.act(x)


def binary_conv(c_in, c_out, kernel, stride=1, shared_constant=False):
    """Binary-weight conv, 'same' padding for odd kernels, no bias."""
    quant = BinaryWeightSharedConstant if shared_constant else BinaryWeightPerChannelMeanAbs
    return QuantConv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False,
                       weight_quant=quant)


def binary_conv_valid(c_in, c_out, kernel):
    """Binary-weight conv without padding (CNV's convs)."""
    return QuantConv2d(c_in, c_out, kernel, padding=0, bias=False,
                       weight_quant=BinaryWeightPerChannelMeanAbs)


def binary_linear(c_in, c_out):
    return QuantLinear(c_in, c_out, bias=False, weight_quant=BinaryWeightPerChannelMeanAbs)
