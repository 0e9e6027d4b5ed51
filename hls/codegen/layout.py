"""The param layout the layer library expects (hls/lib/README.md, "Parameter layout").

With ``NF = C_out / PE``, ``SF = MW / SIMD``:

- MVU weights ``ap_uint<SIMD> w[PE][NF*SF]``: bit ``s`` of ``w[pe][nf*SF + sf]`` is
  ``W[nf*PE + pe][sf*SIMD + s] > 0`` (1 = +1): ``fold_weights`` gives the bits as
  ``[PE][NF*SF][SIMD]`` and ``pack_words`` packs the last axis into integers.
- Multi-bit weights (B planes, FORMAT.md `Conv`): one word of SIMD * WORDS bits per tile,
  field k = bits [k*SIMD, (k+1)*SIMD): the sign planes 0..B-1, then (masked) the masks of
  planes 1..B-1, then (zeros: ternary weights) the nonzero mask: ``fold_weight_planes``.
- Per-channel params (thresholds, direction) ``t[PE][NF]...``: ``t[pe][nf] = rows[nf*PE + pe]``:
  ``fold_rows``.

tests/test_hls_lib.py (the library's test benches) and the code generator share these.
"""
from typing import List, Optional

import numpy as np


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


def fold_rows(rows: np.ndarray, pe: int) -> np.ndarray:
    """Per-channel params (C, ...) -> [PE][NF, ...]: [pe][nf] = rows[nf*PE + pe]."""
    c = rows.shape[0]
    folded = rows.reshape(c // pe, pe, *rows.shape[1:])
    return np.moveaxis(folded, 1, 0)


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


# ---------------------------------------------------------------------------------------------
# The arrays as memories: shapes and the dimensions the generator reshapes (ARRAY_RESHAPE
# complete: those dimensions side by side in one word, so all PEs (and all threshold levels)
# read one word per cycle at one address). The generator (ops.py) and the estimate
# (hls/perf/opmodels.py) both take the shapes from here.
# ---------------------------------------------------------------------------------------------

WEIGHT_RESHAPE = (1,)          # w[PE][NF*SF]: PE words side by side
THRESHOLD_RESHAPE = (1, 3)     # t[PE][NF][NT]: PE x NT thresholds side by side
DIRECTION_RESHAPE = (1,)       # d[PE][NF]


def weight_dims(pe: int, nf: int, sf: int) -> tuple:
    return (pe, nf * sf)


def threshold_dims(pe: int, nf: int, levels: int) -> tuple:
    return (pe, nf, levels)


def direction_dims(pe: int, nf: int) -> tuple:
    return (pe, nf)


def memory_shape(dims, reshape, bits: int) -> tuple:
    """(depth, width) of an array of `bits`-bit elements whose dimensions `reshape` (1-based)
    are reshaped completely into the word."""
    depth, width = 1, int(bits)
    for i, d in enumerate(dims, start=1):
        if i in reshape:
            width *= int(d)
        else:
            depth *= int(d)
    return depth, width
