"""ToPackage: the fully lowered IR graph -> a validated host.package.Package.

The graph must then be IR package nodes only, plus one Scale writing the graph output: the
head (logits = scale[c] * (class_sums[c] - offset[c]) / divisor, written as the package head's
scale, divisor and bias = -scale * offset / divisor). Layers keep their node names; each stream
is named after the layer that writes it (a Duplicate's outputs `<name>_<i>`), the image is
`in0` (a one-channel image that an ONNX Flatten feeds to the Thermometer: the flattened pixel
vector, 1 x 1 x H*W). Shapes, worst-case bounds and widths come from host.package's builder (each op's own
rules), and each shape is checked against the ONNX graph's.
"""
from typing import Dict, Optional

import numpy as np

from host.package import Package, PackageBuilder, PackageError

from . import ir
from .bounds import channel_last_shape
from .embedding import graph_image_input, input_flatten
from .graph import LoweringError, node_error, producer, topological_order

INPUT_STREAM = "in0"


def head_of(model):
    """(head Scale node, class sums tensor)."""
    if len(model.graph.output) != 1:
        raise LoweringError(f"the graph must have one output (the logits), it has {len(model.graph.output)}")
    out = model.graph.output[0].name
    head = producer(model, out)
    if not ir.is_scale(head):
        what = f"node {head.name!r} ({head.op_type})" if head is not None else "no node"
        raise LoweringError(f"the graph output {out!r} comes from {what}; supported: integer class sums "
                            "(a binary conv/FC, then an optional global average pool) times a per-class scale")
    h, w, _ = channel_last_shape(model, head.input[0])
    if (h, w) != (1, 1):
        raise LoweringError(f"the graph output {out!r} is an {h} x {w} map; supported: N x classes "
                            "(class sums: a global average pool or an FC layer last)")
    return head, head.input[0]


def stream_names(node):
    """The package streams a layer writes: its name, or `<name>_<i>` for several outputs."""
    return [node.name] if len(node.output) == 1 else [f"{node.name}_{i}" for i in range(len(node.output))]


def image_stream_name(model, head) -> str:
    """INPUT_STREAM (`in0`), or `in0_<n>` when a layer's stream already has that name; a
    LoweringError when two layers would write streams of the same name."""
    taken = {}
    for node in model.graph.node:
        if node is head:
            continue
        for stream in stream_names(node):
            if stream in taken:
                raise node_error(node, f"writes stream {stream[:100]!r}, which node {taken[stream][:100]!r} "
                                       "writes too (rename one of the nodes)")
            taken[stream] = node.name
    name, n = INPUT_STREAM, 0
    while name in taken:
        n += 1
        name = f"{INPUT_STREAM}_{n}"
    return name


def to_package(model, name: str, report: Optional[Dict] = None) -> Package:
    """The Package; with `report`, report["streams"] maps each stream to the original ONNX
    tensor it equals up to scale (original = stream * scale[c] / divisor)."""
    head, sums = head_of(model)
    origin = ir.provenance(model)
    traced = {}
    image = graph_image_input(model)
    flat = input_flatten(model)
    if flat is not None:   # the package's input is the flattened pixel vector (the same bytes)
        image = flat.output[0]
    input_stream = image_stream_name(model, head)
    builder = PackageBuilder(name, channel_last_shape(model, image), input_stream)
    streams = {image: input_stream}
    for node in topological_order(model):
        if node is head or node is flat:
            continue
        if not ir.is_ir(node) or ir.is_scale(node):
            raise node_error(node, "was not lowered (internal error: the pipeline's final check missed it)")
        data, param_tensors = ir.split_inputs(node)
        params = {p: model.get_initializer(t) for p, t in param_tensors.items()}
        outputs = stream_names(node)
        attrs = ir.node_attrs(node)
        try:
            builder.add(node.name, node.op_type, [streams[t] for t in data], attrs, params, outputs)
        except PackageError as e:
            raise LoweringError(f"internal error building the package: {e}") from None
        for tensor, stream in zip(node.output, outputs):
            streams[tensor] = stream
            source = origin.get(data[0]) if node.op_type == "Duplicate" else origin.get(tensor)
            if source is not None:
                origin[tensor] = source
                traced[stream] = source
            expected = channel_last_shape(model, tensor)
            if builder.streams[stream].shape != tuple(expected):
                raise node_error(node, f"internal error: stream {stream!r} has shape "
                                       f"{list(builder.streams[stream].shape)}, the graph {list(expected)}")
    classes = channel_last_shape(model, sums)[2]
    scale = np.broadcast_to(ir.scale_of(model, head), (classes,)).astype(np.float64)
    offset = np.broadcast_to(ir.offset_of(model, head), (classes,)).astype(np.float64)
    divisor = ir.divisor_of(head)
    # logits = scale * (sums - offset) / divisor = scale * sums / divisor + bias, with the scale
    # as the package stores it (float32), so that equal sums - offset give equal logits
    stored = scale.astype(np.float32).astype(np.float64)
    bias = -stored * offset / divisor if np.any(offset != 0) else None
    if report is not None:
        report["streams"] = traced
    try:
        return builder.build(streams[sums], scale.astype(np.float32), divisor, bias)
    except PackageError as e:
        raise LoweringError(f"internal error building the package: {e}") from None
