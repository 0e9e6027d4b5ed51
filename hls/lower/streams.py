"""Passes that move a stream's Scale past the ops that commute with it, leaving integer ops:

- SplitScaleForks: a Scale read by several nodes becomes one Scale per reader (so each reader's
  pass sees its own, and the integer stream forks instead: Duplicate, later);
- LowerAdd: Add(Scale(a, u), Scale(b, u)) -> Scale(Add_ir(a, b), u): the residual add is an
  integer add when both writers share one scale (docs/ern.md: the shared constant 1/32);
- LowerMaxPool: MaxPool(Scale(x, u)) -> Scale(MaxPool_ir(x), u) for u > 0;
- LowerGlobalPool: ReduceMean over H, W (or GlobalAveragePool) of Scale(x, u) ->
  Scale(GlobalSum_ir(x), u, divisor=H*W): the class sums, the host divides;
- InsertDuplicates (run last): an integer stream read by several layers gets an explicit
  Duplicate with one output per reader, as FORMAT.md requires.
"""
import numpy as np
from onnx import helper
from qonnx.transformation.base import Transformation

from . import ir
from .bounds import integer_bounds
from .graph import (attr, consumers, fresh_name, indexed_name, insert_before, is_graph_output,
                    new_tensor, node_error, producer, remove_dead, shape, sole_consumer)


class SplitScaleForks(Transformation):
    def apply(self, model):
        for node in [n for n in model.graph.node if ir.is_scale(n)]:
            out = node.output[0]
            readers = [r for r in consumers(model, out) for t in r.input if t == out]
            if len(readers) + is_graph_output(model, out) < 2 or not readers:
                continue
            keep_first = not is_graph_output(model, out)
            for i, reader in enumerate(readers):
                if i == 0 and keep_first:
                    continue
                copy_out = new_tensor(model, f"{out}_{i}", shape(model, out))
                copy = ir.make_scale(model, fresh_name(model, f"{node.name}_{i}"), node.input[0], copy_out,
                                     ir.scale_of(model, node), ir.divisor_of(node), ir.offset_of(model, node))
                insert_before(model, node, [copy])
                for k, t in enumerate(reader.input):
                    if t == out:
                        reader.input[k] = copy_out
                        break
            return model, True
        return model, False


def _scale_input(model, node, index):
    feed = producer(model, node.input[index])
    if ir.is_scale(feed) and sole_consumer(model, node.input[index]) is node and ir.divisor_of(feed) == 1:
        return feed
    return None


def _replace(model, node, op, inputs, attrs, scale, divisor=1, offset=None):
    """node -> op_ir(inputs) -> Scale(scale, divisor, offset) writing node's output."""
    out = node.output[0]
    name = node.name
    node.name = f"{name}__lowered"
    integer = new_tensor(model, f"{name}_out", shape(model, out))
    layer = ir.make_node(model, op, name, inputs, [integer], attrs)
    back = ir.make_scale(model, fresh_name(model, f"{name}_scale"), integer, out, scale, divisor, offset)
    insert_before(model, node, [layer, back])
    model.graph.node.remove(node)
    remove_dead(model)


class LowerAdd(Transformation):
    def apply(self, model):
        for node in [n for n in model.graph.node if n.op_type == "Add" and not ir.is_ir(n)]:
            if any(model.get_initializer(t) is not None for t in node.input):
                continue   # a bias: only on the logits (AbsorbHeadAffine), else left over
            a, b = _scale_input(model, node, 0), _scale_input(model, node, 1)
            if a is None or b is None:
                continue
            ua, ub = ir.scale_of(model, a), ir.scale_of(model, b)
            if ua.shape != ub.shape or not np.array_equal(ua, ub):
                raise node_error(node, f"adds streams of different scales ({_describe(ua)} and "
                                       f"{_describe(ub)}); supported: residual adds whose writers share "
                                       "one constant scale (binary weights times 1/32, reading codes)")
            # (a - oa) u + (b - ob) u = (a + b - (oa + ob)) u
            _replace(model, node, "Add", [a.input[0], b.input[0]], {}, ua, 1,
                     ir.offset_of(model, a) + ir.offset_of(model, b))
            return model, True
        return model, False


def _describe(unit):
    unit = np.unique(unit)
    return f"{unit[0]:.6g}" if unit.size == 1 else f"per-channel {unit[0]:.6g}..{unit[-1]:.6g}"


class LowerMaxPool(Transformation):
    def apply(self, model):
        for node in [n for n in model.graph.node if n.op_type == "MaxPool" and not ir.is_ir(n)]:
            feed = _scale_input(model, node, 0)
            if feed is None:
                continue
            unit = ir.scale_of(model, feed)
            if np.any(unit <= 0):
                raise node_error(node, "max pool of a stream with a non-positive scale is not supported")
            lo, _ = integer_bounds(model, feed.input[0])
            if lo < 0:
                raise node_error(node, "max pool of a signed stream is not supported (supported: over codes)")
            attrs = {"kernel": int(attr(node, "kernel_shape")[0]), "stride": int(attr(node, "strides", [1, 1])[0])}
            # max of (x - o) u is (max x - o) u for u > 0: the offset passes through
            _replace(model, node, "MaxPool", [feed.input[0]], attrs, unit, 1, ir.offset_of(model, feed))
            return model, True
        return model, False


class LowerGlobalPool(Transformation):
    def apply(self, model):
        for node in [n for n in model.graph.node
                     if n.op_type in ("ReduceMean", "GlobalAveragePool") and not ir.is_ir(n)]:
            feed = _scale_input(model, node, 0)
            if feed is None:
                continue
            _, _, h, w = shape(model, node.input[0])
            # sum over H*W pixels of (x - o) is (sum x) - H*W*o
            _replace(model, node, "GlobalSum", [feed.input[0]], {}, ir.scale_of(model, feed), h * w,
                     h * w * ir.offset_of(model, feed))
            return model, True
        return model, False


class InsertDuplicates(Transformation):
    def apply(self, model):
        for node in [n for n in model.graph.node if ir.is_ir(n) and not ir.is_scale(n)]:
            for out in node.output:
                reads = [(r, k) for r in consumers(model, out) for k, t in enumerate(r.input) if t == out]
                if len(reads) + is_graph_output(model, out) < 2:
                    continue
                if is_graph_output(model, out):
                    raise node_error(node, "a graph output read by other layers is not supported")
                name = indexed_name(model, "Duplicate")
                outs = [new_tensor(model, f"{name}_out{i}", shape(model, out)) for i in range(len(reads))]
                dup = helper.make_node("Duplicate", [out], outs, name=name, domain=ir.DOMAIN)
                for (reader, k), o in zip(reads, outs):
                    reader.input[k] = o
                index = list(model.graph.node).index(node)
                model.graph.node.insert(index + 1, dup)
                return model, True
        return model, False
