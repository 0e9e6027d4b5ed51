"""Shapes and worst-case integer bounds of the IR's integer streams, from host.ops' own rules."""
from typing import Dict, Optional, Tuple

from host.ops import Bounds

from . import ir
from .graph import LoweringError, producer, shape

PIXEL_BOUNDS: Bounds = (0, 255)  # the graph input is the raw uint8 image


def channel_last_shape(model, tensor: str) -> Tuple[int, int, int]:
    """The package's H x W x C of an N x C x H x W (or flattened N x C) tensor."""
    dims = shape(model, tensor)
    if len(dims) == 4:
        return dims[2], dims[3], dims[1]
    if len(dims) == 2:
        return 1, 1, dims[1]
    raise LoweringError(f"tensor {tensor!r} of shape {dims} is neither N x C x H x W nor N x C")


def integer_bounds(model, tensor: str, cache: Optional[Dict[str, Bounds]] = None) -> Bounds:
    """Worst-case (min, max) of an integer stream: the graph input or an IR node's output.

    The rule is each op's own `output_bounds` (host.ops), with its params, so the lowering and
    the package loader agree on every width."""
    cache = {} if cache is None else cache
    if tensor in cache:
        return cache[tensor]
    node = producer(model, tensor)
    if node is not None and node.op_type == "Flatten" and not ir.is_ir(node) \
            and any(i.name == node.input[0] for i in model.graph.input):
        node, tensor = None, node.input[0]   # the flattened image (the package input): pixels still
    if node is None:
        if any(i.name == tensor for i in model.graph.input):
            cache[tensor] = PIXEL_BOUNDS
            return PIXEL_BOUNDS
        raise LoweringError(f"tensor {tensor!r} has no producer")
    if not ir.is_ir(node) or ir.is_scale(node):
        raise LoweringError(f"tensor {tensor!r} (from node {node.name!r}, {node.op_type}) is not an integer stream")
    data, _ = ir.split_inputs(node)
    op = ir.operator(node)
    in_bounds = [integer_bounds(model, t, cache) for t in data]
    in_shapes = [channel_last_shape(model, t) for t in data]
    out = op.output_bounds(in_shapes, in_bounds, ir.params(model, node))
    for name, bounds in zip(node.output, out):
        cache[name] = (int(bounds[0]), int(bounds[1]))
    return cache[tensor]
