"""The folding rules of every op, in one place: the code generator's builders (ops.py) and the
performance model (hls/perf/opmodels.py) both ask these, so a folding is valid for one exactly
when it is for the other, with the same one-line message.

Each rule takes plain numbers (the layer's shapes and its fold) and returns None when the fold
is valid, else one line naming the layer, the failing condition and the valid values. The
conditions are those of the layer library (hls/lib): a Conv's MVU folds C_out by PE and K*K*C_in
by SIMD, its sliding window emits SIMD channels of one pixel per beat (C_in % SIMD), the output
serializer writes PE/OUT_PE beats within the SF cycles of the next fold, and the MVU reads
unsigned codes; every streaming op folds its channels by PE; hls/lib/duplicate.h forks into 2 or 3.
"""
from __future__ import annotations

from typing import Iterable, Optional

# a Conv's "mem": where its weights go (auto: the storage rule; uram: UltraRAM, written at run
# time by the weight loader, on parts that have it)
MEM_CHOICES = ("auto", "bram", "lut", "uram")
CONV_KEYS = ("pe", "simd", "mem", "out_pe")
STREAM_KEYS = ("pe",)
DUPLICATE_OUTPUTS = (2, 3)


def divisors(n: int) -> list:
    n = int(n)
    return [d for d in range(1, n + 1) if n % d == 0]


def fmt_values(values: Iterable) -> str:
    values = list(values)
    return ", ".join(str(v) for v in values) if len(values) <= 24 else \
        ", ".join(str(v) for v in values[:12]) + ", ... " + str(values[-1])


def where(name: str, op: str) -> str:
    return f"layer {name!r} ({op})"


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def keys(name: str, op: str, fold: dict, allowed: Iterable[str]) -> Optional[str]:
    extra = set(fold) - set(allowed)
    if extra:
        return (f"{where(name, op)}: unknown folding key(s) {', '.join(sorted(extra))}; "
                f"this op takes {', '.join(allowed)}")
    return None


def divides(name: str, op: str, key: str, value, total: int, what: str) -> Optional[str]:
    """`value` (the fold's `key`) must be a positive integer dividing `total` (`what`)."""
    if not _is_count(value) or total % value:
        return (f"{where(name, op)}: {what} % {key.upper()} = {total} % {value!r} != 0; "
                f"valid {key.upper()}: {fmt_values(divisors(total))}")
    return None


def streaming(name: str, op: str, fold: dict, channels: int) -> Optional[str]:
    """A streaming op (Threshold, Add, Duplicate, GlobalSum, MaxPool, Thermometer's output):
    PE lanes of `channels` per beat."""
    return keys(name, op, fold, STREAM_KEYS) or \
        divides(name, op, "pe", fold.get("pe", 1), channels, "channels")


AXI_BITS = 64   # TDATA of the accelerator's AXI-Streams (hls/codegen/design.py): the input port
                # delivers AXI_BITS/8 image bytes per cycle


def input_cycles(image_bytes: float) -> int:
    """Cycles of hls/lib/axi_stream.h's axi_stream_in per frame: one AXI word per cycle. It bounds
    the design when the layers are faster (an MLP on a flattened 28 x 28 image: 98 words)."""
    return int(-(-image_bytes * 8 // AXI_BITS))


# A pixel of at most this many bytes (an image's colour channels: one 64-bit AXI word) travels
# whole, one beat per pixel, from the AXI input adapter into the Thermometer; a wider one (the
# flattened image of an MLP: one pixel of H*W channels) in folds of its channels, else a word of
# H*W bytes would be built (6,272 bits for 28 x 28, past ap_uint's limit).
WHOLE_PIXEL_BYTES = 8


def input_lanes(c: int, consumer_lanes: int) -> int:
    """Bytes per beat the AXI input adapter (hls/lib/axi_stream.h) emits for a C-byte pixel:
    the whole pixel, or for a wider one the fold its consumer reads (no width converter)."""
    return c if c <= WHOLE_PIXEL_BYTES else consumer_lanes


def thermometer_in_lanes(c: int, k: int, pe: int) -> int:
    """Input channels per beat of hls/lib/thermometer.h (its IN): the whole pixel, or for a wider
    one the PE/K channels whose codes fill one output beat."""
    return c if c <= WHOLE_PIXEL_BYTES else max(1, pe // k)


def thermometer(name: str, fold: dict, c: int, k: int) -> Optional[str]:
    """PE lanes of the C*K output codes; a pixel wider than WHOLE_PIXEL_BYTES is read in folds of
    PE/K channels, so K must divide PE and PE/K divide C."""
    op = "Thermometer"
    err = streaming(name, op, fold, c * k)
    if err or c <= WHOLE_PIXEL_BYTES:
        return err
    pe = fold.get("pe", 1)
    if pe % k or c % (pe // k):
        valid = [p for p in divisors(c * k) if p % k == 0 and c % (p // k) == 0]
        return (f"{where(name, op)}: reads its {c}-channel pixel in folds of PE/K channels, so K = {k} "
                f"must divide PE = {pe} and PE/K divide {c}; valid PE: {fmt_values(valid)}")
    return None


def duplicate(name: str, fold: dict, channels: int, outputs: int) -> Optional[str]:
    err = streaming(name, "Duplicate", fold, channels)
    if err is None and outputs not in DUPLICATE_OUTPUTS:
        err = (f"{where(name, 'Duplicate')}: {outputs} outputs; hls/lib/duplicate.h forks into 2 or 3 "
               f"(split the fork into a chain of Duplicate layers)")
    return err


def conv(name: str, fold: dict, c_in: int, c_out: int, kernel: int,
         input_signed: bool) -> Optional[str]:
    """Sliding window + MVU (hls/lib/sliding_window.h, mvu.h; any weight planes, masks and
    zeros: they change the weight word, not the folding)."""
    op = "Conv"
    err = keys(name, op, fold, CONV_KEYS)
    if err:
        return err
    pe, simd = fold.get("pe", 1), fold.get("simd", 1)
    kkc = kernel * kernel * c_in
    err = divides(name, op, "pe", pe, c_out, "C_out") or \
        divides(name, op, "simd", simd, kkc, "(K*K*C_in)")
    if err:
        return err
    if c_in % simd:
        return (f"{where(name, op)}: C_in % SIMD = {c_in} % {simd} != 0 (the sliding window emits "
                f"SIMD channels of one pixel per beat); valid SIMD: {fmt_values(divisors(c_in))}")
    if fold.get("mem", "auto") not in MEM_CHOICES:
        return f"{where(name, op)}: mem={fold['mem']!r}; expected {', '.join(MEM_CHOICES)}"
    out_pe = fold.get("out_pe", pe)
    if not _is_count(out_pe) or pe % out_pe:
        return (f"{where(name, op)}: PE % OUT_PE = {pe} % {out_pe!r} != 0; valid OUT_PE: "
                f"{fmt_values(divisors(pe))}")
    sf = kkc // simd
    if pe // out_pe > sf:
        return (f"{where(name, op)}: OUT_PE = {out_pe} serializes PE = {pe} lanes into {pe // out_pe} "
                f"beats, more than the SF = {sf} cycles of a fold; use OUT_PE >= {-(-pe // sf)}")
    if input_signed:
        return f"{where(name, op)}: reads a signed stream; the MVU takes unsigned codes"
    return None


def memory_on_part(name: str, fold: dict, part: str, uram_blocks: int) -> Optional[str]:
    """A Conv's mem = "uram" needs a part with UltraRAM (Zynq UltraScale+ with URAM: the K26,
    the ZU7EV; not the xc7z020 nor the ZU3EG)."""
    if fold.get("mem") == "uram" and not uram_blocks:
        return (f"{where(name, 'Conv')}: mem='uram' but {part} has no UltraRAM; "
                f"expected auto, bram or lut there")
    return None
