"""Resource primitives of the performance model: the part, memories, and LUT costs of arithmetic.

Everything here is a small documented formula; the per-op models in ``hls/perf/opmodels.py`` compose
them. docs/estimate.md explains each number and where it comes from. Nothing here knows an op
type: ops call these functions.

Conventions
- ``bram36`` counts BRAM36 tiles and may be a multiple of 0.5 (one RAMB18 = 0.5), as Vivado's
  utilization report counts "Block RAM Tile".
- ``lut`` counts slice LUTs (logic + memory); ``lutram`` is the part of it that sits in SLICEM
  as distributed *RAM* (17,400 available on the xc7z020). Distributed *ROM* (constant weights
  and thresholds) is ordinary logic and may use any LUT.
- ``uram`` counts UltraRAM blocks (UltraScale+ only: URAM288, 4,096 x 72 bits). URAM cannot be
  initialised by the bitstream (UG573), so weights placed there are written at run time by the
  weight loader (hls/lib/weight_load.h) before the first frame: ``rom(..., pin="uram")`` prices
  the blocks and the loader's share of logic.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------------
# The part
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """An FPGA part's programmable-logic resources (host/boards.py holds the figures)."""

    name: str
    lut: int        # slice LUTs (LUT6)
    ff: int         # slice registers
    bram36: float   # BRAM36 tiles (each = 2 x RAMB18)
    dsp: int        # DSP48E1 / DSP48E2
    lutram: int | None   # LUTs usable as distributed RAM / shift registers (SLICEM); None: unknown
    uram: int = 0   # UltraRAM blocks (UltraScale+: 4,096 x 72 bits each)
    family: str = "7series"   # "7series" or "ultrascale+" (docs/estimate.md: what differs)

    def as_dict(self) -> dict:
        return {"name": self.name, "lut": self.lut, "ff": self.ff, "bram36": self.bram36,
                "uram": self.uram, "dsp": self.dsp, "lutram": self.lutram, "family": self.family}


def _default_clock() -> float:
    from host import boards
    return boards.get().clock_mhz


def part_of(board) -> Part:
    """The Part of a host.boards.Board (or a board name)."""
    from host import boards
    b = boards.get(board) if board is None or isinstance(board, str) else board
    return Part(b.part, lut=b.lut, ff=b.ff, bram36=b.bram36, dsp=b.dsp, lutram=b.lutram,
                uram=b.uram, family="7series" if b.ps == "zynq7" else "ultrascale+")


# The default board's part (PYNQ-Z2: xc7z020clg400-1) and clock.
XC7Z020 = part_of("pynq-z2")
DEFAULT_CLOCK_MHZ = _default_clock()


# --------------------------------------------------------------------------------------------
# A resource bill
# --------------------------------------------------------------------------------------------

RESOURCE_KEYS = ("lut", "ff", "bram36", "dsp", "lutram", "uram")


@dataclass
class Cost:
    """Resources of one unit, with an itemised LUT/BRAM breakdown for the report."""

    lut: float = 0.0
    ff: float = 0.0
    bram36: float = 0.0
    dsp: float = 0.0
    lutram: float = 0.0        # included in ``lut``
    uram: float = 0.0          # UltraRAM blocks
    items: dict = field(default_factory=dict)   # name -> {"lut": .., "bram36": .., ...}

    def add(self, name: str, lut: float = 0.0, ff: float = 0.0, bram36: float = 0.0,
            dsp: float = 0.0, lutram: float = 0.0, uram: float = 0.0, **info) -> "Cost":
        """Add an item. ``lutram`` LUTs must also be counted in ``lut`` by the caller."""
        self.lut += lut
        self.ff += ff
        self.bram36 += bram36
        self.dsp += dsp
        self.lutram += lutram
        self.uram += uram
        item = self.items.setdefault(name, {})
        for k, v in (("lut", lut), ("ff", ff), ("bram36", bram36), ("dsp", dsp),
                     ("lutram", lutram), ("uram", uram)):
            if v:
                item[k] = item.get(k, 0) + v
        item.update(info)
        return self

    def add_mem(self, name: str, mem: "Mem") -> "Cost":
        return self.add(name, lut=mem.lut, ff=mem.ff, bram36=mem.bram36, lutram=mem.lutram,
                        uram=mem.uram, style=mem.style, depth=mem.depth, width=mem.width, banks=mem.banks)

    def merge(self, other: "Cost", prefix: str = "") -> "Cost":
        for name, item in other.items.items():
            self.items[prefix + name] = dict(item)
        self.lut += other.lut
        self.ff += other.ff
        self.bram36 += other.bram36
        self.dsp += other.dsp
        self.lutram += other.lutram
        self.uram += other.uram
        return self

    def as_dict(self) -> dict:
        return {"lut": round(self.lut), "ff": round(self.ff), "bram36": self.bram36,
                "dsp": round(self.dsp), "lutram": round(self.lutram), "uram": round(self.uram)}


# --------------------------------------------------------------------------------------------
# Arithmetic (LUT6 counts; docs/estimate.md section "LUT model")
# --------------------------------------------------------------------------------------------

# Popcount of n AND/XNOR-gated bits (the xnor/popcount "multiply-add" of one bit plane), measured
# with yosys 0.23 `synth_xilinx -family xc7` (ABC LUT6 mapping) on an exact-width adder tree whose
# leaves are `w[i] XNOR a[i]` (docs/estimate.md, "Calibrating the popcount"). Carry-chain analysis
# (a balanced adder tree, one LUT per adder bit) gives 2n - log2(n) - 2, i.e. ~1.9 LUT/bit; ABC's
# figures are at or above it, so we use the measured ones (conservative for Vivado).
POPCOUNT_LUTS_MEASURED = {
    1: 1, 2: 2, 3: 2, 4: 6, 6: 6, 8: 12, 9: 13, 12: 20, 16: 32, 18: 34, 24: 41, 32: 64, 36: 68,
    48: 110, 64: 173, 72: 195, 96: 241, 128: 336, 144: 373, 192: 520, 256: 711, 288: 828,
    512: 1441,
}
_PC_N = sorted(POPCOUNT_LUTS_MEASURED)
POPCOUNT_LUT_PER_BIT_LARGE = 2.85   # beyond the largest measured n (512: 2.81 LUT/bit)


def popcount_luts(n: int) -> float:
    """LUTs of an n-input AND/XNOR + popcount tree (measured table, interpolated per bit on log2 n)."""
    if n <= 0:
        return 0.0
    if n in POPCOUNT_LUTS_MEASURED:
        return float(POPCOUNT_LUTS_MEASURED[n])
    if n > _PC_N[-1]:
        return POPCOUNT_LUT_PER_BIT_LARGE * n
    hi = next(k for k in _PC_N if k > n)
    lo = max(k for k in _PC_N if k < n)
    plo, phi = POPCOUNT_LUTS_MEASURED[lo] / lo, POPCOUNT_LUTS_MEASURED[hi] / hi
    t = (math.log2(n) - math.log2(lo)) / (math.log2(hi) - math.log2(lo))
    return n * (plo + t * (phi - plo))


def adder_luts(bits: int) -> float:
    """A two-operand adder/accumulator on the CARRY4 chain: one LUT per result bit
    (yosys measurement: 8/12/16/24-bit accumulators = 8/12/16/24 LUT)."""
    return float(max(bits, 0))


def comparator_luts(bits: int) -> float:
    """a >= b, both variable, on the carry chain: ~2/3 LUT per bit (yosys: 8 bits -> 6 LUT,
    12 -> 8, 16 -> 12, 24 -> 16)."""
    return float(math.ceil(2 * bits / 3)) if bits > 0 else 0.0


def const_comparator_luts(bits: int) -> float:
    """x >= constant: a function of the bits of x only; ~1 LUT6 per 4 bits plus one to combine."""
    return float(math.ceil(bits / 4) + (1 if bits > 6 else 0)) if bits > 0 else 0.0


def mux_luts(n: int) -> float:
    """An n-way multiplexer of one bit: a LUT6 selects among 4, a slice's F7/F8 muxes combine
    four LUTs into 16 ways; wider ones add a level of LUTs."""
    if n <= 1:
        return 0.0
    luts = math.ceil(n / 4)
    return float(luts + (math.ceil(luts / 4) if n > 16 else 0))


def bits_for(lo: int, hi: int) -> int:
    """Smallest two's-complement (or unsigned when lo >= 0) width that holds [lo, hi]."""
    if lo >= 0:
        return max(1, int(hi).bit_length())
    return max(int(hi).bit_length(), int(-lo - 1).bit_length()) + 1


def clog2(n: int) -> int:
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0


# --------------------------------------------------------------------------------------------
# Memories
# --------------------------------------------------------------------------------------------

# Block RAM aspect ratios on 7-series (UG473): (depth, width, tiles). A RAMB18 counts 0.5.
# Simple-dual-port mode gives the 512 x 36 (RAMB18) and 512 x 72 (RAMB36) shapes.
BRAM_SHAPES = (
    (16384, 1, 0.5), (8192, 2, 0.5), (4096, 4, 0.5), (2048, 9, 0.5), (1024, 18, 0.5),
    (512, 36, 0.5),
    (32768, 1, 1.0), (16384, 2, 1.0), (8192, 4, 1.0), (4096, 9, 1.0), (2048, 18, 1.0),
    (1024, 36, 1.0), (512, 72, 1.0),
)


@functools.lru_cache(maxsize=65536)
def _bram_columns(depth: int, width: int) -> float:
    best = [0.0] + [math.inf] * width          # best[w]: cheapest cover of w bits
    col_cost = [(w, math.ceil(depth / d) * t) for d, w, t in BRAM_SHAPES]
    for need in range(1, width + 1):
        for w, c in col_cost:
            prev = best[max(0, need - w)]
            if prev + c < best[need]:
                best[need] = prev + c
    return best[width]


def bram36_for(depth: int, width: int) -> float:
    """BRAM36 tiles for one memory of ``depth`` words x ``width`` bits.

    The width is split into columns, each column a stack of one primitive shape, choosing the
    cheapest combination (what Vivado's memory mapping does for a plain array); a column of shape
    (d, w) costs ceil(depth / d) primitives. Wide memories repeat the cheapest column shape and
    solve only the remainder exactly.
    """
    if depth <= 0 or width <= 0:
        return 0.0
    depth, width = int(depth), int(width)
    if width <= 288:
        return _bram_columns(depth, width)
    best = math.inf
    for d, w, t in BRAM_SHAPES:
        full, rest = divmod(width, w)
        cand = full * math.ceil(depth / d) * t + (_bram_columns(depth, rest) if rest else 0.0)
        best = min(best, cand)
    return best


def lut_rom_luts(depth: int, width: int) -> float:
    """Distributed ROM: a LUT6 holds 64 x 1 (two 32 x 1 for depth <= 32); F7/F8 muxes make
    256-deep columns for free, deeper ones need a LUT mux per extra 256 words and bit."""
    if depth <= 0 or width <= 0:
        return 0.0
    if depth <= 32:
        return float(math.ceil(width / 2))
    luts = math.ceil(depth / 64) * width
    if depth > 256:
        luts += width * (math.ceil(depth / 256) - 1)
    return float(luts)


def lut_ram_luts(depth: int, width: int) -> float:
    """Distributed (simple dual-port) RAM: RAM32M gives 32 x 6 in 4 LUTs (depth <= 32);
    RAM64M gives 64 x 3 in 4 LUTs; deeper columns stack plus a mux as for ROM."""
    if depth <= 0 or width <= 0:
        return 0.0
    if depth <= 32:
        return 4.0 * math.ceil(width / 6)
    luts = 4 * math.ceil(width / 3) * math.ceil(depth / 64)
    if depth > 256:
        luts += width * (math.ceil(depth / 256) - 1)
    return float(luts)


def srl_fifo_luts(depth: int, width: int) -> float:
    """Shift-register FIFO (what HLS builds for shallow streams): one SRLC32E per bit per 32 words."""
    return float(width * math.ceil(max(depth, 1) / 32))


@dataclass
class Mem:
    """A memory as implemented: ``style`` is 'bram', 'lut' (distributed ROM, logic LUTs),
    'lutram' (distributed RAM, SLICEM), 'srl' (shift-register FIFO, SLICEM) or 'uram'
    (UltraRAM written by the weight loader)."""

    style: str
    depth: int
    width: int
    banks: int = 1
    lut: float = 0.0
    ff: float = 0.0
    bram36: float = 0.0
    lutram: float = 0.0
    uram: float = 0.0

    @property
    def loaded(self) -> bool:
        """Written at run time by the weight loader (not a constant of the bitstream)."""
        return self.style == "uram"

    @property
    def impl(self) -> str:
        return IMPL[self.style]


def memory(depth: int, width: int, banks: int = 1, kind: str = "rom", style: str = "auto",
           lut_per_bram: float = 380.0) -> Mem:
    """Cost of ``banks`` identical memories of ``depth`` x ``width`` bits.

    kind: 'rom' (constant contents: weights, thresholds) or 'ram' (buffers, FIFOs).
    style: 'bram', 'lut' or 'auto'. 'auto' picks the cheaper of block RAM and distributed memory
    at an exchange rate of ``lut_per_bram`` LUTs per BRAM36 (default: the part's LUT/BRAM ratio,
    53,200 / 140 = 380, i.e. whichever uses the smaller fraction of the part). The folding
    search passes other rates to trade BRAM against LUTs.
    """
    depth, width, banks = int(depth), int(width), int(banks)
    if depth <= 0 or width <= 0 or banks <= 0:
        return Mem("none", depth, width, banks)
    b = bram36_for(depth, width) * banks
    if kind == "rom":
        d = lut_rom_luts(depth, width) * banks
        dist = Mem("lut", depth, width, banks, lut=d)
    else:
        d = lut_ram_luts(depth, width) * banks
        dist = Mem("lutram", depth, width, banks, lut=d, lutram=d)
    block = Mem("bram", depth, width, banks, bram36=b)
    if style == "bram":
        return block
    if style in ("lut", "lutram", "distributed"):
        return dist
    if style != "auto":
        raise ValueError(f"memory style {style!r}: expected 'auto', 'bram' or 'lut'")
    return dist if d <= lut_per_bram * b else block


# A memory of at most this many bits never takes a block RAM (a RAMB18 holds 18 kbit; below a
# kilobit distributed memory costs a handful of LUTs), whatever the exchange rate or pin says.
TINY_BITS = 1024

# BIND_STORAGE impl of each Mem style (what the generated pragmas say; 'reg': a fully
# partitioned constant array, no memory at all)
IMPL = {"bram": "bram", "lut": "lutram", "lutram": "lutram", "srl": "srl", "reg": "reg", "none": "none",
        "uram": "uram"}

# --------------------------------------------------------------------------------------------
# UltraRAM (UltraScale+): weights written at run time
# --------------------------------------------------------------------------------------------

URAM_DEPTH, URAM_WIDTH = 4096, 72   # one URAM288 block; the width has no other aspect ratio (UG573)


def uram_for(depth: int, width: int) -> int:
    """URAM288 blocks for one memory of ``depth`` x ``width`` bits: columns of 72 bits, each
    ceil(depth / 4096) blocks deep (deeper columns use the blocks' built-in cascade, no LUTs).
    A width that is not a multiple of 72 wastes the rest of its last column."""
    if depth <= 0 or width <= 0:
        return 0
    return math.ceil(int(width) / URAM_WIDTH) * math.ceil(int(depth) / URAM_DEPTH)


# The loader's logic per loaded memory (hls/lib/weight_load.h): an address counter and its
# compare (~2 LUT per address bit), a beat counter per element, and one LUT per 64-bit beat of
# the element for its enable; the assembled PE words wait in registers (FFs with clock enable,
# no LUT). The write goes to the memory's own write port, so the datapath's read port is
# untouched. Plus once per design: the mode decode and the input-stream handshake.
LOADER_SHARED = {"lut": 80, "ff": 60}


def loader_cost(depth: int, width: int, element_bits: int) -> tuple:
    """(LUT, FF) of writing one memory of ``depth`` words x ``width`` bits, elements of
    ``element_bits`` bits (the loader reads each element as whole 64-bit beats)."""
    beats = max(1, math.ceil(int(element_bits) / 64))
    lut = 20 + 2 * clog2(depth) + beats + clog2(beats)
    ff = width + clog2(depth) + clog2(beats) + 8
    return float(lut), float(ff)


def uram(depth: int, width: int, element_bits: int | None = None) -> Mem:
    """A memory in UltraRAM written by the weight loader: its blocks and its loader logic."""
    lut, ff = loader_cost(depth, width, element_bits or width)
    return Mem("uram", int(depth), int(width), 1, lut=lut, ff=ff, uram=uram_for(depth, width))


def rom(depth: int, width: int, pin: str = "auto", lut_per_bram: float = 380.0,
        element_bits: int | None = None) -> Mem:
    """A constant array (weights, thresholds, directions) as the generator emits it, and its
    cost: the one storage rule of both hls/codegen (BIND_STORAGE / ARRAY_PARTITION pragmas) and
    the estimate. One word deep: constants in registers (fully partitioned; the logic folds them
    in, no memory). At most TINY_BITS: distributed ROM. Else `pin` ('bram', 'lut') or, with
    'auto', the cheaper of block and distributed ROM at the exchange rate. 'uram' is always
    UltraRAM (whatever its size: the folding asked for the run-time write path), with the loader
    of `element_bits`-bit elements."""
    depth, width = int(depth), int(width)
    if pin == "uram":
        return uram(depth, width, element_bits)
    if depth == 1:
        return Mem("reg", depth, width, 1)
    if depth * width <= TINY_BITS:
        pin = "lut"
    return memory(depth, width, 1, "rom", pin, lut_per_bram)


SRL_MAX_DEPTH = 32   # an SRLC32E holds 32 words of one bit


def fifo(depth: int, width: int, lut_per_bram: float = 380.0) -> Mem:
    """A stream FIFO as the generator emits it (BIND_STORAGE type=fifo impl=<Mem.impl>) and its
    cost: shift registers up to 32 words (HLS's SRL FIFO), else distributed or block RAM,
    whichever is cheaper (never block RAM at or below TINY_BITS); plus ~10 LUT / ~10 FF of
    pointers and flags (~20 for a RAM FIFO)."""
    if depth <= SRL_MAX_DEPTH:
        srl = srl_fifo_luts(depth, width)
        return Mem("srl", depth, width, 1, lut=srl + 10, ff=width + 10, lutram=srl)
    m = memory(depth, width, 1, kind="ram", style="lut" if depth * width <= TINY_BITS else "auto",
               lut_per_bram=lut_per_bram)
    m.lut += 20
    m.ff += 2 * clog2(depth) + 20
    return m
