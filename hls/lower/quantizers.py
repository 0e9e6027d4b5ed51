"""Reading QONNX quantizers: activation Quant nodes and binary weights.

What is supported (everything else stops with a one-line error naming the node):
- activations: `Quant`, unsigned or signed (narrow or not), zero point 0, 1..8 bits, one
  positive scale per tensor, rounding ROUND (half to even), FLOOR, CEIL, HALF_UP or HALF_DOWN;
  or `BipolarQuant` (+-s). Codes always travel unsigned: code = q - qmin (signed: the offset
  -qmin is folded into whoever reads them), bipolar code = (q + 1) / 2 (the XNOR form);
- weights: `BipolarQuant` (sign(W), +1 at 0, times a positive scale per output channel or per
  tensor), or a constant already of the form +-a_c per output channel; or multi-bit weights
  (training/quant.py's bit-plane quantizer): a signed narrow-range `Quant` of B + 1 bits
  (B = 2..3), zero point 0, positive scale per output channel, round-to-nearest (each nonzero
  integer is a sum of sign planes, host.ops.decompose_weights); Brevitas' narrow signed
  2-bit weights are ternary {-1, 0, +1}: a sign plane and a nonzero mask (Conv `zeros`).
"""
import dataclasses

import numpy as np
from onnx import NodeProto

from .graph import attr, constant, node_error, producer, where
from .thresholds import ROUNDING_MODES

ACT_SUPPORTED = ("Quant (unsigned or signed) with zero point 0, 1..8 bits, one positive scale per tensor, "
                 f"rounding {'/'.join(ROUNDING_MODES)}, or BipolarQuant")
WEIGHT_SUPPORTED = ("BipolarQuant (binary weights: sign(W) times a positive scale per output channel), or "
                    "a signed Quant of 2..4 bits (narrow; 2..3 bits not narrow), zero point 0, one scale "
                    "per output channel (2 bits narrow: ternary -1/0/+1; else bit planes)")
MAX_ACT_BITS = 8


@dataclasses.dataclass(frozen=True)
class ActQuant:
    """An activation quantizer: q = clamp(round(x / scale), qmin, qmax) (bipolar: q = +-1,
    +1 where x >= 0). On the dataflow its codes travel unsigned, `code = q - qmin` (bipolar:
    (q + 1) / 2), so the float value is `code_unit * (code - code_offset)`."""
    scale: float
    bits: int
    narrow: bool
    rounding: str
    signed: bool = False
    bipolar: bool = False

    @property
    def qmin(self) -> int:
        if self.bipolar:
            return -1
        if not self.signed:
            return 0
        return -(2 ** (self.bits - 1)) + (1 if self.narrow else 0)

    @property
    def qmax(self) -> int:
        if self.bipolar:
            return 1
        if not self.signed:
            return 2 ** self.bits - (2 if self.narrow else 1)
        return 2 ** (self.bits - 1) - 1

    @property
    def code_max(self) -> int:
        """The largest unsigned code."""
        return 1 if self.bipolar else self.qmax - self.qmin

    @property
    def code_offset(self) -> float:
        return 0.5 if self.bipolar else float(-self.qmin)

    @property
    def code_unit(self) -> float:
        return 2.0 * self.scale if self.bipolar else self.scale

    def codes(self, values: np.ndarray) -> np.ndarray:
        """The unsigned codes of the quantizer's float outputs (integers up to float rounding)."""
        return np.rint(np.asarray(values, np.float64) / self.code_unit + self.code_offset)


def _scalar(model, node: NodeProto, index: int, what: str) -> float:
    value = constant(model, node.input[index]) if len(node.input) > index else None
    if value is None:
        raise node_error(node, f"its {what} must be a constant ({ACT_SUPPORTED})")
    value = np.asarray(value)
    if value.size != 1:
        raise node_error(node, f"per-channel {what} ({value.size} values) is not supported ({ACT_SUPPORTED})")
    return float(value.reshape(()))


def act_quant(model, node: NodeProto) -> ActQuant:
    """The parameters of an activation Quant or BipolarQuant node, or a one-line error saying
    what is supported."""
    if constant(model, node.input[0]) is not None:
        bits = constant(model, node.input[3]) if node.op_type == "Quant" and len(node.input) > 3 else None
        bits_text = f"{float(np.asarray(bits).reshape(-1)[0]):g}-bit " if bits is not None else ""
        raise node_error(node, f"{bits_text}weight quantizer is not supported (supported: {WEIGHT_SUPPORTED})")
    if node.op_type == "BipolarQuant":
        scale = _scalar(model, node, 1, "scale")
        if not scale > 0:
            raise node_error(node, f"scale {scale} is not positive (supported: {ACT_SUPPORTED})")
        return ActQuant(float(np.float32(scale)), 1, False, "ROUND", signed=True, bipolar=True)
    scale = _scalar(model, node, 1, "scale")
    zero_point = _scalar(model, node, 2, "zero point")
    bits = _scalar(model, node, 3, "bit width")
    if not scale > 0:
        raise node_error(node, f"scale {scale} is not positive (supported: {ACT_SUPPORTED})")
    if zero_point != 0:
        raise node_error(node, f"zero point {zero_point:g} is not supported (supported: {ACT_SUPPORTED})")
    signed = bool(attr(node, "signed", 1))
    if bits != int(bits) or not 1 <= bits <= MAX_ACT_BITS or (signed and bits < 2):
        raise node_error(node, f"{bits:g}-bit {'signed ' if signed else ''}activations are not supported "
                               f"(supported: 1..{MAX_ACT_BITS} bits unsigned, 2..{MAX_ACT_BITS} signed, "
                               "or BipolarQuant)")
    rounding = str(attr(node, "rounding_mode", "ROUND")).upper()
    if rounding not in ROUNDING_MODES:
        raise node_error(node, f"rounding mode {rounding} is not supported (supported: {', '.join(ROUNDING_MODES)})")
    return ActQuant(float(np.float32(scale)), int(bits), bool(attr(node, "narrow", 0)), rounding, signed=signed)


def binary_weights(model, node: NodeProto, index: int = 1):
    """(signs, scales) of the weights a Conv/Gemm node reads at input `index`: signs is an
    int8 array of +-1 of the weight tensor's shape, scales float32 (C_out,) with
    weights = signs * scale[out channel] (out channel: axis 0, or axis 1 of a Gemm with
    transB=0, or of a MatMul)."""
    tensor = node.input[index]
    source = producer(model, tensor)
    if source is not None:
        if source.op_type == "BipolarQuant":
            raw = constant(model, source.input[0])
            scale = constant(model, source.input[1])
            if raw is None or scale is None:
                raise node_error(source, "binary quantizer of computed values (activations?) is not "
                                         f"supported (supported: {WEIGHT_SUPPORTED} on constant weights)")
            if np.any(np.asarray(scale) <= 0):
                raise node_error(source, "weight scale must be positive")
            from qonnx.custom_op.general.bipolar_quant import binary_quant
            value = binary_quant(np.asarray(raw, np.float32), np.asarray(scale, np.float32))
        elif source.op_type == "Quant":
            raise node_error(node, f"weights quantized by {where(source)} are bit-plane weights; "
                                   "read them with plane_weights")
        else:
            raise node_error(node, f"weights computed by {where(source)} are not supported "
                                   f"(supported: {WEIGHT_SUPPORTED})")
    else:
        value = constant(model, tensor)
        if value is None:
            raise node_error(node, f"weights {tensor!r} are neither a constant nor quantized "
                                   f"(supported: {WEIGHT_SUPPORTED})")
    value = np.asarray(value, np.float32)
    out_axis = 0
    if node.op_type == "MatMul" or (node.op_type == "Gemm" and not attr(node, "transB", 0)):
        out_axis = 1
    rows = np.moveaxis(value, out_axis, 0).reshape(value.shape[out_axis], -1)
    magnitude = np.abs(rows)
    if np.any(magnitude == 0) or np.any(magnitude != magnitude[:, :1]):
        raise node_error(node, f"weights are not binary (+-a per output channel); supported: {WEIGHT_SUPPORTED}")
    signs = np.where(value > 0, 1, -1).astype(np.int8)
    return signs, magnitude[:, 0].astype(np.float32)


MAX_PLANES = 3   # host.ops.MAX_WEIGHT_BITS


def _plane_quant(model, node: NodeProto, source: NodeProto):
    """(quantized values, scale, planes B) of the weight Quant node `source`, or a one-line error."""
    raw = constant(model, source.input[0])
    scale = constant(model, source.input[1])
    zero_point = constant(model, source.input[2]) if len(source.input) > 2 else None
    bits = constant(model, source.input[3]) if len(source.input) > 3 else None
    if raw is None or scale is None or zero_point is None or bits is None:
        raise node_error(source, f"weight quantizer of computed values or parameters (supported: {WEIGHT_SUPPORTED})")
    bits = float(np.asarray(bits).reshape(-1)[0])
    narrow = bool(attr(source, "narrow", 0))
    # narrow: |w| <= 2^(bits-1) - 1 (2 bits: ternary, 1 plane + the nonzero mask); else w may
    # also be -2^(bits-1), one plane more
    planes = max(1, int(bits) - 1) if narrow else int(bits)
    if bits != int(bits) or not 2 <= bits or planes > MAX_PLANES:
        raise node_error(source, f"{bits:g}-bit{'' if narrow else ' non-narrow'} weights are not supported "
                                 f"(supported: {WEIGHT_SUPPORTED}; 1-bit weights export as BipolarQuant)")
    if not attr(source, "signed", 1) or np.any(np.asarray(zero_point) != 0):
        raise node_error(source, f"weights must be signed, zero point 0 (supported: {WEIGHT_SUPPORTED})")
    rounding = str(attr(source, "rounding_mode", "ROUND")).upper()
    if rounding != "ROUND":
        raise node_error(source, f"rounding mode {rounding} of weights is not supported (supported: ROUND)")
    scale = np.asarray(scale, np.float32)
    if np.any(scale <= 0):
        raise node_error(source, "weight scale must be positive")
    from qonnx.custom_op.general.quant import quant
    value = quant(np.asarray(raw, np.float32), scale, np.float32(0), np.float32(bits), 1, 1, "ROUND")
    return value, scale, planes


def check_weight_quant(model, node: NodeProto) -> None:
    """A Quant node on constant weights: a one-line error unless it is a bit-plane quantizer."""
    _plane_quant(model, node, node)


def plane_weights(model, node: NodeProto, index: int = 1):
    """(integers, scales, planes B) of the weights a Conv/Gemm node reads at input `index`:
    integers an int8 array of the weight tensor's shape with |w| <= 2^B - 1 (a sum of B sign
    planes, masked where fewer; 0 where the weight is 0: host.ops' `zeros`), scales float32
    (C_out,) with weights = integers * scale[out channel]. B = 1 (binary_weights): integers are
    the signs; B = 1 from a 2-bit Quant: ternary -1/0/+1."""
    source = producer(model, node.input[index])
    if source is None or source.op_type != "Quant":
        signs, scales = binary_weights(model, node, index)
        return signs, scales, 1
    value, scale, planes = _plane_quant(model, node, source)
    out_axis = 0
    if node.op_type == "MatMul" or (node.op_type == "Gemm" and not attr(node, "transB", 0)):
        out_axis = 1
    scale = np.broadcast_to(scale, value.shape)
    rows = np.moveaxis(scale, out_axis, 0).reshape(value.shape[out_axis], -1)
    if np.any(rows != rows[:, :1]):
        raise node_error(source, f"weight scales are not one per output channel (supported: {WEIGHT_SUPPORTED})")
    integers = np.rint(value / scale)
    return integers.astype(np.int8), rows[:, 0].astype(np.float32), planes
