"""QONNX -> integer dataflow model package (host/FORMAT.md): the lowering.

    package = lower("build/ern_tiny/model.onnx", "ern_tiny")   # a validated host.package.Package
    ir_model = lower_graph(model)                               # the lowered qonnx graph (IR)

Small passes over a qonnx ModelWrapper, each a qonnx Transformation whose `apply` returns
(model, changed), each tested alone on a tiny graph (tests/test_lower_*.py):

  CheckSupported        every op, quantizer and attribute is supported, or one line names every
                        node that is not, and why
  MergePadIntoConv      CNV's zero Pad -> the first conv's own padding
  LowerInputEmbedding   input .. first Quant/BipolarQuant -> Thermometer thresholds (or the 8-bit
                        identity); signed/bipolar codes travel unsigned with an offset
  LowerConv             Conv/Gemm with BipolarQuant, bit-plane or ternary weights on codes -> Conv
                        (accumulator), the codes' offset moved into its Scale
  SplitScaleForks       one Scale per reader of a forked stream
  AbsorbActivation      [Mul] BN [Mul] [Relu] Quant/BipolarQuant on an integer stream -> thresholds
  LowerAdd              residual add of two streams of one shared scale -> integer Add
  LowerMaxPool          MaxPool of codes
  LowerGlobalPool       ReduceMean over H, W -> GlobalSum (the host divides)
  AbsorbHeadAffine      a scalar/per-class affine on the logits (TensorNorm) -> the host's head
  InsertDuplicates      explicit forks, once everything else is lowered
  to_package            the IR graph -> Package (bounds and widths from each op's rules)

The rewriting passes run in that order, repeatedly, until none changes the graph; each rewrite
keeps the graph executable with qonnx (hls.lower.ir), so a pass can be checked by running the
graph before and after it. What is left unlowered then stops with one line naming every such node.
"""
import copy
import time
from pathlib import Path
from typing import Dict, Optional

from host.package import Package

from . import ir
from .activation import AbsorbActivation
from .check import SUPPORTED_OPS, CheckSupported
from .conv import LowerConv
from .embedding import LowerInputEmbedding, input_flatten
from .emit import head_of, to_package
from .graph import LoweringError, all_errors, consumers, producer, topological_order
from .head import AbsorbHeadAffine
from .load import check_structure, load_onnx
from .pad import MergePadIntoConv
from .streams import InsertDuplicates, LowerAdd, LowerGlobalPool, LowerMaxPool, SplitScaleForks

__all__ = ["LoweringError", "lower", "lower_graph", "load_onnx", "to_package", "rewriting_passes",
           "SUPPORTED_OPS"]


def rewriting_passes():
    """Fresh instances of the rewriting passes, in the order they are tried."""
    return [MergePadIntoConv(), LowerInputEmbedding(), LowerConv(), SplitScaleForks(),
            AbsorbActivation(), LowerAdd(), LowerMaxPool(), LowerGlobalPool(), AbsorbHeadAffine()]


# Why a node of each op can be left over, for the final one-line error.
_LEFTOVER_HINTS = {
    "Conv": "its input is not the codes of an activation Quant or of the input embedding",
    "Gemm": "its input is not the codes of an activation Quant (optionally flattened)",
    "MatMul": "its input is not the codes of an activation Quant (optionally flattened)",
    "BatchNormalization": "it does not sit between an integer stream (a binary conv, a residual add) "
                          "and an unsigned activation Quant",
    "Relu": "it does not sit between an integer stream and an unsigned activation Quant",
    "Mul": "it does not sit between an integer stream and an unsigned activation Quant",
    "Quant": "its input is not an integer stream's BN/activation chain (a Quant must follow a binary "
             "conv, a residual add or the input embedding)",
    "BipolarQuant": "its input is not an integer stream's BN chain (a BipolarQuant activation must follow a "
                    "binary conv, a residual add or the input embedding)",
    "Sub": "supported only in the input embedding or as an affine map on the logits (TensorNorm)",
    "Div": "supported only in the input embedding or as an affine map on the logits (TensorNorm)",
    "Add": "its inputs are not both integer streams (binary convs or adds); adding a constant (a bias) "
           "is supported only on the logits",
    "MaxPool": "its input is not the codes of an activation Quant",
    "ReduceMean": "its input is not an integer stream (a binary conv)",
    "GlobalAveragePool": "its input is not an integer stream (a binary conv)",
    "Reshape": "supported only as the flatten before a Gemm",
    "Flatten": "supported only as the flatten before a Gemm",
    "Pad": "supported only as zero padding in front of convolutions",
}


def check_lowered(model) -> None:
    """Every node is an IR package node, except one Scale writing the graph output (the head);
    else one LoweringError naming every node left over."""
    try:
        head, head_error = head_of(model)[0], None
    except LoweringError as e:   # reported unless leftover nodes explain it
        head, head_error = None, e
    problems = []
    flat = input_flatten(model)
    for node in topological_order(model):
        if ir.is_ir(node) and not ir.is_scale(node):
            continue
        if node is head or node is flat:
            continue
        if ir.is_scale(node):
            readers = consumers(model, node.output[0])
            reader = readers[0] if readers else None
            source = producer(model, node.input[0])
            origin = f"{source.name!r} ({source.op_type})" if source is not None else repr(node.input[0])
            if reader is None:
                raise LoweringError(f"the integer stream of {origin} is not used")
            if any(n is reader for n, _ in problems):
                continue
            problems.append((reader, f"reads the integer stream of {origin} as floats and could not be "
                                     f"lowered: {_LEFTOVER_HINTS.get(reader.op_type, 'unsupported here')}"))
            continue
        if any(n is node for n, _ in problems):
            continue
        hint = _LEFTOVER_HINTS.get(node.op_type, "unsupported at this place of the graph")
        problems.append((node, f"could not be lowered: {hint}"))
    if problems:
        raise all_errors(model, problems)
    if head_error is not None:
        raise head_error


def lower_graph(model, report: Optional[Dict] = None, max_rounds: int = 10000):
    """The lowered IR graph (a new ModelWrapper; the argument is not modified)."""
    model = copy.deepcopy(model)
    check_structure(model, "model")
    CheckSupported().apply(model)
    passes = rewriting_passes()
    timings = {type(p).__name__: 0.0 for p in passes}
    for _ in range(max_rounds):
        changed_any = False
        for p in passes:
            start = time.perf_counter()
            model, changed = p.apply(model)
            timings[type(p).__name__] += time.perf_counter() - start
            changed_any |= changed
        if not changed_any:
            break
    else:
        raise LoweringError(f"the passes did not reach a fixed point in {max_rounds} rounds (internal error)")
    check_lowered(model)
    while True:
        model, changed = InsertDuplicates().apply(model)
        if not changed:
            break
    if report is not None:
        absorb = next(p for p in passes if isinstance(p, AbsorbActivation))
        report["thresholds"] = absorb.report
        report["pass_seconds"] = {k: round(v, 3) for k, v in timings.items()}
    return model


def lower(source, name: Optional[str] = None, report: Optional[Dict] = None) -> Package:
    """A QONNX file path or ModelWrapper -> a validated Package named `name`."""
    if not hasattr(source, "graph"):
        model = load_onnx(source)
        default = Path(str(source)).stem   # a plain name (host/names.py), never the path
    else:
        model = source
        default = "model"
    return to_package(lower_graph(model, report), name or default, report)
