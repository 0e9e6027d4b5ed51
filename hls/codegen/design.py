"""From a model package and a folding to a `Dataflow` (FIFOs, processes, params).

    df = build(package, folding)          # folding: {layer: {"pe": .., "simd": .., "mem": ..}}

Steps: each layer's builder (ops.py) checks its folding and says the fold of each stream it
reads and writes; every package stream becomes a FIFO at its producer's fold (plus a width
converter and a second FIFO where the consumer reads another fold); the AXI-Stream adapters
take the graph input and output; each builder emits its calls; fifos.py sizes the skip FIFOs.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

from hls.codegen import fifos, rules
from hls.codegen.dataflow import CodegenError, Dataflow
from hls.codegen.names import Namer
from hls.codegen.ops import builder
from hls.perf import resources

# a folding's LUTs-per-BRAM36 exchange rate (hls/perf/folding.py writes it): where memories go
RATE_KEY = "_lut_per_bram"
# a folding's FIFO depths ({FIFO identifier: depth}; `python -m hls.fifos` writes them): the
# generator sets them, so the estimate (which prices the generated Dataflow) counts them too
FIFO_KEY = "_fifo_depths"

TOP = "ern_top"                 # the top function (and the IP's name)
IN_PORT, OUT_PORT = "in_stream", "out_stream"
AXI_BITS = rules.AXI_BITS       # TDATA of both AXI-Streams (the DMA's stream side; its memory side
                                # is the board's HP port width, host/boards.py: 64 or 128 bits)
OUT_LANE_BITS = 32              # class sums: int32 lanes


def build(package, folding: Optional[Dict[str, dict]] = None, fifo_depths: Optional[Dict[str, int]] = None,
          pipeline_slack: int = fifos.PIPELINE_SLACK, part: Optional[resources.Part] = None) -> Dataflow:
    """The dataflow of `package` folded as `folding` (layers it does not name: PE = SIMD = 1).
    `fifo_depths` overrides FIFO depths by identifier or label, `pipeline_slack` the margin per
    process of the skip-FIFO rule (tests: 0 checks the C-model part of the rule alone).
    The folding's FIFO_KEY entry ({FIFO identifier: depth}, the sized depths) sets depths too,
    but never below the skip rule's deadlock-safe depth (CodegenError). `part` (default the
    PYNQ-Z2's xc7z020) decides whether a Conv may keep its weights in UltraRAM (mem = "uram")."""
    rate = float((folding or {}).get(RATE_KEY, resources.XC7Z020.lut / resources.XC7Z020.bram36))
    sized = dict((folding or {}).get(FIFO_KEY) or {})
    folding = {k: dict(v) for k, v in (folding or {}).items() if not str(k).startswith("_")}
    names = {layer.name for layer in package.layers}
    unknown = sorted(set(folding) - names)
    if unknown:
        raise CodegenError(f"folding names layer {unknown[0]!r}, which is not in model {package.model!r} "
                           f"(layers: {', '.join(layer.name for layer in package.layers)})")
    part = part or resources.XC7Z020
    for name, fold in folding.items():
        err = rules.memory_on_part(name, fold, part.name, part.uram)
        if err:
            raise CodegenError(err)
    namer = Namer()
    for ident in (TOP, IN_PORT, OUT_PORT):
        namer.reserve(ident)
    df = Dataflow(package, folding, namer, rate)

    # 1. folds: every stream's producer and consumer side
    image = package.streams[package.input]
    consumed: Dict[str, int] = {}
    produced: Dict[str, int] = {}
    for layer in package.layers:
        b = builder(layer.op)
        fold = df.fold(layer)
        b.check(layer, fold, df)
        ins, outs = b.lanes(layer, fold, df)
        consumed.update(zip(layer.inputs, ins))
        produced.update(zip(layer.outputs, outs))
    consumed[package.output] = produced[package.output]   # axi_stream_out reads any fold
    # axi_stream_in: one whole pixel per beat (a wide one, a flattened image: its consumer's fold)
    produced[package.input] = rules.input_lanes(image.shape[2], consumed[package.input])

    out = package.streams[package.output]
    if out.bits + (0 if out.signed else 1) > OUT_LANE_BITS:   # unsigned sums travel one bit wider
        raise CodegenError(f"output stream {package.output!r} needs {out.bits} bits; the class sums leave "
                           f"the accelerator as int{OUT_LANE_BITS}")

    # 2. FIFOs, converters and calls, in topological order
    order = [package.input] + [s for layer in package.layers for s in layer.outputs]
    for name in order:
        df.connect(name, produced[name], consumed[name])
    h, w, c = image.shape
    x = df.ends(package.input)[0]
    folded = [("PE", x.lanes)] if x.lanes != c else []
    df.process("axi_stream_in", "ern::axi_stream_in", [("PIXELS", h * w), ("C", c), ("AXI_BITS", AXI_BITS)] + folded,
               [IN_PORT, x.ident, "frames"], [], [x])
    df.emit_converters(package.input)
    for layer in package.layers:
        builder(layer.op).emit(layer, df.fold(layer), df)
        for name in layer.outputs:
            df.emit_converters(name)
    y = df.ends(package.output)[1]
    df.process("axi_stream_out", "ern::axi_stream_out",
               [("C", out.shape[2]), ("PE", y.lanes), ("IN_BITS", y.bits), ("AXI_BITS", AXI_BITS),
                ("LANE_BITS", OUT_LANE_BITS), ("LAST_PER_FRAME", False)],
               [y.ident, OUT_PORT, "frames"], [y], [])

    # 3. word widths: ap_uint above 1024 bits needs AP_INT_MAX_W (ern_top.h), above 4096 none exists
    df.widest = widest_word(df)
    bits, what = df.widest
    if bits > AP_INT_LIMIT:
        raise CodegenError(f"{what} is a {bits}-bit word; Vitis HLS ap_uint stops at {AP_INT_LIMIT} bits "
                           f"(UG1399: AP_INT_MAX_W <= {AP_INT_LIMIT})")

    # 4. depths
    df.fifo_records = fifos.size_fifos(df, fifo_depths, pipeline_slack, sized=sized)
    return df


AP_INT_DEFAULT = 1024           # ap_int's widest type unless AP_INT_MAX_W says more
AP_INT_LIMIT = 4096             # the most AP_INT_MAX_W may say (UG1399)


def _width_of(ctype: str) -> int:
    """N of `ap_uint<N>` / `ap_int<N>` (0 for other types)."""
    m = re.fullmatch(r"ap_u?int<(\d+)>", ctype.replace(" ", ""))
    return int(m.group(1)) if m else 0


def widest_word(df: Dataflow) -> Tuple[int, str]:
    """(bits, what) of the widest ap_uint the design instantiates: its FIFOs, its param words, and
    the words that hls/lib builds inside a call from its template arguments (the lane buffers of
    the converters and AXI adapters, the MVU's PE-lane output word)."""
    found = [(f.width, f"stream {f.label!r} (FIFO {f.ident})") for f in df.fifos]
    found += [(_width_of(q.ctype), f"layer {q.layer!r}: param {q.ident}") for q in df.params]
    for proc in df.processes:
        t = dict(proc.targs)
        where = f"layer {proc.layer!r}: {proc.name}" if proc.layer else proc.name
        if proc.func == "ern::width_convert":
            found.append(((t["IN_PE"] + t["OUT_PE"]) * t["BITS"], f"{where} (lane buffer)"))
        elif proc.func == "ern::axi_stream_in":
            found.append((t["AXI_BITS"] + t.get("PE", t["C"]) * 8, f"{where} (lane buffer)"))
        elif proc.func == "ern::axi_stream_out":
            found.append(((t["PE"] + t["AXI_BITS"] // t["LANE_BITS"]) * t["LANE_BITS"], f"{where} (lane buffer)"))
        elif proc.func in ("ern::mvu_threshold", "ern::mvu_accumulate"):
            lane = t.get("OUT_BITS", t.get("ACC_BITS"))
            found.append((t["PE"] * lane, f"{where} (PE-lane output word)"))
    return max(found, key=lambda x: x[0])
