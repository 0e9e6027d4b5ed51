"""Each lowering pass on a tiny hand-built QONNX graph. The IR stays executable (hls.lower.ir),
so every pass is also checked by running the graph before and after it with qonnx."""
import copy

import numpy as np
import pytest

from hls.lower import LoweringError, lower, lower_graph
from hls.lower import ir
from hls.lower.activation import AbsorbActivation
from hls.lower.conv import LowerConv
from hls.lower.embedding import LowerInputEmbedding
from hls.lower.pad import MergePadIntoConv
from hls.lower.streams import InsertDuplicates, LowerAdd, LowerMaxPool, SplitScaleForks
from host.ops import unpack_weights
from host.reference import Reference
from lower_helpers import GraphBuilder, run, apply


def ops_of(model):
    return [(n.op_type, n.domain == ir.DOMAIN) for n in model.graph.node]


def images(shape, n=3, seed=0):
    return [np.random.default_rng(seed + i).integers(0, 256, shape).astype(np.float32) for i in range(n)]


def assert_runs_the_same(before, after, shape, exact=False, n=3):
    for x in images(shape, n):
        a, b = run(before, x), run(after, x)
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def pm1(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


# -- MergePadIntoConv -----------------------------------------------------------------------------

def pad_graph(pads, value=None):
    rng = np.random.default_rng(1)
    g = GraphBuilder([1, 1, 5, 5])
    inputs = [g.input.name, g.const(np.array(pads), np.int64)] + ([g.const(value)] if value is not None else [])
    padded = g.node("Pad", inputs, name="Pad_0", mode="constant")
    q = g.quant(padded, 1.0, 8, name="Quant_0")
    w = g.binary_weights(rng.normal(size=(3, 1, 3, 3)), np.full((3, 1, 1, 1), 0.5), name="W")
    return g.build(g.conv(q, w, 3, name="Conv_0"))


def test_pad_merges_into_the_conv_padding():
    model = pad_graph([0, 0, 1, 1, 0, 0, 1, 1])
    after = apply(model, MergePadIntoConv())
    assert "Pad" not in [n.op_type for n in after.graph.node]
    conv = [n for n in after.graph.node if n.op_type == "Conv"][0]
    assert [a.ints for a in conv.attribute if a.name == "pads"][0] == [1, 1, 1, 1]
    assert after.get_tensor_shape("Quant_0_out") == [1, 1, 5, 5]
    assert_runs_the_same(model, after, (1, 1, 5, 5), exact=True)


@pytest.mark.parametrize("pads, value", [([0, 0, 1, 2, 0, 0, 1, 2], None),   # not the same on all sides
                                         ([0, 1, 1, 1, 0, 0, 1, 1], None),   # pads channels
                                         ([0, 0, 1, 1, 0, 0, 1, 1], 3.0)])   # not zero
def test_pad_that_is_not_a_plain_zero_border_stays(pads, value):
    model = pad_graph(pads, value)
    _, changed = MergePadIntoConv().apply(copy.deepcopy(model))
    assert not changed


# -- LowerInputEmbedding ---------------------------------------------------------------------------

def thermometer_graph(channels=2, k=4, bits=2, size=6):
    """The export's form of the pixel embedding: repeat_interleave as Unsqueeze/Tile/Reshape,
    integer offsets s(k-1-i), a FLOOR quantizer of step s*k."""
    s = max(1, 255 // ((2 ** bits - 1) * k))
    g = GraphBuilder([1, channels, size, size])
    u = g.node("Unsqueeze", [g.input.name, g.const([2], np.int64)])
    t = g.node("Tile", [u, g.const([1, 1, k, 1, 1], np.int64)])
    r = g.node("Reshape", [t, g.const([1, channels * k, size, size], np.int64)])
    offsets = np.array([s * (k - 1 - i) for i in range(k)] * channels, np.float32).reshape(1, -1, 1, 1)
    a = g.node("Add", [r, g.const(offsets)])
    return g.build(g.quant(a, float(s * k), bits, rounding="FLOOR", name="Quant_0")), s


@pytest.mark.parametrize("channels, k, bits", [(1, 10, 2), (3, 4, 2), (2, 3, 3)])
def test_thermometer_thresholds_are_the_papers_integer_form(channels, k, bits):
    model, s = thermometer_graph(channels, k, bits)
    after = apply(model, LowerInputEmbedding())
    therm = [n for n in after.graph.node if ir.is_ir(n, "Thermometer")]
    assert len(therm) == 1 and ir.node_attrs(therm[0]) == {"k": k, "out_bits": bits}
    thresholds = ir.params(after, therm[0])["thresholds"]
    # docs/ern.md: z_i >= j  <=>  x >= s (j k - k + 1 + i), colour-major; 256 where no pixel gets there.
    expected = np.array([[min(s * (j * k - k + 1 + i), 256) for j in range(1, 2 ** bits)]
                         for _ in range(channels) for i in range(k)])
    np.testing.assert_array_equal(thresholds, expected)
    assert_runs_the_same(model, after, (1, channels, 6, 6), exact=True)


def test_an_8_bit_identity_input_quantizer_becomes_no_layer():
    g = GraphBuilder([1, 1, 4, 4])
    model = g.build(g.quant(g.input.name, 1.0, 8, name="Quant_0"))
    after = apply(model, LowerInputEmbedding())
    assert ops_of(after) == [("Scale", True)]
    assert list(after.graph.node[0].input)[0] == "x"


def test_decreasing_embedding_is_refused():
    g = GraphBuilder([1, 1, 4, 4])
    neg = g.node("Mul", [g.input.name, g.const(-1.0)])
    model = g.build(g.quant(g.node("Add", [neg, g.const(255.0)]), 64.0, 2, "FLOOR", name="Quant_0"))
    with pytest.raises(LoweringError, match="falls as the pixel grows"):
        apply(model, LowerInputEmbedding())


def test_embedding_that_mixes_channels_is_refused():
    g = GraphBuilder([1, 2, 4, 4])
    shifted = g.node("Add", [g.input.name, g.const(7.0)])
    mixed = g.node("Concat", [shifted, g.input.name], axis=1)  # channel-major, not colour-major
    model = g.build(g.quant(mixed, 64.0, 2, "FLOOR", name="Quant_0"))
    with pytest.raises(LoweringError, match="not a function of input channel"):
        apply(model, LowerInputEmbedding())


# -- LowerConv ---------------------------------------------------------------------------------

def conv_graph(kernel=3, stride=2, pad=1, c_in=3, c_out=5, size=7):
    rng = np.random.default_rng(2)
    g = GraphBuilder([1, c_in, size, size])
    q = g.quant(g.input.name, 80.0, 2, rounding="FLOOR", name="Quant_0")
    raw = rng.normal(size=(c_out, c_in, kernel, kernel)).astype(np.float32)
    scale = rng.uniform(0.01, 0.1, (c_out, 1, 1, 1)).astype(np.float32)
    w = g.binary_weights(raw, scale, name="W")
    return g.build(g.conv(q, w, kernel, stride, pad, name="Conv_0")), raw, scale


def test_conv_becomes_packed_binary_weights_and_a_scale():
    model, raw, scale = conv_graph()
    embedded = apply(model, LowerInputEmbedding())
    after = apply(embedded, LowerConv())
    conv = [n for n in after.graph.node if ir.is_ir(n, "Conv")][0]
    attrs = ir.node_attrs(conv)
    assert attrs == {"kernel": 3, "stride": 2, "pad": 1, "in_bits": 2, "weight_bits": 1, "cols": 27,
                     "output": "accumulator"}
    signs = np.where(raw >= 0, 1, -1)
    expected = signs.transpose(0, 2, 3, 1).reshape(5, -1)  # column (ky*K + kx)*C + c
    np.testing.assert_array_equal(unpack_weights(ir.params(after, conv)["weights"], 27), expected)
    head = [n for n in after.graph.node if ir.is_scale(n) and n.output[0] == "Conv_0_out"][0]
    np.testing.assert_array_equal(ir.scale_of(after, head), 80.0 * scale.reshape(-1).astype(np.float64))
    assert_runs_the_same(model, after, (1, 3, 7, 7))


def fc_graph(flatten=True):
    rng = np.random.default_rng(3)
    g = GraphBuilder([1, 2, 3, 3] if flatten else [1, 6])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    if flatten:
        q = g.node("Reshape", [q, g.const([1, 18], np.int64)], name="Flatten_0")
    w = g.binary_weights(rng.normal(size=(4, 18 if flatten else 6)), np.full((4, 1), 0.25, np.float32), name="W")
    return g.build(g.node("Gemm", [q, w], name="Gemm_0", transB=1))


@pytest.mark.parametrize("flatten", [True, False])
def test_gemm_becomes_a_conv_over_the_whole_map(flatten):
    model = fc_graph(flatten)
    after = apply(model, LowerInputEmbedding(), LowerConv())
    conv = [n for n in after.graph.node if ir.is_ir(n, "Conv")][0]
    assert ir.node_attrs(conv)["kernel"] == (3 if flatten else 1)
    assert "Reshape" not in [n.op_type for n in after.graph.node]
    shape = (1, 2, 3, 3) if flatten else (1, 6)
    for x in images(shape):
        np.testing.assert_allclose(run(model, x), run(after, x), rtol=1e-6)


# -- AbsorbActivation ------------------------------------------------------------------------------

def conv_bn_act_graph(gammas, post_scale=False):
    rng = np.random.default_rng(4)
    g = GraphBuilder([1, 2, 6, 6])
    q = g.quant(g.input.name, 80.0, 2, rounding="FLOOR", name="Quant_0")
    w = g.binary_weights(rng.normal(size=(4, 2, 3, 3)), rng.uniform(0.02, 0.1, (4, 1, 1, 1)), name="W")
    c = g.conv(q, w, 3, 1, 1, name="Conv_0")
    b = g.batch_norm(c, np.float32(gammas), rng.normal(size=4), rng.normal(size=4) * 2,
                     rng.uniform(0.1, 2, 4), name="BN_0")
    if not post_scale:
        b = g.node("Mul", [b, g.const(1.5)], name="Mul_0")
    r = g.node("Relu", [b], name="Relu_0")
    return g.build(g.quant(r, 1.0 if not post_scale else float(np.float32(2 / 3)), 2, name="Quant_1"))


@pytest.mark.parametrize("post_scale", [False, True])
def test_bn_and_activation_fold_into_the_conv_with_directions(post_scale):
    model = conv_bn_act_graph([0.7, -0.4, 1.3, -2.0], post_scale)
    absorb = AbsorbActivation()
    after = apply(model, LowerInputEmbedding(), LowerConv(), absorb)
    conv = [n for n in after.graph.node if ir.is_ir(n, "Conv")][0]
    assert ir.node_attrs(conv)["output"] == "threshold" and ir.node_attrs(conv)["out_bits"] == 2
    params = ir.params(after, conv)
    assert params["direction"].tolist() == [1, -1, 1, -1]
    assert params["thresholds"].dtype == np.int32 and params["thresholds"].shape == (4, 3)
    assert [n.op_type for n in after.graph.node if not ir.is_ir(n)] == []
    assert set(absorb.report) == {"Conv_0"}
    assert_runs_the_same(model, after, (1, 2, 6, 6), exact=True, n=5)


def residual_graph(shortcut_scale=1 / 32):
    """codes -> (conv a, conv b) -> Add -> BN -> Relu -> Quant: the stream is an Add of two
    shared-constant convs, so its activation is a Threshold layer on the integer sum."""
    rng = np.random.default_rng(5)
    g = GraphBuilder([1, 1, 5, 5])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    wa = g.binary_weights(rng.normal(size=(3, 1, 3, 3)), np.float32([1 / 32]), name="Wa")
    wb = g.binary_weights(rng.normal(size=(3, 1, 1, 1)), np.float32([shortcut_scale]), name="Wb")
    s = g.node("Add", [g.conv(q, wa, 3, 1, 1, name="Conv_a"), g.conv(q, wb, 1, name="Conv_b")], name="Add_0")
    b = g.batch_norm(s, np.float32([1.0, -0.5, 2.0]), np.float32([0.2, 0.1, -0.3]), np.zeros(3), np.ones(3), name="BN")
    return g.build(g.quant(g.node("Relu", [b], name="Relu_0"), 1.0, 2, name="Quant_1"))


def test_residual_add_becomes_an_integer_add_and_a_threshold():
    model = residual_graph()
    after = apply(model, LowerInputEmbedding(), LowerConv(), SplitScaleForks(), LowerAdd(), AbsorbActivation())
    kinds = [n.op_type for n in after.graph.node if ir.is_ir(n) and not ir.is_scale(n)]
    assert kinds == ["Thermometer", "Conv", "Conv", "Add", "Threshold"]
    assert_runs_the_same(model, after, (1, 1, 5, 5), exact=True, n=5)


def test_add_of_streams_with_different_scales_is_refused():
    model = residual_graph(shortcut_scale=1 / 16)
    with pytest.raises(LoweringError, match=r"node 'Add_0' \(Add\): adds streams of different scales"):
        apply(model, LowerInputEmbedding(), LowerConv(), SplitScaleForks(), LowerAdd())


# -- SplitScaleForks, InsertDuplicates, MaxPool, GlobalPool: a tiny whole network -----------------

def tiny_network():
    rng = np.random.default_rng(6)
    g = GraphBuilder([1, 1, 6, 6])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    p = g.node("MaxPool", [q], name="MaxPool_0", kernel_shape=[2, 2], strides=[2, 2])
    w1 = g.binary_weights(rng.normal(size=(4, 1, 3, 3)), np.float32([1 / 32]), name="W1")
    w2 = g.binary_weights(rng.normal(size=(4, 1, 1, 1)), np.float32([1 / 32]), name="W2")
    s = g.node("Add", [g.conv(p, w1, 3, 1, 1, name="Conv_0"), g.conv(p, w2, 1, name="Conv_1")], name="Add_0")
    b = g.batch_norm(s, np.float32([1.0, -1.0, 0.5, 2.0]), rng.normal(size=4), rng.normal(size=4),
                     rng.uniform(0.5, 2, 4), name="BN")
    a = g.quant(g.node("Relu", [b], name="Relu_0"), float(np.float32(2 / 3)), 2, name="Quant_1")
    w3 = g.binary_weights(rng.normal(size=(3, 4, 1, 1)), rng.uniform(0.1, 0.2, (3, 1, 1, 1)), name="W3")
    c = g.conv(a, w3, 1, name="Conv_2")
    return g.build(g.node("ReduceMean", [c], name="ReduceMean_0", axes=[2, 3], keepdims=0))


def test_fork_of_a_scaled_stream_splits_into_one_scale_per_reader():
    model = apply(tiny_network(), LowerInputEmbedding(), LowerMaxPool())
    forked = [n for n in model.graph.node if ir.is_scale(n)]
    after = apply(model, SplitScaleForks())
    assert len([n for n in after.graph.node if ir.is_scale(n)]) == len(forked) + 1
    assert_runs_the_same(model, after, (1, 1, 6, 6), exact=True)


def test_max_pool_and_global_pool_lower_and_forks_get_a_duplicate():
    model = tiny_network()
    after = lower_graph(model)
    kinds = [n.op_type for n in after.graph.node if ir.is_ir(n) and not ir.is_scale(n)]
    assert kinds == ["Thermometer", "MaxPool", "Duplicate", "Conv", "Conv", "Add", "Threshold", "Conv",
                     "GlobalSum"]
    head = [n for n in after.graph.node if ir.is_scale(n)]
    assert len(head) == 1 and ir.divisor_of(head[0]) == 9
    assert_runs_the_same(model, after, (1, 1, 6, 6))
    package = lower(model, "tiny")
    assert package.head.divisor == 9 and package.classes == 3
    ref = Reference(package)
    for x in images((1, 1, 6, 6)):
        np.testing.assert_allclose(ref.logits(x.transpose(0, 2, 3, 1).astype(np.uint8)), run(model, x),
                                   rtol=1e-5, atol=1e-6)


def test_duplicates_are_inserted_only_where_a_stream_forks():
    model = lower_graph(tiny_network())
    dups = [n for n in model.graph.node if ir.is_ir(n, "Duplicate")]
    assert len(dups) == 1 and len(dups[0].output) == 2
    _, changed = InsertDuplicates().apply(model)
    assert not changed
