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
import numpy as np

# The weight words live in host/weights.py (the board's driver builds the weight image from the
# same functions); re-exported here for the generator and the library's test benches.
from host.weights import fold_weight_planes, fold_weights, pack_words, weight_fields  # noqa: F401


def fold_rows(rows: np.ndarray, pe: int) -> np.ndarray:
    """Per-channel params (C, ...) -> [PE][NF, ...]: [pe][nf] = rows[nf*PE + pe]."""
    c = rows.shape[0]
    folded = rows.reshape(c // pe, pe, *rows.shape[1:])
    return np.moveaxis(folded, 1, 0)


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
