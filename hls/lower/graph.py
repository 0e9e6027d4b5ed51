"""Small helpers over a qonnx ModelWrapper that every lowering pass uses.

Nothing here knows an op's meaning: finding producers and consumers, reading constants and
attributes, making fresh names, inserting and removing nodes, and the one error type.
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np
from onnx import NodeProto, helper

from host.errors import ErnError


class LoweringError(ErnError, ValueError):
    """What stops the lowering: always one line, naming the node, its op and what is supported."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def where(node: NodeProto) -> str:
    """`node 'Conv_3' (Conv)`: how every message names a node."""
    return f"node {node.name!r} ({node.op_type})"


def node_error(node: NodeProto, message: str) -> LoweringError:
    return LoweringError(f"{where(node)}: {message}")


def reason_of(error: LoweringError, node: NodeProto) -> str:
    """The message of a node_error without its `node 'X' (Op): ` prefix."""
    text, prefix = str(error), f"{where(node)}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def reads(model, node: NodeProto) -> str:
    """`reads 't' from node 'P' (Op)`: the first computed tensor a node reads, and its writer
    (bare ONNX names repeat across graphs, so a node is named with what feeds it)."""
    for tensor in node.input:
        if tensor and constant(model, tensor) is None:
            source = producer(model, tensor)
            origin = where(source) if source is not None else "the graph input"
            return f"reads {tensor!r} from {origin}"
    readers = consumers(model, node.output[0]) if node.output else []
    if readers:
        return f"reads only constants, for {where(readers[0])}"
    return "reads only constants"


def all_errors(model, problems) -> LoweringError:
    """One LoweringError (one line) for every (node, reason) in `problems`, nodes that share a
    reason grouped: `node 'X' (Op): reason (reads 't' from node 'P' (Op))` for one node, else
    `K unsupported nodes: reason: node 'A' (Op) reads ..., node 'B' ...; other reason: ...`."""
    problems = list(problems)
    if len(problems) == 1:
        node, reason = problems[0]
        return LoweringError(f"{where(node)}: {reason} ({reads(model, node)})")
    groups: Dict[str, List[NodeProto]] = {}
    for node, reason in problems:
        groups.setdefault(reason, []).append(node)
    parts = []
    for reason, nodes in groups.items():
        listed = ", ".join(f"{where(n)} {reads(model, n)}" for n in nodes)
        parts.append(f"{reason}: {listed}")
    return LoweringError(f"{len(problems)} unsupported nodes ({len(groups)} reasons): " + "; ".join(parts))


# -- reading -----------------------------------------------------------------------------------

def producer(model, tensor: str) -> Optional[NodeProto]:
    for node in model.graph.node:
        if tensor in node.output:
            return node
    return None


def consumers(model, tensor: str) -> List[NodeProto]:
    return [node for node in model.graph.node if tensor in node.input]


def fanout(model, tensor: str) -> int:
    """How many times the tensor is read (a graph output counts as one read)."""
    reads = sum(list(node.input).count(tensor) for node in model.graph.node)
    return reads + sum(1 for o in model.graph.output if o.name == tensor)


def is_graph_output(model, tensor: str) -> bool:
    return any(o.name == tensor for o in model.graph.output)


def sole_consumer(model, tensor: str) -> Optional[NodeProto]:
    """The one node reading `tensor`, or None when it is read more than once (or is an output)."""
    if fanout(model, tensor) != 1:
        return None
    found = consumers(model, tensor)
    return found[0] if found else None


def constant(model, tensor: str) -> Optional[np.ndarray]:
    """The initializer's value, or None when the tensor is computed."""
    if not tensor:
        return None
    return model.get_initializer(tensor)


def attr(node: NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def shape(model, tensor: str) -> List[int]:
    found = model.get_tensor_shape(tensor)
    if found is None:
        raise LoweringError(f"tensor {tensor!r} has no known shape (run shape inference first)")
    return [int(d) for d in found]


def channels(model, tensor: str) -> int:
    """C of an N x C (x H x W) tensor."""
    return shape(model, tensor)[1]


def per_channel(value: np.ndarray, count: int, what: str) -> np.ndarray:
    """A scalar or a per-channel constant (any shape broadcasting along axis 1 of an N x C x ...
    tensor) as a (count,) float64 vector."""
    value = np.asarray(value, dtype=np.float64)
    if value.size == 1:
        return np.full(count, float(value.reshape(())), np.float64)
    squeezed = value.reshape(-1)
    if squeezed.size != count:
        raise LoweringError(f"{what} has {squeezed.size} values, expected 1 or {count} (one per channel)")
    if value.ndim >= 2 and value.shape[1] != count:  # e.g. (1, C, 1, 1) or (C, 1) for Gemm
        if not (value.ndim == 2 and value.shape[0] == count):
            raise LoweringError(f"{what} of shape {list(value.shape)} is not per channel")
    return squeezed.copy()


# -- writing -----------------------------------------------------------------------------------

def used_names(model) -> set:
    names = {t.name for t in model.graph.initializer}
    names.update(v.name for v in model.graph.value_info)
    names.update(v.name for v in model.graph.input)
    names.update(v.name for v in model.graph.output)
    for node in model.graph.node:
        names.add(node.name)
        names.update(node.input)
        names.update(node.output)
    return names


def fresh_name(model, base: str, taken: Optional[set] = None) -> str:
    """`base`, or `base_1`, `base_2`, ... whichever no node or tensor uses yet."""
    taken = used_names(model) if taken is None else taken
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def indexed_name(model, base: str) -> str:
    """The first of `base_0`, `base_1`, ... that no node or tensor uses yet."""
    taken = used_names(model)
    i = 0
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def new_tensor(model, base: str, tensor_shape: Sequence[int]) -> str:
    """A fresh float tensor name with its shape recorded (execution needs every shape)."""
    name = fresh_name(model, base)
    model.set_tensor_shape(name, [int(d) for d in tensor_shape])
    return name


def insert_before(model, anchor: NodeProto, nodes: Iterable[NodeProto]) -> None:
    """Insert nodes just before `anchor` (keeps a topological order when the new nodes read only
    what `anchor` could read)."""
    index = list(model.graph.node).index(anchor)
    for offset, node in enumerate(nodes):
        model.graph.node.insert(index + offset, node)


def remove_nodes(model, nodes: Iterable[NodeProto]) -> None:
    for node in list(nodes):
        model.graph.node.remove(node)


def remove_dead(model) -> None:
    """Drop nodes whose outputs nobody reads, then initializers and shapes nobody uses."""
    outputs = {o.name for o in model.graph.output}
    changed = True
    while changed:
        changed = False
        read = {t for node in model.graph.node for t in node.input} | outputs
        for node in list(model.graph.node):
            if not any(o in read for o in node.output):
                model.graph.node.remove(node)
                changed = True
    read = {t for node in model.graph.node for t in node.input} | outputs
    written = {t for node in model.graph.node for t in node.output}
    initializers = {t.name for t in model.graph.initializer}
    for init in list(model.graph.initializer):
        if init.name not in read:
            model.graph.initializer.remove(init)
    for vi in list(model.graph.input):
        if vi.name in initializers and vi.name not in read:
            model.graph.input.remove(vi)
    live = read | written | {i.name for i in model.graph.input}
    for vi in list(model.graph.value_info):
        if vi.name not in live:
            model.graph.value_info.remove(vi)


def rewire(model, old: str, new: str) -> None:
    """Every reader of tensor `old` reads `new` instead (graph outputs keep their name: use
    rename there)."""
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def topological_order(model) -> List[NodeProto]:
    """The nodes sorted so that each comes after the producers of its inputs."""
    produced_by: Dict[str, NodeProto] = {}
    for node in model.graph.node:
        for out in node.output:
            produced_by[out] = node
    order, state = [], {}

    def visit(node):
        key = id(node)
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            raise node_error(node, "the graph has a cycle")
        state[key] = 1
        for tensor in node.input:
            if tensor in produced_by:
                visit(produced_by[tensor])
        state[key] = 2
        order.append(node)

    for node in list(model.graph.node):
        visit(node)
    return order


def sort_graph(model) -> None:
    order = topological_order(model)
    del model.graph.node[:]
    model.graph.node.extend(order)
