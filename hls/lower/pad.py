"""MergePadIntoConv: a zero Pad in front of convolutions becomes their own zero padding.

CNV pads its 28x28 input to 32x32 before the 8-bit input quantizer and an unpadded conv. A
constant-0 Pad of the spatial axes, the same on every side, commutes with a zero-preserving
unsigned quantizer (Quant(0) = 0 with zero point 0), so

    Pad(p) -> [Quant] -> Conv(pads=q)     becomes     [Quant] -> Conv(pads=q+p)

which the dataflow's sliding window does for free (the padded code is 0).
"""
import numpy as np
from onnx import helper
from qonnx.transformation.base import Transformation

from .graph import attr, constant, consumers, is_graph_output, node_error, remove_nodes, shape


def spatial_pad(model, node, any_value=False):
    """p when the Pad adds p zeros (any_value: p copies of one constant) on every side of H and W
    only, else None."""
    if attr(node, "mode", "constant") != "constant":
        return None
    pads = attr(node, "pads", None)
    if pads is None and len(node.input) > 1:
        pads = constant(model, node.input[1])
    if pads is None:
        return None
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    if len(node.input) > 2 and node.input[2]:
        value = constant(model, node.input[2])
        if value is None or (np.any(np.asarray(value) != 0) and not any_value):
            return None
    if len(node.input) > 3 and node.input[3]:
        return None  # explicit axes: not the plain 4-D form
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or len(set(pads[i] for i in (2, 3, 6, 7))) != 1:
        return None
    return pads[2] if pads[2] > 0 else None


def _is_zero_preserving_quant(model, node):
    if node.op_type != "Quant" or attr(node, "signed", 1):
        return False
    zero_point = constant(model, node.input[2]) if len(node.input) > 2 else None
    return zero_point is not None and np.all(np.asarray(zero_point) == 0)


def _set_pads(node, pads):
    for a in list(node.attribute):
        if a.name == "pads":
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute("pads", [int(p) for p in pads]))


class MergePadIntoConv(Transformation):
    def apply(self, model):
        for pad_node in [n for n in model.graph.node if n.op_type == "Pad"]:
            p = spatial_pad(model, pad_node)
            if p is None:
                continue
            padded = pad_node.output[0]
            readers = consumers(model, padded)
            if is_graph_output(model, padded) or not readers:
                continue
            quant = None
            if len(readers) == 1 and _is_zero_preserving_quant(model, readers[0]):
                quant = readers[0]
                if is_graph_output(model, quant.output[0]):
                    continue
                convs = consumers(model, quant.output[0])
            else:
                convs = readers
            if not convs or any(c.op_type != "Conv" for c in convs):
                continue
            source = pad_node.input[0]
            unpadded = shape(model, source)
            for conv in convs:
                old = [int(v) for v in attr(conv, "pads", [0, 0, 0, 0])]
                if len(set(old)) != 1:
                    raise node_error(conv, f"pads {old} are not supported (supported: the same on every side)")
                _set_pads(conv, [old[0] + p] * 4)
            if quant is not None:
                quant.input[0] = source
                model.set_tensor_shape(quant.output[0], unpadded)
            else:
                for conv in convs:
                    conv.input[0] = source
            remove_nodes(model, [pad_node])
            return model, True
        return model, False
