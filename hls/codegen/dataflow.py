"""The dataflow design the op builders fill in: FIFOs, processes, params.

A `Dataflow` is what the generated top function is made of:

- `Fifo`: one ``hls::stream`` between two processes (lanes x bits per beat, beats per frame,
  depth and why);
- `Process`: one call of a library function inside the DATAFLOW region (template arguments
  with their names, call arguments), plus how many input beats each of its output beats needs
  (`needs`, for the FIFO sizing in fifos.py);
- `Param`: one const array (weights, thresholds, directions) with its pragmas.

The op builders (ops.py) only call `fifo`, `process`, `param` and read the streams of their
layer (`input`, `output`); the wiring of package streams, width converters and the AXI
boundary is here.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hls.codegen.layout import memory_shape
from hls.codegen.names import Namer
from hls.perf import resources
from host.errors import ErnError

DEFAULT_DEPTH = 2   # HLS's default stream depth between dataflow processes
WIDTH_CONVERT = "ern::width_convert"   # the converter the wiring inserts (hls/lib/width_convert.h)


class CodegenError(ErnError, ValueError):
    """A package or folding the generator cannot turn into C++ (one-line message)."""


@dataclasses.dataclass
class Fifo:
    """One hls::stream<ap_uint<lanes * bits>> of the top function."""

    ident: str            # C identifier
    label: str            # what it carries (package stream name, or layer + role)
    lanes: int            # values per beat (the fold)
    bits: int             # width of one value
    beats: int            # beats per frame
    signed: bool = False  # how the lanes are read (documentation only: the type is ap_uint)
    depth: int = DEFAULT_DEPTH
    why: str = ""         # the rule that set the depth (a comment in the top function)
    ctype: str = ""       # element type; default ap_uint<lanes * bits>

    @property
    def width(self) -> int:
        return self.lanes * self.bits

    @property
    def type(self) -> str:
        return self.ctype or f"ap_uint<{self.width}>"


@dataclasses.dataclass
class Process:
    """One library call in the DATAFLOW region."""

    name: str                         # for messages: "<layer>.<role>"
    func: str                         # e.g. "ern::sliding_window"
    targs: List[Tuple[str, object]]   # template arguments: (parameter name, value)
    args: List[str]                   # call arguments (FIFO and param identifiers, "frames")
    inputs: List[Fifo]
    outputs: List[Fifo]
    layer: str                        # the package layer (or "" for the boundary)
    # needs[(i, k)]() -> int array over output k's beats of one frame: how many beats of input i
    # the process must have read before it can write that beat (cumulative counts).
    needs: Dict[Tuple[int, int], Callable[[], np.ndarray]] = dataclasses.field(default_factory=dict)

    def need(self, i: int, k: int) -> np.ndarray:
        return self.needs[(i, k)]()


@dataclasses.dataclass
class Param:
    """A const array of the params header of one layer, and the memory it becomes."""

    ident: str
    ctype: str                  # element type, e.g. "ap_uint<32>"
    values: object              # nested lists of Python ints (C order)
    dims: Tuple[int, ...]
    bits: int                   # width of one element
    reshape: Tuple[int, ...]    # dimensions (1-based) reshaped completely into the word
    mem: object                 # hls.perf.resources.Mem: storage ('bram', 'lut', 'reg'), depth,
                                # width and cost, chosen by resources.rom (the estimate's rule)
    layer: str
    comment: str
    wide: int = 0               # > 64: words need a string initialiser of this width
    role: str = ""              # weights, thresholds, direction

    @property
    def banks(self) -> int:
        """Memories the array becomes: one (its reshaped dimensions share a word; the others are
        its depth), or one register set when fully partitioned."""
        return 1

    @property
    def storage(self) -> str:
        """BIND_STORAGE impl: 'bram', 'lutram', 'uram', or 'reg' (fully partitioned constants)."""
        return self.mem.impl

    @property
    def loaded(self) -> bool:
        """Written at run time by the weight loader (UltraRAM), not a constant."""
        return self.mem.loaded


class Dataflow:
    """The design under construction (see the module docstring)."""

    def __init__(self, package, folding: Dict[str, dict], namer: Namer, lut_per_bram: float = 380.0):
        self.package = package
        self.folding = folding
        # the LUTs-per-BRAM36 exchange rate memories are placed at (resources.rom / fifo): the
        # folding file's "_lut_per_bram", the rate the estimate used
        self.lut_per_bram = lut_per_bram
        self.namer = namer
        self.fifos: List[Fifo] = []
        self.processes: List[Process] = []
        self.params: List[Param] = []
        # package stream -> (producer-side FIFO, consumer-side FIFO); the same FIFO unless a
        # width converter sits between them
        self._ends: Dict[str, Tuple[Fifo, Fifo]] = {}
        self.fifo_records: List[dict] = []   # the depths that are not the default (fifos.py)
        self.widest: Tuple[int, str] = (0, "")   # the widest ap_uint word and where (design.widest_word)

    @property
    def loaded(self) -> List["Param"]:
        """The params the weight loader writes (hls/lib/weight_load.h), in load order."""
        return [p for p in self.params if p.loaded]

    # -- what builders use -----------------------------------------------------------------
    def fold(self, layer) -> dict:
        return self.folding.get(layer.name, {})

    def fold_of(self, layer_name: str) -> dict:
        return self.folding.get(layer_name, {})

    def input(self, layer, i: int = 0) -> Fifo:
        """The FIFO layer `layer` reads its input `i` from (at the fold it asked for)."""
        return self._ends[layer.inputs[i]][1]

    def output(self, layer, k: int = 0) -> Fifo:
        """The FIFO layer `layer` writes its output `k` to."""
        return self._ends[layer.outputs[k]][0]

    def stream(self, name: str):
        return self.package.streams[name]

    def ends(self, name: str) -> Tuple[Fifo, Fifo]:
        """(producer-side FIFO, consumer-side FIFO) of package stream `name`."""
        return self._ends[name]

    def fifo(self, label: str, lanes: int, bits: int, beats: int, *, ident: str, signed: bool = False,
             ctype: str = "") -> Fifo:
        f = Fifo(ident, label, int(lanes), int(bits), int(beats), signed, ctype=ctype)
        self.fifos.append(f)
        return f

    def internal(self, layer, role: str, lanes: int, bits: int, beats: int) -> Fifo:
        """A FIFO inside one layer (e.g. sliding window -> MVU)."""
        return self.fifo(f"{layer.name} ({role})", lanes, bits, beats,
                         ident=self.namer.get("s_", layer.name, "_" + role))

    def process(self, name: str, func: str, targs: Sequence[Tuple[str, object]], args: Sequence[str],
                inputs: Sequence[Fifo], outputs: Sequence[Fifo], layer: str = "",
                needs: Optional[Dict[Tuple[int, int], Callable[[], np.ndarray]]] = None) -> Process:
        p = Process(name, func, list(targs), list(args), list(inputs), list(outputs), layer,
                    dict(needs or {}))
        self.processes.append(p)
        return p

    def param(self, layer, short: str, ctype: str, bits: int, values, dims: Sequence[int],
              reshape: Sequence[int], pin: str, comment: str, wide: int = 0) -> Param:
        """A const array; where it is stored (and so what it costs) is resources.rom's rule on
        its reshaped shape, `pin` ('auto', 'bram', 'lut': a Conv's "mem") and the rate."""
        dims = tuple(int(d) for d in dims)
        depth, width = memory_shape(dims, reshape, bits)
        mem = resources.rom(depth, width, pin, self.lut_per_bram, element_bits=bits)
        p = Param(self.namer.get("", layer.name, "_" + short), ctype, values, dims, int(bits),
                  tuple(reshape), mem, layer.name, comment, wide, short)
        self.params.append(p)
        return p

    # -- wiring (called by generate) -------------------------------------------------------
    def connect(self, name: str, producer_lanes: int, consumer_lanes: int) -> None:
        """The FIFO(s) of package stream `name`: one FIFO at the producer's fold and, where the
        consumer reads another fold, a width converter and a second FIFO."""
        s = self.stream(name)
        h, w, c = s.shape
        for lanes, who in ((producer_lanes, "producer"), (consumer_lanes, "consumer")):
            if c % lanes:
                raise CodegenError(f"stream {name!r}: {c} channels are not a multiple of the {who}'s "
                                   f"fold {lanes}")
        beats = h * w * c
        bits, signed = s.bits, s.signed
        if name == self.package.output and not signed:
            # axi_stream_out sign-extends its lanes: unsigned class sums travel one bit wider, signed
            bits, signed = bits + 1, True
        first = self.fifo(name, producer_lanes, bits, beats // producer_lanes,
                          ident=self.namer.get("s_", name), signed=signed)
        last = first
        if consumer_lanes != producer_lanes:
            last = self.fifo(f"{name} (as {consumer_lanes} lanes)", consumer_lanes, bits,
                             beats // consumer_lanes, ident=self.namer.get("s_", name, f"_x{consumer_lanes}"),
                             signed=signed)
        self._ends[name] = (first, last)

    def emit_converters(self, name: str) -> None:
        """The width converter of package stream `name`, if it has one (called right after its
        producer's calls, so the calls stay in topological order)."""
        first, last = self._ends[name]
        if first is last:
            return
        h, w, c = self.stream(name).shape
        inp, out = first.lanes, last.lanes
        self.process(f"{name}.width_convert", WIDTH_CONVERT,
                     [("PIXELS", h * w), ("C", c), ("IN_PE", inp), ("OUT_PE", out), ("BITS", first.bits)],
                     [first.ident, last.ident, "frames"], [first], [last], "",
                     {(0, 0): lambda n=last.beats: need_width_convert(n, inp, out)})


# ---------------------------------------------------------------------------------------------
# Need functions (beats of an input needed before an output beat; see fifos.py)
# ---------------------------------------------------------------------------------------------

def need_same(beats: int) -> np.ndarray:
    """One input beat per output beat (threshold, add, duplicate)."""
    return np.arange(1, beats + 1, dtype=np.int64)


def need_width_convert(out_beats: int, in_lanes: int, out_lanes: int) -> np.ndarray:
    """Output beat j holds lanes [j*OUT, (j+1)*OUT) of the frame: ceil((j+1)*OUT / IN) input beats."""
    j = np.arange(1, out_beats + 1, dtype=np.int64)
    return -(-(j * out_lanes) // in_lanes)


def need_repeat(out_beats: int, per_input: int) -> np.ndarray:
    """`per_input` output beats per input beat (thermometer: one pixel -> C*K/PE beats)."""
    return np.arange(out_beats, dtype=np.int64) // per_input + 1


def need_serialized(vectors: int, nf: int, sf: int, beats: int) -> np.ndarray:
    """MVU with an output serializer (OUT_PE < PE): each neuron fold's result leaves as `beats`
    beats, the first in the fold's last cycle, beat b (b >= 1) in cycle b - 1 of the next fold.
    After a vector's last fold that next fold belongs to the next vector and reads an input beat
    per cycle first, so beat b needs b of those; after the frame's last vector the MVU flushes.
    With beats = 1: the NF output beats of vector v come after its SF input beats."""
    j = np.arange(vectors * nf * beats, dtype=np.int64)
    v, n, b = j // (nf * beats), (j // beats) % nf, j % beats
    late = (n == nf - 1) & (b > 0) & (v < vectors - 1)
    return (v + 1) * sf + np.where(late, b, 0)


def need_window(k: int, s: int, p: int, h: int, w: int, cf: int, reduce: bool = False) -> np.ndarray:
    """Reads done before each write of hls/lib/sliding_window.h's window walk (max_pool's with
    `reduce`): the walk's own control flow, replayed. Each loop iteration reads one input beat
    while the ring of K + S rows has room (a blocking read: the iteration waits for it even when
    it could write) and writes one window beat once the input it shows has been read (padding
    needs nothing). So a window reads up to K + S rows ahead of the rows it is emitting; a
    formula from the window's geometry alone would miss that and under-size skip FIFOs."""
    if k == 1 and p == 0:   # window_scan_1x1: every iteration reads; writes the kept pixels
        ho, wo = (h - 1) // s + 1, (w - 1) // s + 1
        yo, xo, c = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(cf), indexing="ij")
        return (((yo * s) * w + xo * s) * cf + c + 1).reshape(-1).astype(np.int64)
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    nr, row = k + s, w * cf
    ry = rcol = 0
    yo = xo = ky = kx = c = kcol = 0
    top, left, left_col = -p, -p, -p * cf
    wdone = False
    reads = 0
    out: List[int] = []
    while ry < h or not wdone:
        iy, ix = top + ky, left + kx
        pad = iy < 0 or iy >= h or ix < 0 or ix >= w
        col = 0 if pad else left_col + kcol
        can_write = not wdone and (pad or iy < ry or (iy == ry and col < rcol))
        if ry < h and ry < top + nr:   # can_read
            reads += 1
            rcol += 1
            if rcol == row:
                rcol = 0
                ry += 1
        if can_write:
            if not reduce or (ky == k - 1 and kx == k - 1):
                out.append(reads)
            kcol += 1
            c += 1
            if c == cf:
                c = 0
                kx += 1
                if kx == k:
                    kx = kcol = 0
                    ky += 1
                    if ky == k:
                        ky = 0
                        xo += 1
                        if xo == wo:
                            xo, left, left_col = 0, -p, -p * cf
                            top += s
                            yo += 1
                            wdone = yo == ho
                        else:
                            left += s
                            left_col += s * cf
    return np.array(out, dtype=np.int64)
