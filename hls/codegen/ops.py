"""One builder per model-package op, registered by op name (no central switch on op types).

A builder knows, for one layer and its folding ({"pe": .., "simd": .., "mem": ..}):

- `check`: whether the folding fits the layer (a one-line CodegenError naming the layer);
- `lanes`: the fold of each input it reads and each output it writes (the values per beat;
  the wiring puts a width converter where a producer's and a consumer's folds differ);
- `emit`: the library calls (hls/lib/*.h) with their template arguments, the internal FIFOs,
  the const params, and for each call how many input beats each output beat needs (for the
  FIFO sizing, fifos.py);
- `headers`: the library headers it uses.

A new op: one class here with `@builder_for("OpName")` (plus its header in hls/lib).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from host.package import bits_for_range
from hls.codegen.dataflow import (CodegenError, Dataflow, need_repeat, need_same, need_serialized,
                                  need_window)
from hls.codegen import rules
from hls.codegen.layout import (DIRECTION_RESHAPE, THRESHOLD_RESHAPE, WEIGHT_RESHAPE, fold_rows,
                                 pack_words, weight_fields)
from host.weights import conv_weight_bits

BUILDERS: Dict[str, "OpBuilder"] = {}


def builder_for(op: str):
    """Class decorator: the builder of model-package op `op`."""
    def deco(cls):
        if op in BUILDERS:
            raise ValueError(f"a builder for op {op!r} is already registered")
        cls.op = op
        BUILDERS[op] = cls()
        return cls
    return deco


def builder(op: str) -> "OpBuilder":
    try:
        return BUILDERS[op]
    except KeyError:
        raise CodegenError(f"op {op!r} has no HLS builder (known: {', '.join(sorted(BUILDERS))})") from None


def _raise(message) -> None:
    """A folding rule's answer (hls/codegen/rules.py) as the generator's error."""
    if message:
        raise CodegenError(message)


def threshold_bits(thresholds: np.ndarray) -> int:
    """Two's-complement width holding every threshold (at least 2 bits, signed)."""
    lo, hi = int(thresholds.min(initial=0)), int(thresholds.max(initial=0))
    return max(2, bits_for_range(min(lo, -1), hi)[0])


def _emit_thresholds(df: Dataflow, layer, thresholds: np.ndarray, pe: int, what: str):
    """ap_int<TH_BITS> t[PE][NF][NT]: thresholds[nf*PE + pe][j]; returns (param, TH_BITS)."""
    th_bits = threshold_bits(thresholds)
    folded = fold_rows(thresholds.astype(np.int64), pe)
    p = df.param(layer, "thresholds", f"ap_int<{th_bits}>", th_bits, folded.tolist(), folded.shape,
                 THRESHOLD_RESHAPE, "auto", f"{what}: [pe][nf][j] = threshold j of channel nf*{pe} + pe")
    return p, th_bits


def _emit_direction(df: Dataflow, layer, direction: np.ndarray, pe: int):
    folded = fold_rows(direction.astype(np.int64), pe)
    return df.param(layer, "direction", "ap_int<2>", 2, folded.tolist(), folded.shape, DIRECTION_RESHAPE,
                    "auto", f"[pe][nf] = direction (+1/-1) of channel nf*{pe} + pe")


class OpBuilder:
    """Base: a streaming layer with one fold `pe` on every input and output."""

    op = "?"
    headers: Tuple[str, ...] = ()

    def check(self, layer, fold: dict, df: Dataflow) -> None:
        _raise(rules.streaming(layer.name, layer.op, fold, df.stream(layer.inputs[0]).shape[2]))

    def lanes(self, layer, fold: dict, df: Dataflow) -> Tuple[List[int], List[int]]:
        pe = int(fold.get("pe", 1))
        return [pe] * len(layer.inputs), [pe] * len(layer.outputs)

    def emit(self, layer, fold: dict, df: Dataflow) -> None:
        raise NotImplementedError

    @staticmethod
    def pixels(df: Dataflow, stream: str) -> int:
        h, w, _ = df.stream(stream).shape
        return h * w


@builder_for("Thermometer")
class ThermometerBuilder(OpBuilder):
    headers = ("thermometer.h",)

    def check(self, layer, fold, df):   # PE lanes of the output codes (C*k channels)
        _raise(rules.thermometer(layer.name, fold, df.stream(layer.inputs[0]).shape[2], layer.operator.k))

    def lanes(self, layer, fold, df):
        c, pe = df.stream(layer.inputs[0]).shape[2], int(fold.get("pe", 1))
        return [rules.thermometer_in_lanes(c, layer.operator.k, pe)], [pe]

    def emit(self, layer, fold, df):
        op, params = layer.operator, df.package.layer_params(layer)
        x, y = df.input(layer), df.output(layer)
        pe = int(fold.get("pe", 1))
        c = df.stream(layer.inputs[0]).shape[2]
        t, th_bits = _emit_thresholds(df, layer, params["thresholds"], pe, "pixel thresholds")
        cin = rules.thermometer_in_lanes(c, op.k, pe)
        per_beat = cin * op.k // pe    # output beats per input beat
        wide = [("IN", cin)] if cin != c else []
        df.process(layer.name, "ern::thermometer",
                   [("PIXELS", self.pixels(df, layer.inputs[0])), ("C", c), ("K", op.k), ("PE", pe),
                    ("OUT_BITS", y.bits), ("TH_BITS", th_bits)] + wide,
                   [x.ident, y.ident, t.ident, "frames"], [x], [y], layer.name,
                   {(0, 0): lambda n=y.beats: need_repeat(n, per_beat)})


@builder_for("Conv")
class ConvBuilder(OpBuilder):
    """Sliding window (unless 1x1, stride 1, no padding) + matrix-vector(-threshold) unit."""

    headers = ("sliding_window.h", "mvu.h")

    def check(self, layer, fold, df):
        x = df.stream(layer.inputs[0])
        _raise(rules.conv(layer.name, fold, x.shape[2], df.stream(layer.outputs[0]).shape[2],
                          layer.operator.kernel, x.signed))

    def lanes(self, layer, fold, df):
        pe = int(fold.get("pe", 1))
        return [int(fold.get("simd", 1))], [int(fold.get("out_pe", pe))]

    def emit(self, layer, fold, df):
        op, params = layer.operator, df.package.layer_params(layer)
        x, y = df.input(layer), df.output(layer)
        h, w, c = df.stream(layer.inputs[0]).shape
        ho, wo, c_out = df.stream(layer.outputs[0]).shape
        k, s, p = op.kernel, op.stride, op.pad
        pe, simd = int(fold.get("pe", 1)), int(fold.get("simd", 1))
        out_pe = int(fold.get("out_pe", pe))   # < PE: the MVU serializes a fold's PE lanes
        mw, cf = k * k * c, c // simd
        sf, nf = mw // simd, c_out // pe
        in_bits = x.bits   # the lane width of the stream (values fit: unsigned, checked by the loader)

        if k == 1 and s == 1 and p == 0:
            win = x   # a 1x1 window is the pixel stream itself
        else:
            win = df.internal(layer, "window", simd, in_bits, ho * wo * sf)
            df.process(f"{layer.name}.window", "ern::sliding_window",
                       [("K", k), ("S", s), ("P", p), ("H", h), ("W", w), ("C", c), ("SIMD", simd),
                        ("BITS", in_bits)],
                       [x.ident, win.ident, "frames"], [x], [win], layer.name,
                       {(0, 0): lambda: need_window(k, s, p, h, w, cf)})

        wp, planes = self._weights(layer, op, params, pe, simd, nf * sf, sf, fold.get("mem", "auto"), df)
        geometry = [("MW", mw), ("MH", c_out), ("VECTORS", ho * wo), ("SIMD", simd), ("PE", pe),
                    ("IN_BITS", in_bits)]
        serial = [("OUT_PE", out_pe)] if out_pe != pe or op.zeros else []
        if serial and not planes:   # OUT_PE follows W_BITS, MASKED in the template's arguments
            planes = [("W_BITS", 1), ("MASKED", False)]
        if op.zeros:                # ZEROS follows OUT_PE
            serial.append(("ZEROS", True))
        needs = {(0, 0): lambda v=ho * wo: need_serialized(v, nf, sf, pe // out_pe)}
        if op.thresholded:
            t, th_bits = _emit_thresholds(df, layer, params["thresholds"], pe, "accumulator thresholds")
            d = _emit_direction(df, layer, params["direction"], pe)
            df.process(f"{layer.name}.mvu", "ern::mvu_threshold",
                       geometry + [("OUT_BITS", y.bits), ("TH_BITS", th_bits)] + planes + serial,
                       [win.ident, y.ident, wp.ident, t.ident, d.ident, "frames"], [win], [y], layer.name,
                       needs)
        else:
            df.process(f"{layer.name}.mvu", "ern::mvu_accumulate", geometry + [("ACC_BITS", y.bits)] + planes + serial,
                       [win.ident, y.ident, wp.ident, "frames"], [win], [y], layer.name, needs)


    @staticmethod
    def _weights(layer, op, params, pe, simd, tiles, sf, pin, df):
        """The weight words (hls/lib/mvu.h: sign planes, then masks) and the template arguments
        W_BITS, MASKED they need; none for +-1 weights (the header's defaults)."""
        masked, zeros = bool(op.masked), bool(op.zeros)
        words_per_tile = weight_fields(op.weight_bits, masked, zeros)
        width = simd * words_per_tile
        bits = conv_weight_bits(layer, params, pe, simd)
        if op.weight_bits == 1 and not zeros:
            comment = f"[pe][nf*{sf} + sf] bit s = sign of W[nf*{pe} + pe][sf*{simd} + s] (1 = +1)"
            template = []
        else:
            comment = (f"[pe][nf*{sf} + sf] bit b*{simd} + s = sign bit of plane b of W[nf*{pe} + pe][sf*{simd} + s]"
                       + (f", bit ({op.weight_bits} + b - 1)*{simd} + s = its mask of plane b >= 1" if masked else "")
                       + (f", bit {words_per_tile - 1}*{simd} + s = 1 where that weight is nonzero" if zeros else ""))
            template = [("W_BITS", op.weight_bits), ("MASKED", masked)]
        wp = df.param(layer, "weights", f"ap_uint<{width}>", width, pack_words(bits), (pe, tiles), WEIGHT_RESHAPE,
                      pin, comment, wide=width if width > 64 else 0)
        return wp, template


@builder_for("Threshold")
class ThresholdBuilder(OpBuilder):
    headers = ("threshold.h",)

    def emit(self, layer, fold, df):
        params = df.package.layer_params(layer)
        x, y = df.input(layer), df.output(layer)
        pe = int(fold.get("pe", 1))
        c = df.stream(layer.inputs[0]).shape[2]
        t, th_bits = _emit_thresholds(df, layer, params["thresholds"], pe, "thresholds")
        d = _emit_direction(df, layer, params["direction"], pe)
        df.process(layer.name, "ern::threshold",
                   [("PIXELS", self.pixels(df, layer.inputs[0])), ("C", c), ("PE", pe), ("IN_BITS", x.bits),
                    ("OUT_BITS", y.bits), ("TH_BITS", th_bits), ("IN_SIGNED", x.signed)],
                   [x.ident, y.ident, t.ident, d.ident, "frames"], [x], [y], layer.name,
                   {(0, 0): lambda n=y.beats: need_same(n)})


@builder_for("Add")
class AddBuilder(OpBuilder):
    headers = ("add.h",)

    def emit(self, layer, fold, df):
        a, b, y = df.input(layer, 0), df.input(layer, 1), df.output(layer)
        pe = int(fold.get("pe", 1))
        c = df.stream(layer.inputs[0]).shape[2]
        df.process(layer.name, "ern::add",
                   [("PIXELS", self.pixels(df, layer.inputs[0])), ("C", c), ("PE", pe), ("A_BITS", a.bits),
                    ("B_BITS", b.bits), ("OUT_BITS", y.bits), ("A_SIGNED", a.signed), ("B_SIGNED", b.signed)],
                   [a.ident, b.ident, y.ident, "frames"], [a, b], [y], layer.name,
                   {(0, 0): lambda n=y.beats: need_same(n), (1, 0): lambda n=y.beats: need_same(n)})


@builder_for("Duplicate")
class DuplicateBuilder(OpBuilder):
    headers = ("duplicate.h",)

    def check(self, layer, fold, df):
        _raise(rules.duplicate(layer.name, fold, df.stream(layer.inputs[0]).shape[2], len(layer.outputs)))

    def emit(self, layer, fold, df):
        x = df.input(layer)
        ys = [df.output(layer, k) for k in range(len(layer.outputs))]
        pe = int(fold.get("pe", 1))
        c = df.stream(layer.inputs[0]).shape[2]
        df.process(layer.name, "ern::duplicate",
                   [("PIXELS", self.pixels(df, layer.inputs[0])), ("C", c), ("PE", pe), ("BITS", x.bits)],
                   [x.ident] + [y.ident for y in ys] + ["frames"], [x], ys, layer.name,
                   {(0, k): (lambda n=x.beats: need_same(n)) for k in range(len(ys))})


@builder_for("GlobalSum")
class GlobalSumBuilder(OpBuilder):
    headers = ("global_sum.h",)

    def emit(self, layer, fold, df):
        x, y = df.input(layer), df.output(layer)
        pe = int(fold.get("pe", 1))
        c = df.stream(layer.inputs[0]).shape[2]
        pixels = self.pixels(df, layer.inputs[0])
        nf = c // pe
        df.process(layer.name, "ern::global_sum",
                   [("PIXELS", pixels), ("C", c), ("PE", pe), ("IN_BITS", x.bits), ("OUT_BITS", y.bits),
                    ("IN_SIGNED", x.signed)],
                   [x.ident, y.ident, "frames"], [x], [y], layer.name,
                   {(0, 0): lambda: (pixels - 1) * nf + np.arange(1, nf + 1, dtype=np.int64)})


@builder_for("MaxPool")
class MaxPoolBuilder(OpBuilder):
    headers = ("max_pool.h",)

    def emit(self, layer, fold, df):
        op = layer.operator
        x, y = df.input(layer), df.output(layer)
        h, w, c = df.stream(layer.inputs[0]).shape
        pe = int(fold.get("pe", 1))
        k, s = op.kernel, op.stride
        df.process(layer.name, "ern::max_pool",
                   [("K", k), ("S", s), ("H", h), ("W", w), ("C", c), ("PE", pe), ("BITS", x.bits)],
                   [x.ident, y.ident, "frames"], [x], [y], layer.name,
                   {(0, 0): lambda: need_window(k, s, 0, h, w, c // pe, reduce=True)})
