"""CheckSupported: the first pass. Every node's op, quantizer and attributes are checked before
anything is rewritten, so an unsupported graph stops at once with one line naming every
unsupported node (its op, the tensor it reads and the node writing that tensor; nodes that
share a reason grouped) and what is supported (not with a puzzling failure three passes later,
nor one node per run)."""
from typing import List

import numpy as np
from qonnx.transformation.base import Transformation

from . import ir
from .graph import LoweringError, all_errors, attr, constant, node_error, producer, reason_of
from .quantizers import act_quant, check_weight_quant

# Ops the lowering maps onto the dataflow.
LAYER_OPS = ("Quant", "BipolarQuant", "Conv", "Gemm", "MatMul", "BatchNormalization", "Mul", "Relu", "Add",
             "MaxPool", "ReduceMean", "GlobalAveragePool", "Pad", "Reshape", "Flatten")
# Ops allowed between the graph input and the first quantizer: that subgraph (the pixel
# embedding) is evaluated on all 256 pixel values, not mapped op by op.
EMBEDDING_OPS = ("Unsqueeze", "Squeeze", "Expand", "Tile", "Reshape", "Concat", "Add", "Sub",
                 "Mul", "Div", "Identity", "Cast", "Floor", "Clip")
SUPPORTED_OPS = tuple(sorted(set(LAYER_OPS) | set(EMBEDDING_OPS)))


def _ints(node, name, default) -> List[int]:
    return [int(v) for v in attr(node, name, default)]


def check_node(model, node) -> None:
    op = node.op_type
    if ir.is_ir(node):
        return
    if node.domain not in ("", "ai.onnx", "qonnx.custom_op.general", "onnx.brevitas"):
        raise node_error(node, f"op of domain {node.domain!r} is not supported "
                               f"(supported: {', '.join(SUPPORTED_OPS)})")
    if op not in SUPPORTED_OPS:
        raise node_error(node, f"op is not supported (supported: {', '.join(SUPPORTED_OPS)})")
    if op == "Quant":
        if constant(model, node.input[0]) is not None:
            check_weight_quant(model, node)
        else:
            act_quant(model, node)
    elif op == "BipolarQuant":
        if constant(model, node.input[0]) is None:
            act_quant(model, node)
    elif op == "Conv":
        kernel = _ints(node, "kernel_shape", [])
        if int(attr(node, "group", 1)) != 1:
            raise node_error(node, "grouped/depthwise convolution is not supported (supported: group=1)")
        if any(d != 1 for d in _ints(node, "dilations", [1, 1])):
            raise node_error(node, "dilated convolution is not supported (supported: dilations 1)")
        if len(kernel) != 2 or kernel[0] != kernel[1]:
            raise node_error(node, f"kernel {kernel} is not supported (supported: square 2-D kernels)")
        strides = _ints(node, "strides", [1, 1])
        if len(set(strides)) != 1:
            raise node_error(node, f"strides {strides} are not supported (supported: equal strides)")
        pads = _ints(node, "pads", [0, 0, 0, 0])
        if len(set(pads)) != 1:
            raise node_error(node, f"pads {pads} are not supported (supported: the same padding on every side)")
        if attr(node, "auto_pad", "NOTSET") not in ("NOTSET", ""):
            raise node_error(node, "auto_pad is not supported (supported: explicit pads)")
        if len(node.input) > 2 and node.input[2]:
            raise node_error(node, "a bias is not supported (supported: convolutions without bias)")
    elif op == "Gemm":
        if attr(node, "transA", 0) or float(attr(node, "alpha", 1.0)) != 1.0:
            raise node_error(node, "transA / alpha are not supported (supported: Y = X W^T)")
        if len(node.input) > 2 and node.input[2]:
            raise node_error(node, "a bias is not supported (supported: Gemm without C)")
    elif op == "MatMul":
        weights = producer(model, node.input[1])
        if constant(model, node.input[1]) is None and (weights is None or weights.op_type not in
                                                        ("BipolarQuant", "Quant")):
            raise node_error(node, "a product of two computed tensors is not supported (supported: X times "
                                   "binary weights)")
    elif op == "MaxPool":
        kernel = _ints(node, "kernel_shape", [])
        strides = _ints(node, "strides", [1, 1])
        if len(kernel) != 2 or kernel[0] != kernel[1] or len(set(strides)) != 1:
            raise node_error(node, "supported: square kernels and equal strides")
        if any(_ints(node, "pads", [0, 0, 0, 0])) or attr(node, "ceil_mode", 0) \
                or any(d != 1 for d in _ints(node, "dilations", [1, 1])):
            raise node_error(node, "padding, ceil_mode and dilations are not supported (supported: plain max pool)")
    elif op == "BatchNormalization":
        if any(constant(model, t) is None for t in node.input[1:5]):
            raise node_error(node, "BatchNormalization with computed parameters is not supported")
        if attr(node, "training_mode", 0):
            raise node_error(node, "training mode is not supported (export the model in eval mode)")
    elif op == "Pad":
        if attr(node, "mode", "constant") != "constant":
            raise node_error(node, f"pad mode {attr(node, 'mode')!r} is not supported (supported: constant 0)")
    elif op == "ReduceMean":
        axes = attr(node, "axes", None)
        if axes is None and len(node.input) > 1:
            axes = constant(model, node.input[1])
        rank = len(model.get_tensor_shape(node.input[0]) or [])
        if axes is None or sorted(int(a) % max(rank, 1) for a in np.asarray(axes).reshape(-1)) != [2, 3]:
            raise node_error(node, f"mean over axes {None if axes is None else list(np.asarray(axes).reshape(-1))} "
                                   "is not supported (supported: the global average pool, axes 2 and 3)")


class CheckSupported(Transformation):
    """Raise one LoweringError listing every unsupported node; never changes the model."""

    def apply(self, model):
        problems = []
        for node in model.graph.node:
            try:
                check_node(model, node)
            except LoweringError as e:
                problems.append((node, reason_of(e, node)))
        if problems:
            raise all_errors(model, problems)
        return model, False
