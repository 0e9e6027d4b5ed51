"""host.kernels: the fast kernels give the integers of a straightforward int64 implementation,
at the edges of every exactness bound (packed float32 words, float32, float64, int64), and the
fast reference gives the golden reference's class sums on random packages and the real models."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen_helpers import cnv_like, plane_weights, random_ern, random_images
from host import kernels, ops
from host.reference import Reference
from test_host_package import tiny_package


# -- a straightforward integer conv, written without host.ops or host.kernels ---------------------

def integer_conv(x, w, kernel, stride, pad):
    """acc[n, y, x, o] = sum over the window of w[o, (ky*K + kx)*C + c] * x[...], in int64 (or
    Python ints when object arrays come in), one kernel offset at a time."""
    n, h, width, c = x.shape
    padded = np.zeros((n, h + 2 * pad, width + 2 * pad, c), x.dtype if x.dtype == object else np.int64)
    padded[:, pad:pad + h, pad:pad + width] = x
    ho, wo = (h + 2 * pad - kernel) // stride + 1, (width + 2 * pad - kernel) // stride + 1
    acc = np.zeros((n, ho, wo, w.shape[0]), padded.dtype)
    w = w.reshape(w.shape[0], kernel, kernel, c)
    for ky in range(kernel):
        for kx in range(kernel):
            window = padded[:, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride]
            acc += window @ w[:, ky, kx, :].T.astype(padded.dtype)
    return acc


def integer_threshold(acc, thresholds, direction):
    seen = acc * direction.astype(np.int64)
    return (seen[..., None] >= thresholds).sum(axis=-1)


# -- packing ---------------------------------------------------------------------------------------

@given(st.integers(1, 2 ** 24))
def test_planned_fields_fit_the_significand_and_one_more_would_not(span):
    packing = kernels.plan_packing(span)
    if packing is None:   # not even two fields fit
        assert span * (1 + 2 ** max(1, span.bit_length())) > 2 ** 24
        return
    assert 2 ** packing.shift > span
    assert kernels.largest_word(span, packing) <= 2 ** 24
    assert kernels.largest_word(span, packing._replace(fields=packing.fields + 1)) > 2 ** 24


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 2 ** 23), st.integers(0, 2 ** 32 - 1), st.booleans())
def test_unpacking_gives_back_every_field(span, seed, signed):
    packing = kernels.plan_packing(span, signed=signed)
    if packing is None:
        return
    rng = np.random.default_rng(seed)
    fields = rng.integers(-span if signed else 0, span + 1, (packing.fields, 5, 7))
    fields[:, 0] = span   # the largest word
    fields[:, 1] = -span if signed else 0
    fields[:, 2, ::2] = -span if signed else 0   # alternating extremes: borrows across fields
    words = sum(f << (packing.shift * k) for k, f in enumerate(fields))
    assert np.abs(words).max() <= 2 ** 24 and np.array_equal(words.astype(np.float32).astype(np.int64), words)
    out = np.empty((packing.fields * 5, 7), np.float32)
    kernels.unpack_fields(words.astype(np.float32), packing, out)
    np.testing.assert_array_equal(out.astype(np.int64), fields.reshape(-1, 7))


def test_offset_form_rebuilds_the_weights_with_the_smallest_span():
    for w, g, c in [([[1, -1], [-1, 1]], 2, 1), ([[3, -1], [1, -3]], 2, 3), ([[4, -6], [7, 1]], 1, 6),
                    ([[2, 4]], 2, 0), ([[-1, -1]], 1, 1)]:
        v, g_got, c_got = kernels.offset_form(np.array(w))
        assert (g_got, c_got) == (g, c) and v.min() >= 0
        np.testing.assert_array_equal(g_got * v - c_got, w)


# -- the Conv kernel against the integer conv -----------------------------------------------------

def check_conv(x, w, kernel, stride, pad, in_bounds, rng, thresholded):
    expected = integer_conv(x, w, kernel, stride, pad)
    if thresholded:
        direction = rng.choice(np.array([-1, 1], np.int8), w.shape[0])
        seen = expected * direction
        # thresholds from the values that occur, plus ones beyond every bound
        t = np.quantile(seen.reshape(-1, w.shape[0]), [0.2, 0.5, 0.8], axis=0).T.astype(np.int64)
        t[: w.shape[0] // 2, 0] = -(2 ** 31)
        t = np.sort(t, axis=1).astype(np.int32)
        got = kernels.ConvKernel(w, kernel, stride, pad, in_bounds, t, direction)([x])[0]
        np.testing.assert_array_equal(got, integer_threshold(expected, t, direction))
    else:
        got = kernels.ConvKernel(w, kernel, stride, pad, in_bounds)([x])[0]
        np.testing.assert_array_equal(got.astype(np.int64) if got.dtype != object else got, expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 3), st.booleans(), st.integers(1, 8),
       st.sampled_from([(1, 1, 0), (3, 1, 1), (3, 2, 1), (3, 1, 0), (2, 2, 0)]), st.integers(1, 40),
       st.integers(1, 20), st.booleans())
def test_conv_kernel_is_the_integer_conv(seed, weight_bits, masked, in_bits, geometry, c_in, c_out,
                                         thresholded):
    rng = np.random.default_rng(seed)
    kernel, stride, pad = geometry
    masked = masked and weight_bits > 1
    top = 2 ** in_bits - 1
    x = rng.integers(0, top + 1, (3, 6, 5, c_in))
    x[0] = top   # the largest window sums
    w = plane_weights(rng, weight_bits, masked, (c_out, kernel * kernel * c_in)).astype(np.int64)
    w[0] = 2 ** weight_bits - 1   # a channel at the largest accumulator
    check_conv(x.astype(np.uint8), w, kernel, stride, pad, (0, top), rng, thresholded)


def test_packing_engages_on_ern_tiny_shapes():
    """The plans the speed comes from (host/kernels.py's docstring): 2 signed per word for the
    576-column 3x3 convs, 3 non-negative for 1x1 over 64 channels, 2 for 1152 columns, 2 per
    word in 2 column groups for 2304 columns (w1a2: term_max 3, +-1 weights)."""
    Plan, Packing = kernels.PackedPlan, kernels.Packing
    assert kernels.plan_conv(576, 3, 3) == Plan(Packing(np.float32, 2, 12, True), 1)
    assert kernels.plan_conv(64, 3, 3) == Plan(Packing(np.float32, 3, 8), 1)
    assert kernels.plan_conv(1152, 3, 3) == Plan(Packing(np.float32, 2, 12), 1)
    assert kernels.plan_conv(2304, 3, 3) == Plan(Packing(np.float32, 2, 12), 2)
    assert kernels.plan_conv(9, 255, 255) is None   # cnv's 8-bit first conv: too few columns


@pytest.mark.parametrize("c_in, in_bits, weight_bits, packed, dtype", [
    (682, 2, 1, True, np.float32),      # signed: bound 2046 < 2^11, words <= 2046 * 4097
    (683, 2, 1, True, np.float32),      # bound 2049: signed no longer fits, the offset form does
    (1365, 2, 1, True, np.float32),     # span 4095: the largest word is 2^24 - 1, fields at span
    (1366, 2, 1, True, np.float32),     # one more column: two column groups
    (9398, 8, 3, False, np.float32),    # bound 9398 * 255 * 7 = 16,775,430 < 2^24: unpacked float32
    (9400, 8, 3, False, np.float64),    # bound 16,779,000 > 2^24: float64
])
def test_conv_kernel_at_the_edges_of_its_float_bounds(c_in, in_bits, weight_bits, packed, dtype):
    """Worst-case inputs (every code at its largest) and weights (whole rows at +-max) at the
    edges of float32 packing, float32 and float64: exact, and the dtype the bounds allow."""
    rng = np.random.default_rng(c_in)
    top_w = 2 ** weight_bits - 1
    w = plane_weights(rng, weight_bits, weight_bits > 1, (6, c_in)).astype(np.int64)
    w[0], w[1] = top_w, -top_w
    x = rng.integers(0, 2 ** in_bits, (2, 2, 2, c_in))
    x[0] = 2 ** in_bits - 1
    kernel = kernels.ConvKernel(w, 1, 1, 0, (0, 2 ** in_bits - 1))
    assert (kernel.plan is not None) == packed and kernel.dtype == dtype
    check_conv(x.astype(np.uint8), w, 1, 1, 0, (0, 2 ** in_bits - 1), rng, thresholded=False)
    check_conv(x.astype(np.uint8), w, 1, 1, 0, (0, 2 ** in_bits - 1), rng, thresholded=True)


def test_conv_kernel_falls_back_to_integers_beyond_float64():
    """Inputs declared up to 2^46 (wider than any package's codes): the bound 2^46 * 40 * 7
    exceeds 2^53, so the kernel computes in int64, exactly."""
    rng = np.random.default_rng(0)
    w = plane_weights(rng, 3, True, (4, 40)).astype(np.int64)
    w[0] = 7
    x = rng.integers(0, 2 ** 46, (2, 1, 1, 40), dtype=np.int64)
    x[0] = 2 ** 46 - 1
    kernel = kernels.ConvKernel(w, 1, 1, 0, (0, 2 ** 46 - 1))
    assert kernel.plan is None and kernel.dtype == np.int64
    expected = integer_conv(x.astype(object), w, 1, 1, 0)   # Python ints: no overflow anywhere
    np.testing.assert_array_equal(kernel([x])[0].astype(object), expected)


# -- the fast reference against the golden ops ------------------------------------------------

WIDTHS = {"stem": {"weight_bits": 2, "out_bits": 3}, "b1.conv1": {"weight_bits": 3, "masked": True, "out_bits": 1},
          "b1.conv2": {"weight_bits": 2}, "b1.short": {"weight_bits": 3, "masked": True},
          "b1.act": {"out_bits": 4}, "head.conv": {"weight_bits": 2}}


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(["ern", "ern_widths", "cnv", "tiny"]))
def test_fast_reference_gives_the_golden_class_sums(seed, kind):
    if kind == "tiny":
        package = tiny_package(seed % 1000)
        images = np.random.default_rng(seed).integers(0, 256, (9, 8, 8, 2), dtype=np.uint8)
    else:
        package = (cnv_like(seed % 1000)[0] if kind == "cnv" else
                   random_ern(seed % 1000, size=8, channels=3, widths=WIDTHS if kind == "ern_widths" else None)[0])
        images = random_images(package, 9, seed)
    fast = Reference(package, batch_size=4).class_sums(images)
    golden = Reference(package, fast=False).class_sums(images)
    assert fast.dtype == np.int64
    np.testing.assert_array_equal(fast, golden)



@pytest.mark.parametrize("kind", ["ern", "cnv"])
@pytest.mark.parametrize("count, batch_size", [(1, 4), (5, 4), (9, 2), (9, 64)])
def test_threads_give_the_one_thread_class_sums(kind, count, batch_size):
    """The batches split over 2 and 3 threads (the packed kernels run concurrently): the same
    class sums as one thread, and as the golden ops."""
    package = cnv_like(5)[0] if kind == "cnv" else random_ern(5, size=8, channels=3, widths=WIDTHS)[0]
    images = random_images(package, count, 5)
    one = Reference(package, batch_size=batch_size, threads=1).class_sums(images)
    np.testing.assert_array_equal(one, Reference(package, fast=False, threads=1).class_sums(images))
    for threads in (2, 3):
        np.testing.assert_array_equal(
            Reference(package, batch_size=batch_size, threads=threads).class_sums(images), one)

@pytest.mark.slow
@pytest.mark.parametrize("model", ["ern_tiny", "cnv_w1a2"])
def test_fast_reference_on_the_committed_checkpoints(model, tmp_path):
    """Both committed checkpoints, exported and lowered here, on 2,000 Fashion-MNIST test images:
    identical class sums, fast and golden."""
    pytest.importorskip("brevitas")
    from hls.lower import lower
    from training import checkpoint, data
    from training.export import export_qonnx
    try:
        test = data.load("fashion_mnist", "test")
    except (OSError, ValueError) as e:
        pytest.skip(f"Fashion-MNIST not available: {e}")
    network, _ = checkpoint.load_model(checkpoint.default_path(model), expected_model=model)
    package = lower(export_qonnx(network, 1, 28, 28, tmp_path / "model.onnx"), model)
    images = np.ascontiguousarray(test.images.numpy()[:2000].transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(Reference(package).class_sums(images),
                                  Reference(package, fast=False).class_sums(images))
