"""host.ops: every golden function against a naive loop, and the op classes' contracts."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host import ops

FAST = settings(max_examples=30, deadline=None)


# -- naive loop implementations: the definitions of FORMAT.md, written out -----------------------

def naive_thermometer(x, thresholds, k):
    n, h, w, c = x.shape
    out = np.zeros((n, h, w, c * k), np.int64)
    for b, y, xx, o in np.ndindex(n, h, w, c * k):
        out[b, y, xx, o] = sum(int(x[b, y, xx, o // k]) >= int(t) for t in thresholds[o])
    return out


def naive_conv(x, w_pm1, kernel, stride, pad):
    n, h, wd, c = x.shape
    ho = (h + 2 * pad - kernel) // stride + 1
    wo = (wd + 2 * pad - kernel) // stride + 1
    out = np.zeros((n, ho, wo, w_pm1.shape[0]), np.int64)
    for b, y, xx, o in np.ndindex(n, ho, wo, w_pm1.shape[0]):
        total = 0
        for ky, kx, ch in np.ndindex(kernel, kernel, c):
            iy, ix = y * stride + ky - pad, xx * stride + kx - pad
            if 0 <= iy < h and 0 <= ix < wd:
                total += int(w_pm1[o, (ky * kernel + kx) * c + ch]) * int(x[b, iy, ix, ch])
        out[b, y, xx, o] = total
    return out


def naive_multi_threshold(acc, thresholds, direction):
    out = np.zeros(acc.shape, np.int64)
    for index in np.ndindex(*acc.shape):
        c = index[-1]
        out[index] = sum(int(direction[c]) * int(acc[index]) >= int(t) for t in thresholds[c])
    return out


def naive_max_pool(x, kernel, stride):
    n, h, w, c = x.shape
    ho, wo = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    out = np.zeros((n, ho, wo, c), x.dtype)
    for b, y, xx, ch in np.ndindex(n, ho, wo, c):
        out[b, y, xx, ch] = max(x[b, y * stride + ky, xx * stride + kx, ch]
                                for ky in range(kernel) for kx in range(kernel))
    return out


# -- strategies ---------------------------------------------------------------------------------

@st.composite
def conv_cases(draw, max_value=3):
    kernel = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kernel - 2 * pad), 6))
    w = draw(st.integers(max(1, kernel - 2 * pad), 6))
    c = draw(st.integers(1, 3))
    c_out = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(0, max_value + 1, (2, h, w, c), dtype=np.uint8)
    w_pm1 = rng.choice(np.array([-1, 1], np.int8), (c_out, kernel * kernel * c))
    return x, w_pm1, kernel, stride, pad


def ascending_thresholds(rng, rows, levels, lo, hi):
    return np.sort(rng.integers(lo, hi, (rows, levels)), axis=1).astype(np.int32)


# -- golden functions ---------------------------------------------------------------------------

@FAST
@given(conv_cases())
def test_conv_accumulate_matches_naive_loop(case):
    x, w_pm1, kernel, stride, pad = case
    acc = ops.conv_accumulate(x, w_pm1, kernel, stride, pad)
    assert acc.dtype == np.int64
    np.testing.assert_array_equal(acc, naive_conv(x, w_pm1, kernel, stride, pad))


@FAST
@given(conv_cases())
def test_im2col_column_order_and_zero_padding(case):
    x, _, kernel, stride, pad = case
    patches = ops.im2col(x, kernel, stride, pad)
    c = x.shape[3]
    for b, y, xx in np.ndindex(*patches.shape[:3]):
        for ky, kx, ch in np.ndindex(kernel, kernel, c):
            iy, ix = y * stride + ky - pad, xx * stride + kx - pad
            inside = 0 <= iy < x.shape[1] and 0 <= ix < x.shape[2]
            expected = x[b, iy, ix, ch] if inside else 0
            assert patches[b, y, xx, (ky * kernel + kx) * c + ch] == expected


def test_im2col_converts_dtype_and_keeps_values():
    x = np.arange(2 * 3 * 3 * 2, dtype=np.uint8).reshape(2, 3, 3, 2)
    patches = ops.im2col(x, 3, 1, 1, dtype=np.float32)
    assert patches.dtype == np.float32 and patches.shape == (2, 3, 3, 18)
    # The centre window of a 3x3 map with pad 1 is the whole map, in (ky, kx, c) order.
    np.testing.assert_array_equal(patches[:, 1, 1, :], x.reshape(2, 18))


def test_conv_accumulate_picks_an_exact_dtype_beyond_float32():
    # Sums beyond 2^24 are not exact in float32: the guard must switch to float64 / int64.
    assert ops.exact_matmul_dtype(2 ** 24 - 1) is np.float32
    assert ops.exact_matmul_dtype(2 ** 24) is np.float64
    assert ops.exact_matmul_dtype(2 ** 53) is np.int64
    rng = np.random.default_rng(1)
    w_pm1 = rng.choice(np.array([-1, 1], np.int8), (3, 18))
    for magnitude in (2 ** 22 + 1, 2 ** 49 + 1):  # 18 columns: past 2^24 and past 2^53
        x = rng.integers(magnitude - 5, magnitude, (1, 3, 3, 2), dtype=np.int64)
        np.testing.assert_array_equal(ops.conv_accumulate(x, w_pm1, 3, 1, 0),
                                      naive_conv(x, w_pm1, 3, 1, 0))


def thresholds_around(rng, signed_acc, bound, rows):
    """Per row: reached values, their neighbours, +-bound, bound + 1 and the int32 extremes."""
    reached = rng.choice(signed_acc.ravel(), (rows, 3)) + rng.integers(-1, 2, (rows, 3))
    far = rng.choice(np.array([-2 ** 31, -bound - 1, -bound, bound, bound + 1, 2 ** 31 - 1]), (rows, 2))
    return np.sort(np.concatenate([reached, far], axis=1), axis=1).astype(np.int32)


@FAST
@given(conv_cases(), st.integers(0, 2 ** 32 - 1))
def test_conv_threshold_is_multi_threshold_of_the_accumulator(case, seed):
    x, w_pm1, kernel, stride, pad = case
    rng = np.random.default_rng(seed)
    direction = rng.choice(np.array([-1, 1], np.int8), w_pm1.shape[0])
    acc = naive_conv(x, w_pm1, kernel, stride, pad)
    thresholds = thresholds_around(rng, acc * direction, w_pm1.shape[1] * 3, w_pm1.shape[0])
    codes = ops.conv_threshold(x, w_pm1, thresholds, direction, kernel, stride, pad)
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, naive_multi_threshold(acc, thresholds, direction))


def test_conv_threshold_at_the_exact_bound():
    # All codes 3 and all weights +1 (after the direction): acc = cols * 3 = bound exactly.
    x = np.full((1, 2, 2, 2), 3, np.uint8)
    w_pm1 = np.array([[1] * 8, [-1] * 8], np.int8)
    direction = np.array([1, -1], np.int8)
    thresholds = np.array([[23, 24, 25], [23, 24, 25]], np.int32)
    codes = ops.conv_threshold(x, w_pm1, thresholds, direction, 2, 1, 0)
    np.testing.assert_array_equal(codes.ravel(), [2, 2])


@pytest.mark.parametrize("magnitude", [2 ** 22 + 1, 2 ** 49 + 1])  # float64 and int64 paths
def test_conv_threshold_beyond_float32(magnitude):
    rng = np.random.default_rng(5)
    w_pm1 = rng.choice(np.array([-1, 1], np.int8), (3, 18))
    direction = np.array([1, -1, 1], np.int8)
    x = rng.integers(magnitude - 5, magnitude, (1, 3, 3, 2), dtype=np.int64)
    acc = naive_conv(x, w_pm1, 3, 1, 0)
    thresholds = np.sort(np.clip(rng.choice((acc * direction).ravel(), (3, 3)) + 1,
                                 -2 ** 31, 2 ** 31 - 1), axis=1).astype(np.int32)
    np.testing.assert_array_equal(ops.conv_threshold(x, w_pm1, thresholds, direction, 3, 1, 0),
                                  naive_multi_threshold(acc, thresholds, direction))


def test_conv_accumulate_batches_larger_than_one_chunk(monkeypatch):
    monkeypatch.setattr(ops, "PATCH_ELEMENTS_PER_CHUNK", 100)  # forces one image per chunk
    rng = np.random.default_rng(2)
    x = rng.integers(0, 4, (5, 4, 4, 2), dtype=np.uint8)
    w_pm1 = rng.choice(np.array([-1, 1], np.int8), (3, 18))
    np.testing.assert_array_equal(ops.conv_accumulate(x, w_pm1, 3, 1, 1), naive_conv(x, w_pm1, 3, 1, 1))


def test_conv_accumulate_rejects_a_weight_matrix_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"\(C_out, 18\)"):
        ops.conv_accumulate(np.zeros((1, 3, 3, 2), np.uint8), np.ones((2, 9), np.int8), 3, 1, 0)


@FAST
@given(st.integers(1, 40), st.integers(1, 4), st.integers(0, 2 ** 32 - 1))
def test_pack_unpack_roundtrip(cols, rows, seed):
    w_pm1 = np.random.default_rng(seed).choice(np.array([-1, 1], np.int8), (rows, cols))
    packed = ops.pack_weights(w_pm1)
    assert packed.dtype == np.uint8 and packed.shape == (rows, (cols + 7) // 8)
    np.testing.assert_array_equal(packed, np.packbits(w_pm1 > 0, axis=1, bitorder="little"))
    unpacked = ops.unpack_weights(packed, cols)
    assert unpacked.dtype == np.int8
    np.testing.assert_array_equal(unpacked, w_pm1)


def test_unpack_ignores_the_padding_bits_and_uses_little_bit_order():
    # 3 columns in one byte: bit 0 -> column 0. Bits 3..7 are padding, whatever they hold.
    np.testing.assert_array_equal(ops.unpack_weights(np.array([[0b11111001]], np.uint8), 3),
                                  [[1, -1, -1]])


def test_pack_rejects_values_other_than_plus_minus_one():
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        ops.pack_weights(np.array([[1, 0, -1]]))


@FAST
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2 ** 32 - 1))
def test_thermometer_matches_naive_loop(c, k, levels, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (2, 3, 3, c), dtype=np.uint8)
    x[0, 0, 0, 0], x[0, 0, 1, 0] = 0, 255
    thresholds = ascending_thresholds(rng, c * k, levels, -2, 260)  # outside 0..255 too
    x[1, 0, 0, 0] = np.clip(thresholds[0, 0], 0, 255)  # a pixel exactly on a threshold
    codes = ops.thermometer(x, thresholds, k)
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, naive_thermometer(x, thresholds, k))


def test_thermometer_wants_uint8_pixels():
    with pytest.raises(ValueError, match="pixels must be uint8, got int64"):
        ops.thermometer(np.zeros((1, 2, 2, 1), np.int64), np.zeros((2, 3), np.int32), 2)


def test_thermometer_with_the_paper_thresholds_is_the_closed_form():
    # docs/ern.md: k = 10, l = 2, s = 8; z_i = clamp(floor((x + s*(k-1-i)) / (s*k)), 0, 3) and
    # sum_i z_i = min(floor(x/8), 30), with thresholds s*(j*k - k + 1 + i), j = 1..3.
    k, s = 10, 8
    thresholds = np.array([[s * (j * k - k + 1 + i) for j in (1, 2, 3)] for i in range(k)], np.int32)
    x = np.arange(256, dtype=np.uint8).reshape(1, 1, 256, 1)
    codes = ops.thermometer(x, thresholds, k)[0, 0].astype(np.int64)  # (256, 10)
    values = np.arange(256)[:, None]
    closed_form = np.clip((values + s * (k - 1 - np.arange(k))) // (s * k), 0, 3)
    np.testing.assert_array_equal(codes, closed_form)
    np.testing.assert_array_equal(codes.sum(axis=1), np.minimum(np.arange(256) // 8, 30))
    assert len({tuple(row) for row in codes}) == 31


@FAST
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2 ** 32 - 1))
def test_multi_threshold_matches_naive_loop_at_the_edges(channels, levels, seed):
    rng = np.random.default_rng(seed)
    thresholds = ascending_thresholds(rng, channels, levels, -20, 20)
    direction = rng.choice(np.array([-1, 1], np.int8), channels)
    # Accumulators on, just below and just above every threshold, seen through the direction.
    on_edges = thresholds[:, rng.integers(0, levels, 12)].T + rng.integers(-1, 2, (12, channels))
    acc = (on_edges * direction).reshape(2, 2, 3, channels).astype(np.int64)
    codes = ops.multi_threshold(acc, thresholds, direction)
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, naive_multi_threshold(acc, thresholds, direction))


def test_multi_threshold_counts_an_accumulator_equal_to_a_threshold():
    thresholds = np.array([[-1, 0, 5], [-1, 0, 5]], np.int32)
    direction = np.array([1, -1], np.int8)
    acc = np.array([[[[0, 0], [5, -5], [-2, 2], [-1, 1]]]])
    # channel 0: acc >= T; channel 1: -acc >= T.
    np.testing.assert_array_equal(ops.multi_threshold(acc, thresholds, direction)[0, 0],
                                  [[2, 2], [3, 3], [0, 0], [1, 1]])


def test_multi_threshold_with_equal_thresholds_skips_a_code():
    thresholds = np.array([[1, 1, 4]], np.int32)
    acc = np.arange(-1, 6).reshape(1, 1, 7, 1)
    np.testing.assert_array_equal(ops.multi_threshold(acc, thresholds, np.array([1], np.int8)).ravel(),
                                  [0, 0, 2, 2, 2, 3, 3])


@FAST
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2 ** 32 - 1))
def test_max_pool_matches_naive_loop(kernel, stride, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, (2, 5, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(ops.max_pool(x, kernel, stride), naive_max_pool(x, kernel, stride))


def test_add_and_global_sum():
    rng = np.random.default_rng(3)
    a = rng.integers(-100, 100, (2, 3, 4, 5))
    b = rng.integers(0, 4, (2, 3, 4, 5), dtype=np.uint8)
    total = ops.add(a, b)
    assert total.dtype == np.int64
    np.testing.assert_array_equal(total, a + b.astype(np.int64))
    sums = ops.global_sum(a)
    assert sums.shape == (2, 1, 1, 5) and sums.dtype == np.int64
    for n, c in np.ndindex(2, 5):
        assert sums[n, 0, 0, c] == sum(int(a[n, y, x, c]) for y in range(3) for x in range(4))
    with pytest.raises(ValueError, match="shapes differ"):
        ops.add(a, a[:, :2])


# -- op classes ---------------------------------------------------------------------------------

def test_every_format_op_is_registered_by_name():
    assert set(ops.OPS) == {"Thermometer", "Conv", "Threshold", "Add", "Duplicate", "GlobalSum",
                            "MaxPool"}
    for name, cls in ops.OPS.items():
        assert cls.__name__ == name and issubclass(cls, ops.Op)


def test_unknown_op_lists_the_supported_ones():
    with pytest.raises(ops.OpError, match="unknown op 'Conv2d'.*supported: Add, Conv"):
        ops.op_class("Conv2d")


CONV_ATTRS = dict(kernel=3, stride=1, pad=1, in_bits=2, weight_bits=1, cols=18, output="accumulator")


@pytest.mark.parametrize("attrs, message", [
    ({k: v for k, v in CONV_ATTRS.items() if k != "stride"}, "missing attribute 'stride'"),
    ({**CONV_ATTRS, "strides": 1}, "unknown attribute 'strides'"),
    ({**CONV_ATTRS, "stride": True}, "'stride' must be an integer"),
    ({**CONV_ATTRS, "stride": 0}, "stride=0 must be >= 1"),
    ({**CONV_ATTRS, "weight_bits": 4}, "weight_bits=4 must be <= 3"),
    ({**CONV_ATTRS, "masked": 1}, "'masked' needs weight_bits >= 2"),
    ({**CONV_ATTRS, "output": "relu"}, "output='relu' is not supported"),
    ({**CONV_ATTRS, "output": "threshold"}, "missing attribute 'out_bits'"),
    ({**CONV_ATTRS, "out_bits": 2}, "out_bits' applies only to output='threshold'"),
])
def test_conv_attributes_are_checked_when_built(attrs, message):
    with pytest.raises(ops.OpError, match=message):
        ops.Conv.from_layer(attrs, 1, 1)


def test_attributes_are_normalised_to_plain_ints():
    conv = ops.Conv.from_layer({**CONV_ATTRS, "kernel": np.int64(3)}, 1, 1)
    assert type(conv.kernel) is int and conv.attrs() == CONV_ATTRS


def test_duplicate_takes_its_copies_from_the_wiring():
    assert ops.Duplicate.from_layer({}, 1, 3).copies == 3
    assert ops.Duplicate.from_layer({}, 1, 3).attrs() == {}
    with pytest.raises(ops.OpError, match="2 or more outputs"):
        ops.Duplicate.from_layer({}, 1, 1)


@FAST
@given(conv_cases(), st.booleans())
def test_conv_accumulator_bounds_hold_every_result(case, with_weights):
    x, w_pm1, kernel, stride, pad = case
    conv = ops.Conv.from_layer({**CONV_ATTRS, "kernel": kernel, "stride": stride, "pad": pad,
                                "cols": w_pm1.shape[1]}, 1, 1)
    params = {"weights": ops.pack_weights(w_pm1)} if with_weights else None
    lo, hi = conv.accumulator_bounds([(0, 3)], params)
    acc = conv.execute([x], {"weights": ops.pack_weights(w_pm1)})[0]
    assert lo <= acc.min() and acc.max() <= hi
    # Extreme inputs (all 0, all 3) stay inside too.
    for value in (0, 3):
        acc = ops.conv_accumulate(np.full_like(x, value), w_pm1, kernel, stride, pad)
        assert lo <= acc.min() and acc.max() <= hi


def test_conv_bounds_are_tight_for_a_fully_connected_layer():
    w_pm1 = np.array([[1, 1, -1], [-1, -1, -1]], np.int8)  # per row: (+2, -1) and (0, -3)
    conv = ops.Conv.from_layer({**CONV_ATTRS, "kernel": 1, "pad": 0, "cols": 3}, 1, 1)
    assert conv.accumulator_bounds([(0, 3)], {"weights": ops.pack_weights(w_pm1)}) == (-9, 6)
    assert conv.accumulator_bounds([(0, 3)]) == (-9, 9)  # without weights: any sign


def test_global_sum_bounds_scale_with_the_pixel_count():
    assert ops.GlobalSum().output_bounds([(4, 5, 3)], [(-2, 7)]) == [(-40, 140)]


def test_conv_rejects_input_wider_than_in_bits():
    conv = ops.Conv.from_layer(CONV_ATTRS, 1, 1)
    with pytest.raises(ops.OpError, match=r"holds \[0, 7\].*2-bit codes \[0, 3\]"):
        conv.check_input_bounds([(0, 7)])


# -- multi-bit and heterogeneous (masked) weights: the {-1,+1} plane decomposition ---------------

def random_plane_weights(rng, bits, rows, cols, masked):
    """Integer weights of `bits` planes: every nonzero value within +-(2^bits - 1) when
    masked (per-weight bit counts), else the odd ones (every weight uses all planes)."""
    top = 2 ** bits - 1
    values = np.array([v for v in range(-top, top + 1) if v and (masked or v % 2)])
    return rng.choice(values, size=(rows, cols))


@pytest.mark.parametrize("weight_bits, masked", [(1, False), (2, False), (2, True), (3, False), (3, True)])
def test_decompose_weights_is_the_inverse_of_weight_matrix(weight_bits, masked):
    rng = np.random.default_rng(weight_bits)
    w = random_plane_weights(rng, weight_bits, 6, 40, masked)
    signs, masks = ops.decompose_weights(w, weight_bits)
    np.testing.assert_array_equal(ops.weight_matrix(signs, masks), w)
    assert np.all(masks[0] == 1) and np.all(masks[1:] <= masks[:-1])   # nested, plane 0 always
    assert np.all(signs[masks == 0] == -1)                               # canonical: bit 0
    # a weight's bit count M is weight_bits - trailing zeros: +-4 of 3 planes is one plane
    if weight_bits == 3:
        counts = masks.sum(axis=0)
        np.testing.assert_array_equal(counts[np.abs(w) == 4], 1)
        np.testing.assert_array_equal(counts[np.isin(np.abs(w), (2, 6))], 2)
        np.testing.assert_array_equal(counts[w % 2 != 0], 3)


@pytest.mark.parametrize("value", [0, 8, -9])
def test_decompose_weights_rejects_values_without_a_plane_form(value):
    with pytest.raises(ValueError, match=f"weight {value} at .* not a nonzero integer within \\+-7"):
        ops.decompose_weights(np.array([[1, value]]), 3)


@pytest.mark.parametrize("in_bits", [1, 2, 3, 4])
@pytest.mark.parametrize("weight_bits, masked", [(1, False), (2, False), (2, True), (3, False), (3, True)])
def test_binary_branches_sum_to_the_multi_bit_dot_product(weight_bits, masked, in_bits):
    """The decomposition identity for every supported width pair: B x in_bits weighted
    AND/popcount branches (hls/lib/mvu.h's arithmetic) equal the integer convolution."""
    rng = np.random.default_rng(10 * weight_bits + in_bits)
    x = rng.integers(0, 2 ** in_bits, size=(2, 5, 4, 3))
    x[0, 0, 0, :] = 2 ** in_bits - 1
    w = random_plane_weights(rng, weight_bits, 7, 27, masked)
    signs, masks = ops.decompose_weights(w, weight_bits)
    want = naive_conv(x, w, 3, 1, 1)
    np.testing.assert_array_equal(ops.bit_plane_accumulate(x, signs, masks, in_bits, 3, 1, 1), want)
    np.testing.assert_array_equal(ops.conv_accumulate(x, w, 3, 1, 1), want)


@pytest.mark.parametrize("weight_bits, masked", [(2, False), (3, True)])
def test_multi_bit_conv_executes_its_integer_weights_and_bounds_them(weight_bits, masked):
    rng = np.random.default_rng(3)
    w = random_plane_weights(rng, weight_bits, 5, 18, masked)
    attrs = {**CONV_ATTRS, "weight_bits": weight_bits, **({"masked": 1} if masked else {})}
    op = ops.Conv(**attrs)
    params = ops.conv_weight_params(w, weight_bits, masked)[1]
    assert set(op.param_names()) == set(params)
    np.testing.assert_array_equal(op.weight_matrix(params), w)
    x = rng.integers(0, 4, size=(3, 4, 4, 2))
    acc, = op.execute([x], params)
    np.testing.assert_array_equal(acc, naive_conv(x, w, 3, 1, 1))
    lo, hi = op.accumulator_bounds([(0, 3)], params)
    assert lo <= acc.min() and acc.max() <= hi
    assert hi == max(int(np.where(w > 0, w, 0).sum(axis=1).max()) * 3, 0)
    assert op.accumulator_bounds([(0, 3)]) == (-18 * 3 * (2 ** weight_bits - 1), 18 * 3 * (2 ** weight_bits - 1))


def test_masks_must_be_nested():
    w = random_plane_weights(np.random.default_rng(0), 3, 4, 18, True)
    w[2, 0] = 4                                    # one plane: masks of planes 1 and 2 off
    params = ops.conv_weight_params(w, 3, True)[1]
    params["weight_masks"][1, 2, 0] |= 1           # plane 2 without plane 1
    op = ops.Conv(**{**CONV_ATTRS, "weight_bits": 3, "masked": 1})
    with pytest.raises(ops.OpError, match="row 2 has plane 2 on a weight without plane 1"):
        op.check_params(params)


def test_conv_weight_params_is_the_inverse_of_planes_and_masks_only_when_needed():
    odd = np.array([[3, -1, 1], [-3, 1, -1]])                  # every weight has both planes
    attrs, params = ops.conv_weight_params(odd, 2)
    assert attrs == {"weight_bits": 2} and "weight_masks" not in params
    np.testing.assert_array_equal(ops.Conv(**{**CONV_ATTRS, "kernel": 1, "pad": 0, "cols": 3, **attrs}).weight_matrix(params), odd)
    mixed = np.array([[4, -1, 6], [-2, 7, -4]])                # 1, 3, 2 / 2, 3, 1 planes of 3
    attrs, params = ops.conv_weight_params(mixed, 3)
    assert attrs == {"weight_bits": 3, "masked": 1} and params["weight_masks"].shape == (2, 2, 1)
    np.testing.assert_array_equal(ops.Conv(**{**CONV_ATTRS, "kernel": 1, "pad": 0, "cols": 3, **attrs}).weight_matrix(params), mixed)
    attrs, params = ops.conv_weight_params(np.array([[1, -1, -1]]), 1)   # +-1: the packed signs only
    assert attrs == {"weight_bits": 1} and list(params) == ["weights"]
    np.testing.assert_array_equal(params["weights"], ops.pack_weights(np.array([[1, -1, -1]])))
