"""The lowering's intermediate representation: qonnx custom ops in the domain `hls.lower.ir`.

While the passes run, the graph is a mix of QONNX nodes and IR nodes, and it stays executable
with qonnx's `execute_onnx` at every step (so each pass can be checked by running the graph
before and after it):

- One IR op per model-package op (`Thermometer`, `Conv`, `Threshold`, `Add`, `Duplicate`,
  `GlobalSum`, `MaxPool`): the node's ONNX attributes are exactly the op's model.json
  attributes, and its params are initializers named `<node>.<param>` appended to its inputs in
  the op's `param_names()` order, already in their params.npz form (packed weights, int32
  thresholds, int8 directions). Execution is host.ops' own `execute`, on integer arrays.
- `Scale`: the only float IR op. `y = (x - offset[c]) * scale[c] / divisor` turns an integer stream back into
  the float tensor the original graph had there. Every integer stream leaves the integer world
  through a Scale until a pass absorbs the Scale (into thresholds, an add, the head); what is
  left at the end is the head's per-class scale and divisor. The scale is float64: a product of
  two float32 scales (input step x weight scale) is exact in float64, so the threshold
  derivation sees the exact value.

Tensors keep ONNX's layout (N x C x H x W, or N x C after a flatten); execution converts to the
package's channel-last layout and back.
"""
import json
from typing import Dict, List, Optional, Sequence

import numpy as np
from onnx import NodeProto, helper
from qonnx.custom_op.base import CustomOp

from host import ops

from .graph import LoweringError, attr, node_error

DOMAIN = "hls.lower.ir"
PROVENANCE_KEY = "hls.lower.provenance"
SCALE = "Scale"
PACKAGE_OPS = tuple(ops.OPS)  # the ops of host/FORMAT.md


def is_ir(node: NodeProto, op: Optional[str] = None) -> bool:
    return node.domain == DOMAIN and (op is None or node.op_type == op)


def is_scale(node: Optional[NodeProto]) -> bool:
    return node is not None and is_ir(node, SCALE)


def node_attrs(node: NodeProto) -> Dict[str, object]:
    return {a.name: attr(node, a.name) for a in node.attribute}


def operator(node: NodeProto) -> ops.Op:
    """The host.ops operator of an IR package node (validates its attributes)."""
    cls = ops.op_class(node.op_type)
    try:
        return cls.from_layer(node_attrs(node), cls.n_inputs, len(node.output))
    except ops.OpError as e:
        raise node_error(node, str(e)) from None


def split_inputs(node: NodeProto):
    """(data input tensors, {param: initializer name}) of an IR package node."""
    names = operator(node).param_names()
    cut = len(node.input) - len(names)
    return list(node.input[:cut]), dict(zip(names, node.input[cut:]))


def data_inputs(node: NodeProto) -> List[str]:
    if is_scale(node):
        return [node.input[0]]
    return split_inputs(node)[0]


def params(model, node: NodeProto) -> Dict[str, np.ndarray]:
    return {p: model.get_initializer(t) for p, t in split_inputs(node)[1].items()}


def make_node(model, op: str, name: str, inputs: Sequence[str], outputs: Sequence[str],
              attrs: Optional[Dict[str, object]] = None,
              params: Optional[Dict[str, np.ndarray]] = None) -> NodeProto:
    """An IR package node (not yet inserted); its params become initializers `<name>.<param>`."""
    cls = ops.op_class(op)
    try:
        op_obj = cls.from_layer(dict(attrs or {}), cls.n_inputs, len(outputs))
    except ops.OpError as e:
        raise LoweringError(f"{op} {name!r}: {e}") from None
    params = dict(params or {})
    param_tensors = []
    for p in op_obj.param_names():
        if p not in params:
            raise LoweringError(f"{op} {name!r}: param {p!r} missing")
        key = f"{name}.{p}"
        model.set_initializer(key, np.ascontiguousarray(params[p]))
        param_tensors.append(key)
    return helper.make_node(op, list(inputs) + param_tensors, list(outputs), name=name,
                            domain=DOMAIN, **op_obj.attrs())


def make_scale(model, name: str, x: str, out: str, scale: np.ndarray, divisor: int = 1,
               offset: Optional[np.ndarray] = None) -> NodeProto:
    """A Scale node: out = (x - offset[c]) * scale[c] / divisor (scale, offset: one float64 per
    channel or one for all; no offset: 0). Records in the model's provenance that integer
    tensor x is the original tensor `out` times divisor / scale, plus offset (so streams can be
    compared with the original graph, layer by layer)."""
    key = f"{name}.scale"
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    model.set_initializer(key, scale)
    inputs = [x, key]
    entry = {"onnx": out, "scale": scale.tolist(), "divisor": int(divisor)}
    if offset is not None and np.any(np.asarray(offset) != 0):
        offset = np.asarray(offset, dtype=np.float64).reshape(-1)
        inputs.append(f"{name}.offset")
        model.set_initializer(inputs[-1], offset)
        entry["offset"] = offset.tolist()
    record = provenance(model)
    record[x] = entry
    model.set_metadata_prop(PROVENANCE_KEY, json.dumps(record))
    return helper.make_node(SCALE, inputs, [out], name=name, domain=DOMAIN, divisor=int(divisor))


def provenance(model) -> Dict[str, Dict]:
    """{integer tensor: {"onnx": original tensor, "scale": [...], "divisor": d}}: original =
    integer * scale[c] / divisor, for every integer tensor a Scale was ever made for."""
    text = model.get_metadata_prop(PROVENANCE_KEY)
    return json.loads(text) if text else {}


def scale_of(model, node: NodeProto) -> np.ndarray:
    return np.asarray(model.get_initializer(node.input[1]), dtype=np.float64)


def offset_of(model, node: NodeProto) -> np.ndarray:
    """The Scale's offset (float64, one per channel or one for all; [0.] when it has none)."""
    if len(node.input) > 2 and node.input[2]:
        return np.asarray(model.get_initializer(node.input[2]), dtype=np.float64).reshape(-1)
    return np.zeros(1, np.float64)


def uniform(values: np.ndarray) -> bool:
    values = np.asarray(values).reshape(-1)
    return bool(np.all(values == values[0]))


def divisor_of(node: NodeProto) -> int:
    return int(attr(node, "divisor", 1))


# -- execution (qonnx custom ops) ----------------------------------------------------------------

def to_channel_last(x: np.ndarray) -> np.ndarray:
    """N x C x H x W (or N x C) -> N x H x W x C integers."""
    x = np.asarray(x)
    if x.dtype.kind == "f":  # the graph input: pixel values held as floats
        x = np.rint(x)
        in_range = x.size == 0 or (x.min() >= 0 and x.max() <= 255)
        x = x.astype(np.uint8 if in_range else np.int64)
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    if x.ndim == 2:
        return x.reshape(x.shape[0], 1, 1, x.shape[1])
    raise ValueError(f"expected an N x C x H x W or N x C tensor, got shape {x.shape}")


def from_channel_last(y: np.ndarray, rank: int) -> np.ndarray:
    if rank == 4:
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    if y.shape[1:3] != (1, 1):
        raise ValueError(f"cannot flatten an {y.shape[1]} x {y.shape[2]} map to N x C")
    return y.reshape(y.shape[0], y.shape[3])


class _IROp(CustomOp):
    """Executes an IR package node with host.ops (the reference's own semantics)."""

    def get_nodeattr_types(self):
        types = {}
        for field in ops.op_class(self.onnx_node.op_type).declared():
            kind = "s" if field.metadata["kind"] is str else "i"
            types[field.name] = (kind, False, "" if kind == "s" else 0)
        return types

    def make_shape_compatible_op(self, model):
        return self.make_const_shape_op(model.get_tensor_shape(self.onnx_node.output[0]))

    def infer_node_datatype(self, model):
        pass

    def verify_node(self):
        return []

    def execute_node(self, context, graph):
        node = self.onnx_node
        data, param_names = split_inputs(node)
        op = operator(node)
        outs = op.execute([to_channel_last(context[t]) for t in data],
                          {p: context[t] for p, t in param_names.items()})
        for name, value in zip(node.output, outs):
            rank = np.ndim(context[name]) if context.get(name) is not None else 4
            context[name] = from_channel_last(value, rank)


class Scale(CustomOp):
    """y = (x - offset[c]) * scale[c] / divisor, as float32 (what the original graph's float
    tensor held). The offset (optional third input) carries codes that travel unsigned for a
    signed or bipolar quantizer (code - offset = the quantizer's integer)."""

    def get_nodeattr_types(self):
        return {"divisor": ("i", False, 1)}

    def make_shape_compatible_op(self, model):
        return helper.make_node("Identity", [self.onnx_node.input[0]], [self.onnx_node.output[0]])

    def infer_node_datatype(self, model):
        pass

    def verify_node(self):
        return []

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = np.asarray(context[node.input[0]], dtype=np.float64)
        scale = np.asarray(context[node.input[1]], dtype=np.float64).reshape(-1)
        def view(v):
            return v.reshape((1, -1) + (1,) * (x.ndim - 2)) if v.size > 1 else v.reshape(())
        if len(node.input) > 2 and node.input[2]:
            x = x - view(np.asarray(context[node.input[2]], dtype=np.float64).reshape(-1))
        y = x * view(scale) / divisor_of(node)
        context[node.output[0]] = y.astype(np.float32)


# qonnx finds the ops of a domain through the module named like the domain: `custom_op`.
custom_op = {name: type(name, (_IROp,), {"__doc__": ops.OPS[name].__doc__}) for name in PACKAGE_OPS}
custom_op[SCALE] = Scale
