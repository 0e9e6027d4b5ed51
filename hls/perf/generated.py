"""The reported estimate: the Dataflow that hls/codegen builds, priced.

The folding search (folding.py) works on the graph (cost.py: each op's formulas, skip FIFOs from
branch lags), because it evaluates thousands of foldings. The figure we report is of the design
the generator emits: `evaluate_generated` takes codegen's Dataflow for the chosen folding and
prices exactly what it holds:

- every FIFO at its generated depth and width, stored as the generated BIND_STORAGE says
  (resources.fifo: SRL, LUTRAM or BRAM by depth x width; the rule the generator writes);
- every constant array (weights, thresholds, directions) as the generated pragmas lay it out and
  store it (layout.memory_shape, resources.rom: the rule the generator writes);
- every width converter the wiring inserts;
- each layer's datapath, control and internal buffers (line buffers, input buffers, serializers)
  from its op model (opmodels.py), its cycles likewise;
- the shell allowance.

estimate.json lists the FIFOs, memories and converters one by one (`fifos`, `memories`,
`converters`), so they can be compared with the generated text (tests/test_estimate_agrees.py).
"""
from __future__ import annotations

import math

from hls.codegen.dataflow import WIDTH_CONVERT, Dataflow
from hls.codegen.files import fifo_mem
from hls.perf import resources as R
from hls.perf.cost import (SHELL, Design, converter_cost, latency, layer_record,
                           with_serial_outputs)
from hls.perf.opmodels import Ctx, EstimateError, Graph

# op-model cost items that the Dataflow replaces with what the generator emits: its params (the
# constant arrays) and its FIFOs (a Conv's window -> MVU FIFO is one of df.fifos)
REPLACED_ITEMS = ("weights", "thresholds", "direction", "window_fifo")


def _full_fold(m, fold: dict) -> dict:
    """The fold as the generator reads it: keys it does not give are 1 (codegen's default)."""
    return {**{k: 1 for k in m.fold_keys}, **fold}


def _without_replaced(cost: R.Cost) -> R.Cost:
    out = R.Cost()
    for name, item in cost.items.items():
        if name not in REPLACED_ITEMS:
            out.add(name, **item)
    return out


def memory_record(p) -> dict:
    m = p.mem
    return {"param": p.ident, "layer": p.layer, "role": p.role, "dims": list(p.dims),
            "element_bits": p.bits, "banks": p.banks, "depth": m.depth, "width": m.width,
            "storage": m.impl, "lut": round(m.lut, 1), "bram36": m.bram36, "uram": m.uram}


def fifo_record(df: Dataflow, f, producer: dict, consumer: dict) -> dict:
    m = fifo_mem(df, f)
    return {"fifo": f.ident, "stream": f.label, "from": producer.get(id(f), ""),
            "to": consumer.get(id(f), ""), "width": f.width, "depth": f.depth, "storage": m.impl,
            "lut": round(m.lut, 1), "ff": round(m.ff, 1), "bram36": m.bram36,
            "lutram": round(m.lutram, 1)}


def converter_record(proc) -> dict:
    t = dict(proc.targs)
    w_in, w_out = t["IN_PE"] * t["BITS"], t["OUT_PE"] * t["BITS"]
    lut, ff = converter_cost(w_in, w_out, t["BITS"])
    return {"process": proc.name, "in": proc.inputs[0].ident, "out": proc.outputs[0].ident,
            "in_width": w_in, "out_width": w_out, "lut": lut, "ff": ff, "bram36": 0.0}


def evaluate_generated(g: Graph, df: Dataflow, clock_mhz: float = R.DEFAULT_CLOCK_MHZ,
                       part: R.Part = R.XC7Z020, shell: bool = True) -> Design:
    """Cycles and resources of the generated design `df` (of the model `g`)."""
    ctx = Ctx(lut_per_bram=df.lut_per_bram)
    folding = {l["name"]: _full_fold(g.model(l), df.folding.get(l["name"], {})) for l in g.layers}
    d = Design(g, folding, clock_mhz, part, lut_per_bram=df.lut_per_bram)
    d.generated = True
    tot = R.Cost()
    params = {}
    for p in df.params:
        params.setdefault(p.layer, []).append(p)
    for layer in g.layers:
        name, m = layer["name"], g.model(layer)
        fold = folding[name]
        err = m.check(layer, fold, g)
        if err:
            raise EstimateError(err)
        cyc = g.cycles(layer, fold)
        cost = _without_replaced(m.cost(layer, fold, g, ctx))
        for p in params.get(name, []):
            cost.add(p.role, lut=p.mem.lut, ff=p.mem.ff, bram36=p.mem.bram36, lutram=p.mem.lutram,
                     uram=p.mem.uram, style=p.mem.impl, depth=p.mem.depth, width=p.mem.width, banks=p.banks)
            d.memories.append(memory_record(p))
        rec = layer_record(g, layer, fold, cyc, cost)
        d.layers.append(rec)
        tot.merge(cost, prefix=name + ".")
    d.ii = max(l["cycles"] for l in d.layers) if d.layers else 0

    producer = {id(f): p.name for p in df.processes for f in p.outputs}
    consumer = {id(f): p.name for p in df.processes for f in p.inputs}
    for f in df.fifos:
        r = fifo_record(df, f, producer, consumer)
        tot.add(f"fifo.{f.ident}", lut=r["lut"], ff=r["ff"], bram36=r["bram36"], lutram=r["lutram"],
                depth=f.depth, width=f.width, style=r["storage"])
        d.fifos.append(r)
    for proc in df.processes:
        if proc.func == WIDTH_CONVERT:
            r = converter_record(proc)
            tot.add(f"dwc.{proc.name}", lut=r["lut"], ff=r["ff"])
            d.converters.append(r)
    if any(p.mem.loaded for p in df.params):
        tot.add("weight_loader", **R.LOADER_SHARED)   # mode decode + stream handshake, once
    if shell:
        tot.add("shell", **SHELL)
    d.totals = tot
    d.latency_cycles = latency(g, d)
    return d


def generated_pricer(package):
    """price(g, folding, clock_mhz, part, ctx) -> Design: the design the generator builds for
    `folding` (output serializers set as cost.with_serial_outputs sets them, memories placed at
    ctx's rate), priced. Building a Dataflow takes ~0.1 s for ern_tiny, so the folding search
    checks every candidate it keeps against the budget this way."""
    from hls.codegen import CodegenError, build
    from hls.codegen.design import FIFO_KEY, RATE_KEY

    def price(g: Graph, folding: dict, clock_mhz: float = R.DEFAULT_CLOCK_MHZ, part: R.Part = R.XC7Z020,
              ctx: Ctx | None = None) -> Design:
        rate = ctx.lut_per_bram if ctx else part.lut / part.bram36
        depths = folding.get(FIFO_KEY)
        fold = with_serial_outputs(g, {k: v for k, v in folding.items() if k != FIFO_KEY})
        if depths:
            fold[FIFO_KEY] = depths
        try:
            df = build(package, dict(fold, **{RATE_KEY: rate}), part=part)
        except CodegenError as e:
            raise EstimateError(str(e)) from None
        return evaluate_generated(g, df, clock_mhz, part)
    return price
