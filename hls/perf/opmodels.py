"""Per-op performance and cost models, one class per model-package op, registered by op name.

Each model answers, for one layer of ``model.json`` and one folding (``pe``, and ``simd`` for
``Conv``):
  - ``choices``: the valid foldings;  ``check``: why a folding is invalid (one line) or None;
  - ``cycles``: cycles per frame in steady state (the layer's share of the dataflow's
    initiation interval), with the parts it is made of;
  - ``cost``: LUT / FF / BRAM36 / DSP, itemised;
  - ``lag``: the fraction of its input frame the layer must read before its first output
    (used for skip-FIFO depths and the latency estimate);
  - ``in_width`` / ``out_width``: stream word widths in bits (for FIFOs and width converters).

A new op adds a class here with ``@cost_model("OpName")``; nothing else changes (no central
switch). The formulas and their reasons are in docs/estimate.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hls.codegen import layout, rules
from hls.perf import resources as R
from host.errors import ErnError

OP_MODELS: dict = {}


def cost_model(op: str):
    def deco(cls):
        cls.op = op
        OP_MODELS[op] = cls()
        return cls
    return deco


class EstimateError(ErnError, ValueError):
    """A model package or folding the estimator cannot work with (one-line message)."""


divisors = rules.divisors


# --------------------------------------------------------------------------------------------
# The graph as the estimator sees it (model.json only; params are not needed)
# --------------------------------------------------------------------------------------------


@dataclass
class StreamShape:
    name: str
    shape: tuple
    signed: bool
    bits: int

    @property
    def elements(self) -> int:
        return int(math.prod(self.shape))

    @property
    def pixels(self) -> int:
        return int(math.prod(self.shape[:-1]))

    @property
    def channels(self) -> int:
        return int(self.shape[-1])


class Graph:
    """model.json: streams by name, layers in topological order."""

    def __init__(self, model: dict, source: str = "model.json"):
        self.source = source
        self.raw = model
        self.name = model.get("model", "model")
        try:
            self.streams = {n: StreamShape(n, tuple(int(x) for x in s["shape"]),
                                      bool(s.get("signed", False)), int(s["bits"]))
                            for n, s in model["streams"].items()}
            self.layers = list(model["layers"])
            self.input = model["input"]
            self.output = model["output"]
        except KeyError as e:
            raise EstimateError(f"{source}: missing key {e.args[0]!r} (see host/FORMAT.md)")
        names = [l.get("name") for l in self.layers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise EstimateError(f"{source}: duplicate layer names {sorted(dup)}")
        self.by_name = {l["name"]: l for l in self.layers}
        for l in self.layers:
            op = l.get("op")
            if op not in OP_MODELS:
                raise EstimateError(f"layer {l.get('name')!r}: op {op!r} has no performance model; "
                                    f"known ops: {', '.join(sorted(OP_MODELS))}")
            for s in list(l.get("inputs", [])) + list(l.get("outputs", [])):
                if s not in self.streams:
                    raise EstimateError(f"layer {l['name']!r} ({op}): stream {s!r} is not in "
                                        f"'streams'")
            OP_MODELS[op].validate(l, self)
            # a layer no folding can make (e.g. a signed MVU input): say so now, in the rules' words
            err = OP_MODELS[op].check(l, OP_MODELS[op].minimal(l, self), self)
            if err:
                raise EstimateError(err)
        self.producer = {s: l["name"] for l in self.layers for s in l["outputs"]}
        self.consumer = {s: l["name"] for l in self.layers for s in l["inputs"]}

    def model(self, layer) -> "OpModel":
        return OP_MODELS[layer["op"]]

    def cycles(self, layer, fold: dict) -> dict:
        """The op model's cycles; the layer that reads the graph input waits for its AXI words
        (rules.input_cycles), which bound an MLP whose layers are faster than the input port."""
        cyc = self.model(layer).cycles(layer, fold, self)
        if self.input in layer["inputs"]:
            image = self.streams[self.input]
            words = rules.input_cycles(image.elements * image.bits // 8)
            if words > cyc["cycles"]:
                cyc = {**cyc, "axi_in_cycles": words, "cycles": words}
        return cyc

    def inp(self, layer, i: int = 0) -> StreamShape:
        return self.streams[layer["inputs"][i]]

    def out(self, layer, i: int = 0) -> StreamShape:
        return self.streams[layer["outputs"][i]]


# --------------------------------------------------------------------------------------------
# Constants of the model (docs/estimate.md explains each)
# --------------------------------------------------------------------------------------------

HLS_DATAPATH_FACTOR = 1.1   # FINN-R's fitted c1: HLS glue around the hand-countable datapath
MVU_CONTROL_LUT = 300       # FINN-R's fitted c0 for an HLS matrix-vector unit: FSM, counters,
                            # stream handshakes, weight address generation
MVU_CONTROL_FF = 300
SWU_CONTROL_LUT = 150       # sliding window: row/column/kernel counters, padding logic
SWU_CONTROL_FF = 150
STREAM_CONTROL_LUT = 60     # a simple streaming layer (threshold, add, pool, ...): loop FSM
STREAM_CONTROL_FF = 60


@dataclass
class Ctx:
    """How memories are chosen: LUTs per BRAM36 exchange rate and a forced style."""

    lut_per_bram: float = R.XC7Z020.lut / R.XC7Z020.bram36
    mem: str = "auto"


def _rom(dims, reshape, bits: int, pin: str, ctx: "Ctx") -> R.Mem:
    """A constant array as the generator lays it out and stores it (layout.py, R.rom); in
    UltraRAM when pinned there, loaded element by element (`bits` each)."""
    depth, width = layout.memory_shape(dims, reshape, bits)
    return R.rom(depth, width, pin, ctx.lut_per_bram, element_bits=bits)


def _need(layer, *attrs):
    missing = [a for a in attrs if a not in layer]
    if missing:
        raise EstimateError(f"layer {layer.get('name')!r} ({layer.get('op')}): missing "
                            f"attribute(s) {', '.join(missing)} (see host/FORMAT.md)")




class OpModel:
    """Base: a streaming layer that handles ``pe`` channels per cycle of its first input."""

    op = "?"
    fold_keys = ("pe",)

    def validate(self, layer, g: Graph) -> None:
        _need(layer, "inputs", "outputs")

    # folding --------------------------------------------------------------------------------
    def channels(self, layer, g: Graph) -> int:
        return g.inp(layer).channels

    def choices(self, layer, g: Graph) -> list:
        return [{"pe": p} for p in divisors(self.channels(layer, g))]

    def minimal(self, layer, g: Graph) -> dict:
        return {"pe": 1}

    def check(self, layer, fold: dict, g: Graph):
        """None or the one-line reason (hls/codegen/rules.py: the generator asks the same)."""
        return rules.streaming(layer["name"], layer["op"], fold, self.channels(layer, g))

    # performance ----------------------------------------------------------------------------
    def cycles(self, layer, fold: dict, g: Graph) -> dict:
        s = g.inp(layer)
        return {"cycles": s.pixels * s.channels // fold["pe"]}

    def lag(self, layer, g: Graph) -> float:
        return 0.0

    def report_fields(self, layer, g: Graph) -> dict:
        """What this op adds to its row of estimate.json."""
        return {}

    def in_width(self, layer, fold, g: Graph, i: int = 0) -> int:
        return fold["pe"] * g.inp(layer, i).bits

    def out_width(self, layer, fold, g: Graph, i: int = 0) -> int:
        return fold["pe"] * g.out(layer, i).bits

    def cost(self, layer, fold: dict, g: Graph, ctx: Ctx) -> R.Cost:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Conv: sliding window + matrix-vector(-threshold) unit, xnor/popcount over bit planes
# --------------------------------------------------------------------------------------------


@cost_model("Conv")
class ConvModel(OpModel):
    fold_keys = ("pe", "simd")

    def validate(self, layer, g):
        _need(layer, "inputs", "outputs", "kernel")
        if layer.get("output", "threshold") == "threshold" and "out_bits" not in layer \
                and g.out(layer).signed:
            raise EstimateError(f"layer {layer['name']!r} (Conv): threshold output needs "
                                f"'out_bits'")

    @staticmethod
    def geometry(layer, g):
        i, o = g.inp(layer), g.out(layer)
        k = int(layer["kernel"])
        # weight words (hls/lib/mvu.h) hold B sign planes, for per-weight bit counts
        # (heterogeneous, `masked`) B - 1 masks, and for weights equal to 0 (`zeros`, ternary)
        # the nonzero mask: `wwords` SIMD-bit fields (layout.weight_fields, as the generator).
        # `mplanes`: the weight planes whose branch counts a masked activation sum per PE
        # (masked: planes 1..B-1; zeros: all B, the nonzero mask masks plane 0 too)
        wbits = int(layer.get("weight_bits", 1))
        masked, zeros = bool(layer.get("masked")), bool(layer.get("zeros"))
        return dict(k=k, s=int(layer.get("stride", 1)), p=int(layer.get("pad", 0)),
                    h=i.shape[0], w=i.shape[1], cin=i.channels, ho=o.shape[0], wo=o.shape[1],
                    cout=o.channels, cols=int(layer.get("cols", k * k * i.channels)),
                    in_bits=int(layer.get("in_bits", i.bits)),
                    wbits=wbits, wwords=layout.weight_fields(wbits, masked, zeros),
                    mplanes=wbits if zeros else (wbits - 1 if masked else 0))

    @staticmethod
    def valid_simd(cin: int, k: int) -> list:
        """SIMD divides K*K*C_in (the MVU's synapse fold) and C_in: the sliding window
        (hls/lib/sliding_window.h) emits SIMD channels of one pixel per beat."""
        return divisors(cin)

    def channels(self, layer, g):
        return g.out(layer).channels

    def choices(self, layer, g):
        geo = self.geometry(layer, g)
        return [{"pe": p, "simd": s} for p in divisors(geo["cout"])
                for s in self.valid_simd(geo["cin"], geo["k"])]

    def minimal(self, layer, g):
        return {"pe": 1, "simd": 1}

    def check(self, layer, fold, g):
        geo = self.geometry(layer, g)
        return rules.conv(layer["name"], fold, geo["cin"], geo["cout"], geo["k"], g.inp(layer).signed)

    def serial_lanes(self, layer, fold, g, consumer_lanes: int) -> int:
        """The output lanes the MVU writes when its consumer reads `consumer_lanes` per beat:
        those lanes when the output serializer can make them (they divide PE, PE/lanes <= SF),
        which replaces a PE-wide FIFO and a width converter by a mux; else PE."""
        pe = fold["pe"]
        sf = self.geometry(layer, g)["cols"] // fold["simd"]
        if 1 <= consumer_lanes < pe and pe % consumer_lanes == 0 and pe // consumer_lanes <= sf:
            return consumer_lanes
        return pe

    def report_fields(self, layer, g):
        geo = self.geometry(layer, g)
        return {"weight_bits": geo["cout"] * geo["cols"] * geo["wwords"],   # planes + masks (+ nonzero) stored
                "kernel": geo["k"], "stride": geo["s"], "pad": geo["p"]}

    @staticmethod
    def has_window(geo) -> bool:
        return not (geo["k"] == 1 and geo["s"] == 1 and geo["p"] == 0)

    def cycles(self, layer, fold, g):
        geo = self.geometry(layer, g)
        pe, simd = fold["pe"], fold["simd"]
        sf = geo["cols"] // simd                  # synapse fold: input words per dot product
        nf = geo["cout"] // pe                    # neuron fold: output-channel groups
        # + the output serializer's flush: PE/OUT_PE - 1 beats after a frame's last fold
        mvu = geo["ho"] * geo["wo"] * sf * nf + pe // fold.get("out_pe", pe) - 1
        res = {"mvu_cycles": mvu, "sf": sf, "nf": nf}
        if self.has_window(geo):
            # hls/lib/sliding_window.h: max(reads, writes) plus the fill of the first window
            # (the input read before the first output beat)
            swu_out = geo["ho"] * geo["wo"] * sf
            swu_in = geo["h"] * geo["w"] * geo["cin"] // simd
            fill = 0
            if geo["k"] > 1:
                rows = max(geo["k"] - 1 - geo["p"], 0)
                fill = (rows * geo["w"] + max(geo["k"] - geo["p"], 1)) * geo["cin"] // simd
            res["swu_cycles"] = max(swu_out, swu_in) + fill
        res["cycles"] = max(mvu, res.get("swu_cycles", 0))
        return res

    def lag(self, layer, g):
        geo = self.geometry(layer, g)
        if geo["k"] == 1:
            return 0.0
        return min(1.0, (geo["k"] - geo["p"]) / geo["h"])

    def in_width(self, layer, fold, g, i=0):
        geo = self.geometry(layer, g)
        return fold["simd"] * geo["in_bits"]

    def out_width(self, layer, fold, g, i=0):
        return fold.get("out_pe", fold["pe"]) * g.out(layer, i).bits

    def acc_bits(self, layer, g) -> int:
        if "acc_bits" in layer:
            return int(layer["acc_bits"])
        geo = self.geometry(layer, g)
        if layer.get("output", "threshold") == "accumulator":
            return g.out(layer).bits
        amax = (1 << geo["in_bits"]) - 1
        wmax = (1 << geo["wbits"]) - 1   # B sign planes: |W| <= 2^B - 1 (host/FORMAT.md)
        m = geo["cols"] * amax * wmax
        return R.bits_for(-m, m)

    def n_thresholds(self, layer, g) -> int:
        if layer.get("output", "threshold") != "threshold":
            return 0
        return (1 << int(layer.get("out_bits", g.out(layer).bits))) - 1

    def cost(self, layer, fold, g, ctx):
        geo = self.geometry(layer, g)
        pe, simd = fold["pe"], fold["simd"]
        mem_style = fold.get("mem", ctx.mem)
        planes = geo["in_bits"] * geo["wbits"]
        acc = self.acc_bits(layer, g)
        nthr = self.n_thresholds(layer, g)
        out_bits = g.out(layer).bits
        pc_w = R.clog2(simd + 1)
        c = R.Cost()
        # -- per PE datapath (hls/lib/mvu.h): dot = 2 * sum_b 2^b popcount(w & a_b) - sum(a):
        #    one AND/popcount per bit plane, planes combined by shifted adds, the shared
        #    activation sum subtracted, accumulated over the synapse fold, then thresholds (or
        #    the accumulator passed on). The activation sum (same planes, no weights) is computed
        #    once per layer and shared by all PEs.
        # masked planes (heterogeneous weights: planes b >= 1; ternary weights: every plane,
        # masked by the nonzero bits): each PE also counts its own masked activation sum per
        # such plane (the shared activation sum no longer applies there)
        masked_planes = geo["in_bits"] * geo["mplanes"]
        popc = (planes + masked_planes) * R.popcount_luts(simd)
        combine = (planes + masked_planes - 1) * R.adder_luts(pc_w + planes)
        accum = R.adder_luts(pc_w + planes + 1) + R.adder_luts(acc)
        thr = nthr * (R.comparator_luts(acc) + 1) + (out_bits if nthr else 0)
        f = HLS_DATAPATH_FACTOR
        c.add("popcount", lut=f * (pe + 1) * popc, ff=(pe + 1) * planes * (simd + 2 * pc_w),
              per_pe=round(popc, 1), planes=planes)
        c.add("accumulate", lut=f * (pe * (combine + accum) + combine), ff=pe * acc)
        if nthr:
            c.add("comparators", lut=f * pe * thr, ff=pe * out_bits)
        c.add("control", lut=MVU_CONTROL_LUT, ff=MVU_CONTROL_FF)
        # -- output serializer (OUT_PE < PE): a PE-lane register, a PE/OUT_PE-way mux per output
        #    bit and a beat counter
        beats = pe // fold.get("out_pe", pe)
        if beats > 1:
            width = fold["out_pe"] * out_bits
            c.add("serializer", lut=width * R.mux_luts(beats) + R.clog2(beats) + 2,
                  ff=pe * out_bits + R.clog2(beats) + 1, beats=beats)
        # -- weight memory: the PE words of SIMD * (planes + masks + nonzero) bits side by side, depth
        #    SF * NF; thresholds (at most acc bits wide here; the generated design prices the
        #    real width) and directions likewise (hls/codegen/layout.py)
        sf, nf = geo["cols"] // simd, geo["cout"] // pe
        c.add_mem("weights", _rom(layout.weight_dims(pe, nf, sf), layout.WEIGHT_RESHAPE,
                                  simd * geo["wwords"], mem_style, ctx))
        if nthr:
            c.add_mem("thresholds", _rom(layout.threshold_dims(pe, nf, nthr),
                                         layout.THRESHOLD_RESHAPE, acc, "auto", ctx))
            c.add_mem("direction", _rom(layout.direction_dims(pe, nf), layout.DIRECTION_RESHAPE,
                                        2, "auto", ctx))
        # -- input vector buffer: the patch is re-used for every neuron fold (NF > 1)
        if nf > 1:
            ib = R.memory(sf, simd * geo["in_bits"], 1, "ram", "auto", ctx.lut_per_bram)
            c.add_mem("input_buffer", ib)
        # -- sliding window (hls/lib/sliding_window.h): a ring of K + S rows of W*C/SIMD words
        #    of SIMD*in_bits, a zero-pad / output mux per bit, counters. 1x1 without padding:
        #    no buffer, only the pixel-dropping counters.
        if self.has_window(geo):
            width = simd * geo["in_bits"]
            c.add("swu_control", lut=SWU_CONTROL_LUT + width, ff=SWU_CONTROL_FF + 2 * width)
            # the window -> MVU stream (hls/codegen: an internal FIFO of the default depth)
            c.add_mem("window_fifo", R.fifo(2, width, ctx.lut_per_bram))
            if geo["k"] > 1 or geo["p"] > 0:
                rows = geo["k"] + geo["s"]
                depth = rows * geo["w"] * geo["cin"] // simd
                lb = R.memory(depth, width, 1, "ram", "auto", ctx.lut_per_bram)
                c.add_mem("line_buffer", lb)
        return c


# --------------------------------------------------------------------------------------------
# Streaming element-wise layers
# --------------------------------------------------------------------------------------------


@cost_model("Thermometer")
class ThermometerModel(OpModel):
    """Pixel embedding (hls/lib/thermometer.h): one input beat (the whole pixel, or PE/k channels
    of a pixel wider than rules.WHOLE_PIXEL_BYTES) per IN*k/PE cycles, PE output codes per cycle,
    each code 2^l - 1 comparisons of the 8-bit pixel with per-channel thresholds (ROM, C*k/PE
    entries per lane) and a count."""

    def validate(self, layer, g):
        _need(layer, "inputs", "outputs", "k")

    def channels(self, layer, g):
        return g.out(layer).channels

    def choices(self, layer, g):
        c, k = g.inp(layer).channels, int(layer["k"])
        return [f for f in super().choices(layer, g) if rules.thermometer(layer["name"], f, c, k) is None]

    def check(self, layer, fold, g):
        return rules.thermometer(layer["name"], fold, g.inp(layer).channels, int(layer["k"]))

    def cycles(self, layer, fold, g):
        o = g.out(layer)
        return {"cycles": o.pixels * o.channels // fold["pe"]}

    def in_lanes(self, layer, fold, g) -> int:
        return rules.thermometer_in_lanes(g.inp(layer).channels, int(layer["k"]), fold["pe"])

    def in_width(self, layer, fold, g, i=0):
        return self.in_lanes(layer, fold, g) * g.inp(layer).bits

    def cost(self, layer, fold, g, ctx):
        pe, l_bits, c_out = fold["pe"], g.out(layer).bits, g.out(layer).channels
        nthr = (1 << l_bits) - 1
        th_bits = g.inp(layer).bits + 2          # signed thresholds may lie outside 0..255
        lane = nthr * (R.comparator_luts(th_bits) + 0) + l_bits
        tm = _rom(layout.threshold_dims(pe, c_out // pe, nthr), layout.THRESHOLD_RESHAPE,
                  th_bits, "auto", ctx)
        return R.Cost().add("comparators", lut=HLS_DATAPATH_FACTOR * pe * lane,
                            ff=pe * l_bits + self.in_lanes(layer, fold, g) * 8) \
                       .add_mem("thresholds", tm) \
                       .add("control", lut=STREAM_CONTROL_LUT, ff=STREAM_CONTROL_FF)


@cost_model("Threshold")
class ThresholdModel(OpModel):
    """BN + activation on the residual stream: per lane 2^b - 1 comparators of the stream width
    against per-channel thresholds (ROM: C/PE entries per lane), a direction flip, an encoder."""

    def validate(self, layer, g):
        _need(layer, "inputs", "outputs")

    def cost(self, layer, fold, g, ctx):
        pe, c_in = fold["pe"], g.inp(layer).channels
        in_bits, out_bits = g.inp(layer).bits, g.out(layer).bits
        nthr = (1 << int(layer.get("out_bits", out_bits))) - 1
        lane = nthr * (R.comparator_luts(in_bits) + 1) + out_bits
        nf = c_in // pe
        tm = _rom(layout.threshold_dims(pe, nf, nthr), layout.THRESHOLD_RESHAPE, in_bits + 1,
                  "auto", ctx)
        dm = _rom(layout.direction_dims(pe, nf), layout.DIRECTION_RESHAPE, 2, "auto", ctx)
        return R.Cost().add("comparators", lut=HLS_DATAPATH_FACTOR * pe * lane,
                            ff=pe * (in_bits + out_bits)) \
                       .add_mem("thresholds", tm).add_mem("direction", dm) \
                       .add("control", lut=STREAM_CONTROL_LUT, ff=STREAM_CONTROL_FF)


@cost_model("Add")
class AddModel(OpModel):
    """Residual add: per lane one adder of the output width."""

    def validate(self, layer, g):
        _need(layer, "inputs", "outputs")
        if len(layer["inputs"]) != 2:
            raise EstimateError(f"layer {layer['name']!r} (Add): needs 2 inputs")

    def cost(self, layer, fold, g, ctx):
        ob = g.out(layer).bits
        return R.Cost().add("adders", lut=HLS_DATAPATH_FACTOR * fold["pe"] * R.adder_luts(ob),
                            ff=fold["pe"] * ob) \
                       .add("control", lut=STREAM_CONTROL_LUT, ff=STREAM_CONTROL_FF)


@cost_model("Duplicate")
class DuplicateModel(OpModel):
    """Fork: read once, write every output; an output register per branch."""

    def check(self, layer, fold, g):
        return rules.duplicate(layer["name"], fold, self.channels(layer, g), len(layer["outputs"]))

    def cost(self, layer, fold, g, ctx):
        w = self.out_width(layer, fold, g)
        n = len(layer["outputs"])
        return R.Cost().add("fork", lut=20 + n * 4, ff=n * w + 10)


@cost_model("GlobalSum")
class GlobalSumModel(OpModel):
    """Sum over pixels: per lane an accumulator of the output width; C/PE partial sums per lane
    kept in distributed RAM when C/PE > 1."""

    def lag(self, layer, g):
        return 1.0

    def cost(self, layer, fold, g, ctx):
        pe, ob, c_in = fold["pe"], g.out(layer).bits, g.inp(layer).channels
        c = R.Cost().add("accumulators", lut=HLS_DATAPATH_FACTOR * pe * R.adder_luts(ob),
                         ff=pe * ob) \
                    .add("control", lut=STREAM_CONTROL_LUT, ff=STREAM_CONTROL_FF)
        if c_in // pe > 1:
            c.add_mem("partial_sums", R.memory(c_in // pe, pe * ob, 1, "ram", "auto",
                                               ctx.lut_per_bram))
        return c


@cost_model("MaxPool")
class MaxPoolModel(OpModel):
    """Streaming max pool: per lane a comparator and a mux; one output row of partial maxima
    (Wo x C codes) in a buffer."""

    def validate(self, layer, g):
        _need(layer, "inputs", "outputs", "kernel")

    def lag(self, layer, g):
        return min(1.0, int(layer["kernel"]) / g.inp(layer).shape[0])

    def cost(self, layer, fold, g, ctx):
        # hls/lib/max_pool.h: the sliding window's walk (ring of K + S rows of W*C/PE words),
        # a running max per lane (comparator + mux).
        pe, b = fold["pe"], g.inp(layer).bits
        i = g.inp(layer)
        k, s = int(layer["kernel"]), int(layer.get("stride", layer["kernel"]))
        lane = R.comparator_luts(b) + b
        buf = R.memory((k + s) * i.shape[1] * i.channels // pe, pe * b, 1, "ram", "auto",
                       ctx.lut_per_bram)
        return R.Cost().add("compare", lut=HLS_DATAPATH_FACTOR * pe * lane, ff=pe * b) \
                       .add_mem("line_buffer", buf) \
                       .add("control", lut=STREAM_CONTROL_LUT, ff=STREAM_CONTROL_FF)
