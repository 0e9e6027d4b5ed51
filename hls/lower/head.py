"""AbsorbHeadAffine: a scalar (or per-class) affine map on the logits joins the host-side head.

Brevitas' bnn_pynq models end with TensorNorm, a scalar affine exported as Sub, Div, Mul, Add with
constants (only the last node keeps a telling name). After the last FC the logits are
Scale(class sums, s, offset); each such node, when every path from it leads through such nodes
to the graph output, is folded into that Scale:

    Mul c: s -> s * c        Div c: s -> s / c        (c nonzero; a negative c only flips signs)
    Add c: offset -> offset - c * divisor / s        Sub c (x - c): offset -> offset + c * divisor / s

so the accelerator keeps emitting the integer class sums and the host applies
logits = s * (sums - offset) / divisor (the package's head: scale, divisor and bias =
-s * offset / divisor). The folded map is float64; it is not exact, only what the host computes.
"""
import numpy as np
from qonnx.transformation.base import Transformation

from . import ir
from .graph import constant, is_graph_output, node_error, per_channel, remove_dead, shape, sole_consumer

AFFINE_OPS = ("Mul", "Div", "Add", "Sub")


def _affine_constant(model, node):
    """(constant, True when the stream is the first operand) or None."""
    if node.op_type not in AFFINE_OPS or ir.is_ir(node) or len(node.input) != 2:
        return None
    a, b = (constant(model, t) for t in node.input)
    if (a is None) == (b is None):
        return None
    return (b, True) if b is not None else (a, False)


def _leads_to_output(model, tensor):
    """Whether `tensor` reaches the graph output through affine nodes with constants only."""
    while not is_graph_output(model, tensor):
        node = sole_consumer(model, tensor)
        if node is None or _affine_constant(model, node) is None:
            return False
        tensor = node.output[0]
    return True


class AbsorbHeadAffine(Transformation):
    def apply(self, model):
        for scale_node in [n for n in model.graph.node if ir.is_scale(n)]:
            node = sole_consumer(model, scale_node.output[0])
            if node is None or _affine_constant(model, node) is None or not _leads_to_output(model, node.output[0]):
                continue
            value, stream_first = _affine_constant(model, node)
            classes = shape(model, node.output[0])[1]
            c = per_channel(value, classes, f"{node.name} constant")
            if shape(model, node.output[0]) != shape(model, scale_node.output[0]):
                raise node_error(node, "broadcasts the logits to another shape (supported: a scalar or "
                                       "per-class affine map on the logits)")
            scale = np.broadcast_to(ir.scale_of(model, scale_node), (classes,)).astype(np.float64)
            offset = np.broadcast_to(ir.offset_of(model, scale_node), (classes,)).astype(np.float64)
            divisor = ir.divisor_of(scale_node)
            op = node.op_type
            if op in ("Mul", "Div") and np.any(c == 0):
                raise node_error(node, f"{op} by 0 on the logits is not supported")
            if op == "Mul":
                scale = scale * c
            elif op == "Div" and stream_first:
                scale = scale / c
            elif op == "Add":
                offset = offset - c * divisor / scale
            elif op == "Sub" and stream_first:
                offset = offset + c * divisor / scale
            elif op == "Sub":       # c - x = -(x - c)
                offset = offset + c * divisor / scale
                scale = -scale
            else:
                raise node_error(node, "divides a constant by the logits (supported: logits * c, / c, + c, - c)")
            new = ir.make_scale(model, scale_node.name, scale_node.input[0], node.output[0], scale, divisor,
                                offset)
            index = list(model.graph.node).index(scale_node)
            model.graph.node.remove(scale_node)
            model.graph.node.remove(node)
            model.graph.node.insert(index, new)
            remove_dead(model)
            return model, True
        return model, False
