"""Reading a QONNX file, with one-line errors for missing, truncated or malformed files."""
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from qonnx.core.modelwrapper import ModelWrapper

from .graph import LoweringError


def check_structure(model: ModelWrapper, origin: str) -> None:
    """What a truncated or hand-broken file usually lacks: nodes, an output, defined tensors,
    shapes. Raises LoweringError naming the first problem."""
    graph = model.graph
    if len(graph.node) == 0:
        raise LoweringError(f"{origin}: the graph has no nodes (truncated or not a model?)")
    if len(graph.output) == 0:
        raise LoweringError(f"{origin}: the graph has no output (truncated?)")
    seen = {}
    for index, node in enumerate(graph.node):   # names become layer names, C strings, file names
        if not node.name:
            raise LoweringError(f"{origin}: node #{index} ({node.op_type}) has no name (export with "
                                "training/export.py, which names every node)")
        if node.name in seen:
            raise LoweringError(f"{origin}: node name {node.name[:100]!r} is used twice (node #{seen[node.name]} "
                                f"and #{index}); node names must be unique")
        seen[node.name] = index
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    for node in graph.node:
        defined.update(node.output)
    for node in graph.node:
        for tensor in node.input:
            if tensor and tensor not in defined:
                raise LoweringError(f"{origin}: node {node.name!r} ({node.op_type}) reads {tensor!r}, which "
                                    "nothing defines (truncated or damaged file?)")
    for out in graph.output:
        if out.name not in defined:
            raise LoweringError(f"{origin}: graph output {out.name!r} is produced by no node (truncated?)")
    for node in graph.node:
        for tensor in list(node.input) + list(node.output):
            if tensor and model.get_tensor_shape(tensor) is None:
                raise LoweringError(f"{origin}: tensor {tensor!r} of node {node.name!r} has no shape "
                                    "(export with training/export.py, which runs qonnx's cleanup)")


def load_onnx(path) -> ModelWrapper:
    """A ModelWrapper of the file, or LoweringError (missing, unreadable, truncated, malformed)."""
    path = Path(path)
    if not path.is_file():
        raise LoweringError(f"{path}: no such file (export it first: make export MODEL=...)")
    data = path.read_bytes()
    if not data:
        raise LoweringError(f"{path}: empty file")
    try:
        proto = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as e:
        raise LoweringError(f"{path}: not a readable ONNX file (truncated or damaged?): "
                            f"{type(e).__name__}: {' '.join(str(e).split())[:200]}") from None
    if not proto.HasField("graph"):
        raise LoweringError(f"{path}: not an ONNX model (no graph)")
    try:
        model = ModelWrapper(proto)
    except Exception as e:  # qonnx's own checks on a malformed proto
        raise LoweringError(f"{path}: malformed ONNX model: {type(e).__name__}: {e}") from None
    check_structure(model, str(path))
    return model
