"""LowerConv: a Conv or Gemm with binary weights, reading the codes of an integer stream,
becomes an IR `Conv` in accumulator mode (sliding window + matrix-vector unit) followed by a
`Scale` that gives back the float tensor:

    Scale(codes, s) -> Conv(W = sign * a_c)      becomes      Conv_ir(codes, sign) -> Scale(s * a_c)

acc = sum sign * code is exact; s * a_c (input step times weight scale, two float32s) is exact in
float64. Codes that travel with an offset o (a signed or bipolar quantizer: value = s * (code - o))
give sum W (code - o) = acc - o * rowsum(W): the offset o * rowsum(W)[c] goes to the output
Scale, to be folded into the next thresholds or the head (so the conv itself never sees it).
Zero padding would then pad the value -o * s, not 0: a padded conv reading offset codes stops;
but a Pad in front of the conv whose constant is the value of code 0 (pixel-space padding of a
signed input, see LowerInputEmbedding) is exactly the window's padding, and merges into it.

Weights are packed as FORMAT.md says: row o, column (ky*K + kx)*C_in + c. Multi-bit weights (a
Quant of integers w times a_c) become B sign planes, with masks where some weights use fewer
planes (heterogeneous binarization): host.ops.decompose_weights; weights equal to 0 (Brevitas'
narrow 2-bit: ternary) add the `weight_nonzero` mask (Conv `zeros`).

A Gemm or MatMul (an FC layer) is a Conv on a 1 x 1 map; when it reads a flattened N x C x H x W map
(Reshape/Flatten, H == W), it is a K = H conv over that map, its columns reordered from ONNX's
c*H*W + y*W + x to the window order (y, x, c).
"""
import numpy as np
from qonnx.transformation.base import Transformation

from host.ops import conv_weight_params

from . import ir
from .bounds import integer_bounds
from .graph import attr, constant, insert_before, new_tensor, node_error, producer, remove_dead, shape, sole_consumer
from .pad import spatial_pad
from .quantizers import plane_weights

FLATTEN_OPS = ("Reshape", "Flatten")
FC_OPS = ("Gemm", "MatMul")  # Brevitas' QuantLinear exports as Gemm (dynamo) or MatMul (TorchScript)


def _code_zero_pad(model, node, feed):
    """p when `feed` is a spatial constant Pad of p, read only by this Conv, whose value is what
    code 0 of the Scale before it means (the embedding's pixel-space padding of a signed input:
    pixel 0 gives code 0), else None."""
    if node.op_type != "Conv" or feed is None or feed.op_type != "Pad" or ir.is_ir(feed):
        return None
    source = producer(model, feed.input[0])
    if not ir.is_scale(source) or sole_consumer(model, feed.output[0]) is not node:
        return None
    p = spatial_pad(model, feed, any_value=True)
    if p is None:
        return None
    value = constant(model, feed.input[2]) if len(feed.input) > 2 and feed.input[2] else np.float32(0)
    code_zero = -ir.offset_of(model, source) * ir.scale_of(model, source)
    if not np.all(np.float32(code_zero) == np.float32(np.asarray(value).reshape(()))):
        return None
    return p


def _codes_source(model, node):
    """(Scale node, flattened map or None, extra padding) feeding the node's data input, or
    (None, None, 0). Extra padding: a Pad between the Scale and a Conv that pads code 0."""
    feed = producer(model, node.input[0])
    extra = _code_zero_pad(model, node, feed)
    if extra is not None:
        return producer(model, feed.input[0]), None, extra
    if node.op_type in FC_OPS and feed is not None and feed.op_type in FLATTEN_OPS:
        source = producer(model, feed.input[0])
        if ir.is_scale(source):
            in_shape, out_shape = shape(model, feed.input[0]), shape(model, feed.output[0])
            if len(in_shape) == 4 and out_shape == [in_shape[0], int(np.prod(in_shape[1:]))]:
                return source, feed, 0
            raise node_error(feed, f"reshapes {in_shape} to {out_shape}; supported before a Gemm: "
                                   "flattening N x C x H x W to N x (C*H*W)")
        return None, None, 0
    return (feed, None, 0) if ir.is_scale(feed) else (None, None, 0)


def _input_codes(model, node, scale_node, cache):
    """(codes tensor, its bit width, its step, its offset) of the stream the node reads."""
    codes = scale_node.input[0]
    unit = ir.scale_of(model, scale_node)
    offset = ir.offset_of(model, scale_node)
    if not ir.uniform(offset):
        raise node_error(node, f"reads the stream of {codes!r} with per-channel offsets; supported: the "
                               "codes of one quantizer (one offset per tensor)")
    if ir.divisor_of(scale_node) != 1 or not np.all(unit == unit[0]) or not unit[0] > 0:
        raise node_error(node, "reads a stream with per-channel or non-positive scales (an accumulator "
                               "or residual stream?); supported: the codes of an activation Quant or of "
                               "the input embedding, one scale per tensor")
    lo, hi = integer_bounds(model, codes, cache)
    if lo < 0 or hi > 255:
        raise node_error(node, f"reads a stream of range [{lo}, {hi}] (a residual stream?); supported: "
                               "unsigned codes of at most 8 bits (put BN + activation before the conv)")
    return codes, max(1, int(hi).bit_length()), float(unit[0]), float(offset[0])


class LowerConv(Transformation):
    def apply(self, model):
        changed = False
        for node in [n for n in model.graph.node if n.op_type in ("Conv",) + FC_OPS and not ir.is_ir(n)]:
            scale_node, flatten, code_pad = _codes_source(model, node)
            if scale_node is None:
                continue
            codes, in_bits, step, code_offset = _input_codes(model, node, scale_node, {})
            signs, weight_scale, weight_bits = plane_weights(model, node)
            out = node.output[0]
            out_shape = shape(model, out)
            if node.op_type == "Conv":
                kernel = int(attr(node, "kernel_shape")[0])
                stride = int(attr(node, "strides", [1, 1])[0])
                pad = int(attr(node, "pads", [0, 0, 0, 0])[0])
                if pad and code_offset:   # (the conv's own padding is of the value 0)
                    raise node_error(node, f"pads {pad} around codes of a signed or bipolar quantizer "
                                           f"(code {code_offset:g} is the value 0), but the sliding window pads "
                                           "code 0; supported: unpadded convs on such inputs")
                pad += code_pad   # a Pad of code 0 in front (pixel-space padding of the input)
                matrix = signs.transpose(0, 2, 3, 1).reshape(signs.shape[0], -1)
            else:
                if node.op_type == "MatMul" or not attr(node, "transB", 0):
                    signs = signs.T  # (in, out) -> (out, in)
                stride, pad = 1, 0
                if flatten is not None:
                    _, c, h, w = shape(model, flatten.input[0])
                    if h != w:
                        raise node_error(node, f"reads a flattened {h} x {w} map; supported: square maps "
                                               "(the FC becomes an H x H conv)")
                    kernel = h
                    matrix = signs.reshape(signs.shape[0], c, h, w).transpose(0, 2, 3, 1).reshape(signs.shape[0], -1)
                else:
                    kernel = 1
                    matrix = signs
            cols = matrix.shape[1]
            acc = new_tensor(model, f"{node.name}_acc", out_shape)
            attrs, params = conv_weight_params(matrix, weight_bits)
            conv = ir.make_node(model, "Conv", node.name, [codes], [acc],
                                {"kernel": kernel, "stride": stride, "pad": pad, "in_bits": in_bits,
                                 "cols": cols, "output": "accumulator", **attrs}, params)
            unit = step * weight_scale.astype(np.float64)  # two float32s: exact in float64
            offset = code_offset * matrix.astype(np.float64).sum(axis=1) if code_offset else None
            scale = ir.make_scale(model, f"{node.name}_scale", acc, out, unit, offset=offset)
            name = node.name
            node.name = f"{name}__lowered"  # free the name for the IR node
            insert_before(model, node, [conv, scale])
            model.graph.node.remove(node)
            changed = True
        if changed:
            remove_dead(model)
        return model, changed
