"""AbsorbActivation: BN + Mul + Relu + Quant on an integer stream become integer thresholds.

    Scale(acc, unit, offset) -> [Mul c]* -> [BatchNormalization] -> [Mul c]* -> [Relu] -> Quant(s, bits)

(the Quant unsigned or signed, or a BipolarQuant) becomes `Threshold(acc)` (or, when acc comes
straight from an accumulator-mode Conv read by nothing else, that Conv in threshold mode) ->
codes -> Scale(s, offset). The thresholds come from hls.lower.thresholds (exact derivation,
direction -1 where the BN scale is negative, the stream's offset folded in) over the stream's
worst-case range, and are checked there by brute force against the float32 chain; the counts of
that check (ties) are kept in `self.report`, one entry per layer. The codes travel unsigned:
signed `q - qmin`, bipolar `(q + 1) / 2` (the XNOR form), and the Scale after them carries the
quantizer's offset on to whoever reads them.
"""
import numpy as np
from qonnx.transformation.base import Transformation

from . import ir
from .bounds import integer_bounds
from .graph import (LoweringError, attr, constant, consumers, fresh_name, indexed_name, insert_before,
                    node_error, per_channel, producer, remove_dead, shape, sole_consumer)
from .quantizers import act_quant
from .thresholds import ActivationChain, BatchNorm, derive, verify

CHAIN_OPS = ("Mul", "BatchNormalization", "Relu", "Quant", "BipolarQuant")
QUANT_OPS = ("Quant", "BipolarQuant")


def _mul_constant(model, node, count):
    values = [constant(model, t) for t in node.input]
    if sum(v is not None for v in values) != 1:
        raise node_error(node, "supported in a BN/activation chain: Mul by one constant")
    value = per_channel(next(v for v in values if v is not None), count, f"{node.name} constant")
    if np.any(value <= 0):
        raise node_error(node, "Mul by a non-positive constant before an activation is not supported "
                               "(supported: positive constants, like TwoBitAct's 1.5)")
    return value


def _batch_norm(model, node, count):
    gamma, beta, mean, var = (per_channel(constant(model, t), count, f"{node.name} {what}")
                              for t, what in zip(node.input[1:5], ("scale", "bias", "mean", "var")))
    f32 = lambda v: v.astype(np.float32)  # noqa: E731  (ONNX BN parameters are float32)
    return BatchNorm(f32(gamma), f32(beta), f32(mean), f32(var), float(np.float32(attr(node, "epsilon", 1e-5))))


def find_chain(model, scale_node):
    """The chain's nodes (ending in a Quant) after a Scale, or None when the Scale's output is
    not read by exactly such a chain."""
    chain, tensor = [], scale_node.output[0]
    while True:
        node = sole_consumer(model, tensor)
        if node is None:
            readers = consumers(model, tensor)
            if chain and any(r.op_type in CHAIN_OPS for r in readers):
                raise node_error(chain[-1], "its output is read by several nodes inside a "
                                            "BN/activation chain (supported: one reader up to the Quant)")
            return None
        if ir.is_ir(node) or node.op_type not in CHAIN_OPS:
            return None
        if node.op_type == "Mul" and list(node.input).index(tensor) != 0 and constant(model, node.input[0]) is None:
            return None
        if node.op_type in QUANT_OPS and constant(model, node.input[0]) is not None:
            return None
        chain.append(node)
        if node.op_type in QUANT_OPS:
            return chain
        tensor = node.output[0]


class AbsorbActivation(Transformation):
    def __init__(self):
        super().__init__()
        self.report = {}

    def apply(self, model):
        for scale_node in [n for n in model.graph.node if ir.is_scale(n)]:
            chain_nodes = find_chain(model, scale_node)
            if chain_nodes is None:
                continue
            self._absorb(model, scale_node, chain_nodes)
            return model, True
        return model, False

    def _absorb(self, model, scale_node, chain_nodes):
        quant = chain_nodes[-1]
        spec = act_quant(model, quant)
        count = shape(model, scale_node.output[0])[1]
        if ir.divisor_of(scale_node) != 1:
            raise node_error(chain_nodes[0], "an activation after a global pool is not supported")
        unit = ir.scale_of(model, scale_node).copy()
        if unit.size == 1:
            unit = np.full(count, unit[0])
        offset = ir.offset_of(model, scale_node)
        relu = any(n.op_type == "Relu" for n in chain_nodes)
        bn, gain, pre_gain = None, [], []
        for node in chain_nodes[:-1]:
            if node.op_type == "BatchNormalization":
                if bn is not None:
                    raise node_error(node, "two BatchNormalizations in one chain are not supported")
                bn = _batch_norm(model, node, count)
            elif node.op_type == "Mul":
                m = _mul_constant(model, node, count)
                (pre_gain if bn is None else gain).append(m)
        chain = ActivationChain(unit=unit, pre_gain=pre_gain, bn=bn, gain=gain,
                                quant_scale=spec.scale, bits=spec.bits,
                                narrow=spec.narrow, rounding=spec.rounding, signed=spec.signed,
                                bipolar=spec.bipolar, relu=relu, offset=offset)
        acc = scale_node.input[0]
        lo, hi = integer_bounds(model, acc)
        where_text = f"{quant.name} (after {chain_nodes[0].name})"
        try:
            thresholds, direction = derive(chain, lo, hi)
            stats = verify(chain, thresholds, direction, lo, hi)
        except LoweringError as e:
            raise LoweringError(f"{where_text}: {e}") from None
        codes_shape = shape(model, quant.output[0])
        source = producer(model, acc)
        merge = (source is not None and ir.is_ir(source, "Conv") and attr(source, "output") == "accumulator"
                 and sole_consumer(model, acc) is scale_node)
        params = {"thresholds": thresholds, "direction": direction}
        if merge:
            name = source.name
            source.name = f"{name}__lowered"
            codes = fresh_name(model, f"{name}_out")
            model.set_tensor_shape(codes, codes_shape)
            attrs = dict(ir.node_attrs(source), output="threshold", out_bits=spec.bits)
            data, conv_params = ir.split_inputs(source)
            for weight_param in ("weights", "weight_planes", "weight_masks", "weight_nonzero"):  # if any
                if weight_param in conv_params:
                    params[weight_param] = model.get_initializer(conv_params[weight_param])
            layer = ir.make_node(model, "Conv", name, data, [codes], attrs, params)
            anchor = source
        else:
            name = indexed_name(model, "Threshold")
            codes = fresh_name(model, f"{name}_out")
            model.set_tensor_shape(codes, codes_shape)
            layer = ir.make_node(model, "Threshold", name, [acc], [codes], {"out_bits": spec.bits}, params)
            anchor = scale_node
        back = ir.make_scale(model, fresh_name(model, f"{name}_scale"), codes, quant.output[0],
                             np.full(count, spec.code_unit, np.float64), offset=np.float64(spec.code_offset))
        insert_before(model, anchor, [layer])
        insert_before(model, quant, [back])
        quant_out = quant.output[0]
        for node in chain_nodes:
            model.graph.node.remove(node)
        if merge:
            model.graph.node.remove(source)
        model.graph.node.remove(scale_node)
        remove_dead(model)
        self.report[name] = dict(stats, range=[int(lo), int(hi)], quantizer=quant.name,
                                 output=quant_out)
