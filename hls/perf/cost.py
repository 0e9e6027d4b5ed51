"""The whole folded design: layers + stream FIFOs / width converters + the platform shell.

``evaluate(graph, folding)`` is the performance model's one entry point: per-layer cycles and
resources from the op models (hls/perf/opmodels.py), the dataflow's initiation interval (the slowest
layer), FPS and a latency estimate at the clock, the FIFOs between layers (skip FIFOs sized from
the branch lag), and totals against the part.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from hls.perf import resources as R
from hls.perf.opmodels import Ctx, EstimateError, Graph

# The platform shell around the accelerator on the PYNQ-Z2: AXI DMA (simple mode, MM2S + S2MM),
# the AXI-Lite and HP0 interconnects, the processor reset, and the accelerator's AXI-Stream
# adapters. An allowance, not a measurement: replace it with the first Vivado report
# (docs/estimate.md, "The shell").
SHELL = {"lut": 2500, "ff": 3500, "bram36": 2.0, "dsp": 0, "lutram": 150}

DEFAULT_FIFO_DEPTH = 2          # HLS's default stream depth between dataflow processes


@dataclass
class Design:
    """An evaluated design (what the report is made from)."""

    graph: Graph
    folding: dict
    clock_mhz: float
    part: R.Part
    layers: list = field(default_factory=list)     # per layer dicts
    fifos: list = field(default_factory=list)
    totals: R.Cost = field(default_factory=R.Cost)
    ii: int = 0
    latency_cycles: int = 0
    mode: str = ""
    lut_per_bram: float = 380.0      # the exchange rate memories were placed at
    generated: bool = False          # priced from codegen's Dataflow (generated.py), not the graph
    memories: list = field(default_factory=list)     # generated: one record per constant array
    converters: list = field(default_factory=list)   # generated: one record per width converter

    @property
    def fps(self) -> float:
        return self.clock_mhz * 1e6 / self.ii if self.ii else 0.0

    @property
    def bottleneck(self) -> str:
        return max(self.layers, key=lambda l: l["cycles"])["name"] if self.layers else ""

    def utilization(self) -> dict:
        t, p = self.totals, self.part
        u = {"lut": t.lut / p.lut, "ff": t.ff / p.ff, "bram36": t.bram36 / p.bram36,
             "dsp": t.dsp / p.dsp}
        if p.lutram:   # unknown on the UltraScale+ parts (host/boards.py): not bounded on its own
            u["lutram"] = t.lutram / p.lutram
        if p.uram or t.uram:
            u["uram"] = t.uram / p.uram if p.uram else float("inf")
        return u

    def fits(self) -> bool:
        return all(v <= 1.0 for v in self.utilization().values())


def stream_offsets(g: Graph) -> dict:
    """For every stream, when its frame starts relative to the graph input, in frames:
    the sum of the lags (fraction of an input frame read before the first output) along the
    slowest path from the input. Two inputs of an Add with different offsets need a skip FIFO
    on the earlier one holding the difference."""
    off = {g.input: 0.0}
    for layer in g.layers:
        m = g.model(layer)
        start = max(off.get(s, 0.0) for s in layer["inputs"]) + m.lag(layer, g)
        for s in layer["outputs"]:
            off[s] = start
    return off


def evaluate(g: Graph, folding: dict, clock_mhz: float = R.DEFAULT_CLOCK_MHZ, part: R.Part = R.XC7Z020,
             ctx: Ctx | None = None, shell: bool = True) -> Design:
    """Cycles and resources of ``g`` folded as ``folding`` ({layer: {pe, simd, ...}})."""
    ctx = ctx or Ctx(lut_per_bram=part.lut / part.bram36)
    folding = with_serial_outputs(g, folding)
    d = Design(g, folding, clock_mhz, part, lut_per_bram=ctx.lut_per_bram)
    tot = R.Cost()
    for layer in g.layers:
        name = layer["name"]
        if name not in folding:
            raise EstimateError(f"no folding for layer {name!r}")
        fold = folding[name]
        m = g.model(layer)
        err = m.check(layer, fold, g)
        if err:
            raise EstimateError(err)
        cyc = g.cycles(layer, fold)
        cost = m.cost(layer, fold, g, ctx)
        rec = layer_record(g, layer, fold, cyc, cost)
        d.layers.append(rec)
        tot.merge(cost, prefix=name + ".")
    d.ii = max(l["cycles"] for l in d.layers) if d.layers else 0

    # -- streams between layers: FIFO (default depth, or skip depth at an Add) + width converter
    off = stream_offsets(g)
    for sname in g.producer:
        f = stream_cost(g, sname, folding, ctx, off)
        if f is None:
            continue
        tot.add(f"fifo.{sname}", lut=f["fifo_lut"], ff=f["fifo_ff"], bram36=f["bram36"],
                lutram=f["lutram"], depth=f["depth"], width=f["width"], style=f["style"])
        if "converter" in f:
            tot.add(f"dwc.{sname}", lut=f["converter"]["lut"], ff=f["converter"]["ff"],
                    lutram=f["converter"]["lutram"])
        d.fifos.append(f)
    if shell:
        tot.add("shell", **SHELL)
    d.totals = tot
    d.latency_cycles = latency(g, d)
    return d


def layer_record(g: Graph, layer: dict, fold: dict, cyc: dict, cost: R.Cost) -> dict:
    """One layer of the report: its cycles (and their parts), folding, resources, itemised, and
    what its op model adds (`report_fields`: a Conv's weight bits and geometry)."""
    rec = {"name": layer["name"], "op": layer["op"], "cycles": int(cyc["cycles"]),
           "pe": fold.get("pe"), "simd": fold.get("simd"),
           "lut": round(cost.lut), "ff": round(cost.ff), "bram36": cost.bram36,
           "dsp": round(cost.dsp), "lutram": round(cost.lutram), "uram": round(cost.uram),
           "in_shape": list(g.inp(layer).shape), "out_shape": list(g.out(layer).shape)}
    rec.update({k: v for k, v in cyc.items() if k != "cycles"})
    rec.update(g.model(layer).report_fields(layer, g))
    rec["items"] = {k: {kk: (round(vv, 1) if isinstance(vv, float) else vv)
                        for kk, vv in v.items()} for k, v in cost.items.items()}
    return rec


def serial_out_pe(g: Graph, sname: str, folding: dict) -> int | None:
    """The output lanes the producer of stream ``sname`` writes when its fold does not say
    (``out_pe``) and its model can serialize its output (the MVU: ``serial_lanes``): the
    consumer's lanes where it can make them, a mux instead of a PE-wide FIFO and a width
    converter. None where that does not apply."""
    prod, cons = g.producer.get(sname), g.consumer.get(sname)
    if prod is None or cons is None or prod not in folding or cons not in folding:
        return None
    pl, cl = g.by_name[prod], g.by_name[cons]
    m, fold = g.model(pl), folding[prod]
    if "out_pe" in fold or not hasattr(m, "serial_lanes") or m.check(pl, fold, g):
        return None
    lanes = g.model(cl).in_width(cl, folding[cons], g, cl["inputs"].index(sname)) // g.streams[sname].bits
    return m.serial_lanes(pl, fold, g, lanes)


def with_serial_outputs(g: Graph, folding: dict) -> dict:
    """A copy of ``folding`` with ``out_pe`` set wherever serial_out_pe applies."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in folding.items()}
    for sname, prod in g.producer.items():
        lanes = serial_out_pe(g, sname, folding)
        if lanes is not None:
            out[prod]["out_pe"] = lanes
    return out


def stream_cost(g: Graph, sname: str, folding: dict, ctx: Ctx, off: dict | None = None):
    """FIFO (+ width converter) of the stream ``sname`` between two layers, or None at the graph
    boundary. Depth: HLS's default 2, or at a join (Add) the skip depth: the lead of this branch
    over the other (stream_offsets), in words, plus one row of words for pipeline slack."""
    prod, cons = g.producer.get(sname), g.consumer.get(sname)
    if prod is None or cons is None:
        return None
    off = off if off is not None else stream_offsets(g)
    pl, cl = g.by_name[prod], g.by_name[cons]
    lanes = serial_out_pe(g, sname, folding)
    pfold = folding[prod] if lanes is None else dict(folding[prod], out_pe=lanes)
    w_out = g.model(pl).out_width(pl, pfold, g, pl["outputs"].index(sname))
    w_in = g.model(cl).in_width(cl, folding[cons], g, cl["inputs"].index(sname))
    s = g.streams[sname]
    depth = DEFAULT_FIFO_DEPTH
    if len(cl["inputs"]) > 1:
        lead = max(off[x] for x in cl["inputs"]) - off[sname]
        if lead > 0:
            words = s.elements * s.bits / max(w_out, 1)
            row = s.shape[1] * s.channels * s.bits / max(w_out, 1) if len(s.shape) > 2 else 1
            depth = int(math.ceil(lead * words + row)) + DEFAULT_FIFO_DEPTH
    mem = R.fifo(depth, w_out, ctx.lut_per_bram)
    f = {"stream": sname, "from": prod, "to": cons, "depth": depth, "width": w_out,
         "style": mem.style, "fifo_lut": mem.lut, "fifo_ff": mem.ff, "bram36": mem.bram36,
         "lutram": mem.lutram}
    lut, ff = mem.lut, mem.ff
    if w_in != w_out:   # width converter (hls/lib/width_convert.h) and the consumer-side FIFO
        clut, cff = converter_cost(w_out, w_in, s.bits)
        second = R.fifo(DEFAULT_FIFO_DEPTH, w_in, ctx.lut_per_bram)
        f["converter"] = {"in_width": w_out, "out_width": w_in, "lut": clut + second.lut,
                          "ff": cff + second.ff, "fifo_lut": second.lut, "lutram": second.lutram}
        lut, ff = lut + clut + second.lut, ff + cff + second.ff
    f["lut"], f["ff"] = round(lut), round(ff)
    return f


def converter_cost(w_in: int, w_out: int, bits: int) -> tuple:
    """Width converter (hls/lib/width_convert.h): a buffer of IN + OUT lanes (FFs); a push lands
    at one of OUT/gcd offsets and a pop shifts by OUT lanes, so each buffer bit selects among
    hold, shift and the pushes that can reach it (min(OUT, IN)/gcd of them): one LUT6 per
    six select/data inputs per bit."""
    lanes_in, lanes_out = max(w_in // bits, 1), max(w_out // bits, 1)
    gcd = math.gcd(lanes_in, lanes_out)
    sources = min(lanes_out // gcd, lanes_in // gcd)   # pushes that can reach one buffer lane
    width = w_in + w_out
    # inputs per buffer bit: hold, shift, pop enable, and (data, select) per push source
    return width * math.ceil((3 + 2 * sources) / 6) + 20, width + 20


def latency(g: Graph, d: Design) -> int:
    """Cycles from the first input word to the last output word of one frame through an empty
    pipeline (rough, +-20%): a layer emits its first output once it has read its lag fraction
    of the input and finished one output's work, and its last output no sooner than its own
    cycles after starting nor before its input's last word plus one output row's work."""
    rec = {l["name"]: l for l in d.layers}
    first, end = {g.input: 0.0}, {g.input: 0.0}
    for layer in g.layers:
        r = rec[layer["name"]]
        m = g.model(layer)
        dur = r["cycles"]
        lag = m.lag(layer, g)
        f_in = max(first[s] for s in layer["inputs"])
        e_in = max(end[s] for s in layer["inputs"])
        depth = r.get("sf", 1) + 10
        f_out = f_in + lag * max(dur, e_in - f_in) + depth
        rows = g.out(layer).shape[0] if len(g.out(layer).shape) > 2 else 1
        tail = dur / max(rows, 1) if lag < 1.0 else depth
        e_out = max(f_out + (1.0 - lag) * dur, e_in + tail)
        for s in layer["outputs"]:
            first[s], end[s] = f_out, e_out
    return int(round(end.get(g.output, max(end.values()))))
