"""Brevitas building blocks of ERNs: pixel embedding, 1..4-bit activations, binary and
bit-plane convs."""
import torch
import torch.nn.functional as F
from torch import nn
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU

from .quant import (ACT_SCALE, SHARED_CONSTANT_SCALE, BinaryWeightPerChannelMeanAbs,
                    BinaryWeightSharedConstant, BitPlaneWeight, Uint2ActCodes, Uint2ActRange2,
                    act_scale, thermometer_quant, uint_act_quant)


def thermometer_step(k: int, bits: int) -> int:
    """s of the paper's Eq. 6 (docs/ern.md): max(1, floor(255 / ((2^l - 1) k)))."""
    return max(1, 255 // ((2 ** bits - 1) * k))


def thermometer_codes(pixels: torch.Tensor, k: int = 10, bits: int = 2) -> torch.Tensor:
    """The exact integer form of the generalized thermometer encoding (docs/ern.md), on integer
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


class CodeAct(nn.Module):
    """`bits`-wide unsigned activation of the fixed range [0, 2]: codes q = round(x / step),
    step = 2 / (2^bits - 1). post_scale=True emits q * step; post_scale=False emits the integer
    q (what every activation feeding a shared-constant, residual-writing conv must do)."""

    def __init__(self, bits: int = 2, post_scale: bool = True):
        super().__init__()
        self.bits, self.post_scale = bits, post_scale
        if bits == 1:
            self.act = UnsignedBitAct(act_scale(1) if post_scale else 1.0)
        else:
            self.act = QuantReLU(act_quant=uint_act_quant(bits, post_scale))

    def forward(self, x):
        if not self.post_scale:
            x = x * (1.0 / act_scale(self.bits))
        return self.act(x)


class UnsignedBitAct(nn.Module):
    """1-bit unsigned activation: relu, then q = clamp(round(x / step), 0, 1) (round half to
    even), emitting q * step; straight-through inside [0, step], zero gradient outside (as
    TensorClamp). Brevitas exports every 1-bit quantizer as a BipolarQuant (+-step), which
    is not this function, so this module exports itself: Relu -> Quant(1 bit, unsigned)."""

    def __init__(self, step: float):
        super().__init__()
        self.step = float(step)

    def forward(self, x):
        x = F.relu(x)
        if torch.onnx.is_in_onnx_export():
            from brevitas.export.onnx.qonnx.function import BrevitasQuantOp
            fn = BrevitasQuantOp.dynamo if not torch.jit.is_tracing() else BrevitasQuantOp.torchscript
            return fn.apply(x, torch.tensor(self.step), torch.tensor(0.0), torch.tensor(1.0), False, False,
                            "ROUND")
        clipped = torch.clamp(x, 0.0, self.step)
        return clipped + (torch.round(clipped / self.step) * self.step - clipped).detach()


class TwoBitAct(CodeAct):
    """The w1a2 activation: CodeAct with 2 bits (codes q = round(1.5 x) in 0..3)."""

    def __init__(self, post_scale: bool = True):
        super().__init__(2, post_scale)


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


class BitPlaneConv2d(nn.Conv2d):
    """A conv whose weights are B sign planes (quant.BitPlaneWeight): 2- or 3-bit weights, or a
    heterogeneous mix of 1..3 bits per weight. No bias.

    Export: the quantized weight x_hat = unit * q goes out as a QONNX `Quant` (signed, narrow,
    B + 1 bits, scale = unit per output channel, zero point 0), which reproduces x_hat exactly;
    the lowering (hls/lower/quantizers.py) reads the integers q back and splits them into
    planes and masks. The export pass traces a forward after an eval-mode forward (Brevitas'
    export does one first), so x_hat and unit are taken from buffers that forward filled:
    the graph gets constants, not the middle-out computation."""

    def __init__(self, c_in, c_out, kernel, stride=1, padding=0, quant: BitPlaneWeight = None):
        super().__init__(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.quant = quant
        self.register_buffer("export_weight", None, persistent=False)
        self.register_buffer("export_unit", None, persistent=False)

    def quant_weight(self):
        return self.quant.quantize(self.weight)

    def weight_bits(self) -> int:
        """Bits of all weights (sum of each weight's planes), from the current weights."""
        with torch.no_grad():
            return int(self.quant.quantize(self.weight)[3].sum())

    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            if self.export_weight is None:
                raise RuntimeError("BitPlaneConv2d: export needs an eval-mode forward first "
                                   "(Brevitas' export_qonnx does one)")
            w = _export_quant(self.export_weight, self.export_unit, self.quant.bit_width)
        else:
            w, unit, _, _ = self.quant_weight()
            if not self.training:
                self.export_weight, self.export_unit = w.detach(), unit.detach()
        return F.conv2d(x, w, None, self.stride, self.padding)


def _export_quant(x_hat, unit, bit_width):
    """The QONNX Quant node of x_hat (through Brevitas' own export op, TorchScript or dynamo)."""
    from brevitas.export.onnx.qonnx.function import BrevitasQuantOp
    fn = BrevitasQuantOp.dynamo if not torch.jit.is_tracing() else BrevitasQuantOp.torchscript
    zero = torch.tensor(0.0)
    return fn.apply(x_hat, unit, zero, torch.tensor(float(bit_width)), True, True, "ROUND")


def plane_conv(c_in, c_out, kernel, stride=1, planes=1, average=None, shared_constant=False,
               padding=None):
    """A conv of `planes`-bit weights (or a heterogeneous mix averaging `average` bits):
    binary_conv (Brevitas' binary quantizers, the w1a2 models unchanged) for 1 plane, else a
    BitPlaneConv2d. 'same' padding for odd kernels unless `padding` is given."""
    padding = kernel // 2 if padding is None else padding
    if planes == 1 and average is None:
        quant = BinaryWeightSharedConstant if shared_constant else BinaryWeightPerChannelMeanAbs
        return QuantConv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False,
                           weight_quant=quant)
    quant = BitPlaneWeight(planes, average, SHARED_CONSTANT_SCALE if shared_constant else None)
    return BitPlaneConv2d(c_in, c_out, kernel, stride=stride, padding=padding, quant=quant)
