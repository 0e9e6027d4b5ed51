"""MVU weight words and the weight image: the one place both are computed.

The layer library's weight layout (hls/lib/README.md, "Parameter layout"), with
``NF = C_out / PE``, ``SF = MW / SIMD``:

- ``ap_uint<SIMD> w[PE][NF*SF]``: bit ``s`` of ``w[pe][nf*SF + sf]`` is
  ``W[nf*PE + pe][sf*SIMD + s] > 0`` (1 = +1): ``fold_weights``;
- B weight planes: one word of SIMD * WORDS bits per tile, field k = bits [k*SIMD, (k+1)*SIMD):
  the sign planes 0..B-1, then (masked) the masks of planes 1..B-1, then (zeros: ternary
  weights) the nonzero mask: ``fold_weight_planes``.

``conv_weight_words`` gives a Conv layer's array as integers; the code generator writes them as
constants (hls/codegen) or, for a memory in UltraRAM, leaves the array to the weight loader
(hls/lib/weight_load.h). ``weight_image`` is what that loader reads: the words of every loaded
memory, in the order interface.json's ``load.memories`` lists them. The C test bench's data
(hls/hls_flow.py), the host emulation and the board driver all send this image.

Standard library and numpy only (host/ goes to the board).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from host import ops as host_ops


def fold_weights(w_pm1: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """(MH, MW) +-1 matrix -> bits [PE][NF*SF][SIMD]: [pe][nf*SF + sf][s] = W[nf*PE+pe, sf*SIMD+s] > 0."""
    mh, mw = w_pm1.shape
    nf, sf = mh // pe, mw // simd
    bits = (w_pm1 > 0).astype(np.int64).reshape(nf, pe, sf, simd)
    return bits.transpose(1, 0, 2, 3).reshape(pe, nf * sf, simd)


def fold_weight_planes(signs: np.ndarray, masks: np.ndarray, pe: int, simd: int,
                       masked: bool, nonzero: Optional[np.ndarray] = None) -> np.ndarray:
    """(B, MH, MW) sign planes of +-1 and masks of 0/1 -> bits [PE][NF*SF][SIMD*WORDS]: the
    fold_weights of every sign plane, then of the masks of planes 1..B-1 when masked, then of
    the (MH, MW) 0/1 `nonzero` mask when given (ZEROS), side by side (hls/lib/mvu.h's weight
    word). B = 1 unmasked without zeros: fold_weights(signs[0])."""
    fields = list(signs) + (list(masks[1:]) if masked else []) + ([nonzero] if nonzero is not None else [])
    return np.concatenate([fold_weights(f, pe, simd) for f in fields], axis=2)


def weight_fields(weight_bits: int, masked: bool, zeros: bool) -> int:
    """SIMD-bit fields per MVU weight word (hls/lib/mvu.h ``mvu_weight_words``): B sign planes,
    B - 1 plane masks when masked, one nonzero mask when zeros. The generator and the estimate
    (hls/perf/opmodels.py) both size the weight memory with it."""
    return int(weight_bits) + (int(weight_bits) - 1 if masked else 0) + (1 if zeros else 0)


def pack_words(bits: np.ndarray) -> List[List[int]]:
    """[PE][TILES][SIMD] of 0/1 -> [PE][TILES] Python ints, bit s of a word = bits[..., s]
    (exact for any SIMD: Python integers)."""
    pe, tiles, simd = bits.shape
    flat = bits.reshape(-1, simd).astype(bool)
    if simd <= 64:  # distinct powers of two: the uint64 sum is exact
        shifts = np.arange(simd, dtype=np.uint64)
        values = (flat.astype(np.uint64) << shifts).sum(axis=1, dtype=np.uint64)
        words = [int(v) for v in values]
    else:
        weights = [1 << s for s in range(simd)]
        words = [sum(w for w, b in zip(weights, row) if b) for row in flat.tolist()]
    return [words[p * tiles:(p + 1) * tiles] for p in range(pe)]


def conv_weight_bits(layer, params: dict, pe: int, simd: int) -> np.ndarray:
    """A Conv layer's weights folded for (PE, SIMD): bits [PE][NF*SF][SIMD * WORDS]."""
    op = layer.operator
    masked, zeros = bool(op.masked), bool(op.zeros)
    if op.weight_bits == 1 and not zeros:
        return fold_weights(host_ops.unpack_weights(params["weights"], op.cols), pe, simd)
    signs, masks = op.planes(params)
    return fold_weight_planes(signs, masks, pe, simd, masked, op.nonzero(params) if zeros else None)


def conv_weight_words(package, layer_name: str, pe: int, simd: int) -> List[List[int]]:
    """The weight array ``w[PE][NF*SF]`` of Conv layer `layer_name` as Python ints."""
    layer = package.layer(layer_name)
    return pack_words(conv_weight_bits(layer, package.layer_params(layer), pe, simd))


def element_words(values: Sequence[Sequence[int]], element_bits: int, axi_bits: int = 64) -> np.ndarray:
    """One loaded array ``[PE][TILES]`` in load order (hls/lib/weight_load.h): for every address
    t, for every pe, element [pe][t] as ceil(bits / axi_bits) words, low bits first."""
    if axi_bits != 64:
        raise ValueError(f"weight image: {axi_bits}-bit AXI words; the loader image is built for 64")
    beats = -(-int(element_bits) // axi_bits)
    pe = len(values)
    tiles = len(values[0]) if pe else 0
    if beats == 1:
        arr = np.array(values, dtype=np.uint64)               # [PE][TILES]
        return np.ascontiguousarray(arr.T).reshape(-1)
    out = np.zeros((tiles, pe, beats), np.uint64)
    mask = (1 << 64) - 1
    for p in range(pe):
        for t in range(tiles):
            v = int(values[p][t])
            for b in range(beats):
                out[t, p, b] = (v >> (64 * b)) & mask
    return out.reshape(-1)


def weight_image(package, memories: Sequence[dict], axi_bits: int = 64) -> np.ndarray:
    """The words the weight loader reads (uint64, little-endian on the stream): every memory of
    `memories` (interface.json ``load.memories``: ``layer``, ``pe``, ``simd``, ``element_bits``,
    ``words``), in that order."""
    parts = []
    for m in memories:
        words = conv_weight_words(package, m["layer"], int(m["pe"]), int(m["simd"]))
        part = element_words(words, int(m["element_bits"]), axi_bits)
        if "words" in m and part.size != int(m["words"]):
            raise ValueError(f"weight image: layer {m['layer']!r} gives {part.size} words, "
                             f"interface.json says {m['words']}")
        parts.append(part)
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)
