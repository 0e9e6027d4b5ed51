"""The passes and pass extensions that bnn_pynq's constructs need, each on a tiny hand-built QONNX
graph (tests/test_lower_passes.py's style: the IR stays executable, so each is checked by
running the graph before and after it)."""
import warnings

import numpy as np
import pytest

from hls.lower import LoweringError, lower
from hls.lower import ir
from hls.lower.activation import AbsorbActivation
from hls.lower.conv import LowerConv
from hls.lower.embedding import InputRangeWarning, LowerInputEmbedding
from hls.lower.head import AbsorbHeadAffine
from hls.lower.streams import LowerGlobalPool, LowerMaxPool
from host.ops import Conv, conv_weight_params
from host.package import load, save
from host.reference import Reference
from lower_helpers import GraphBuilder, QONNX_DOMAIN, run, apply


def images(shape, n=4, seed=0):
    return [np.random.default_rng(seed + i).integers(0, 256, shape).astype(np.float32) for i in range(n)]


def assert_runs_the_same(before, after, shape, n=4, atol=1e-5):
    for x in images(shape, n):
        np.testing.assert_allclose(run(before, x), run(after, x), rtol=1e-5, atol=atol)


def bipolar(g, x, name):
    return g.node("BipolarQuant", [x, g.const(np.float32([1.0]))], name=name, domain=QONNX_DOMAIN)


def signed_input(g, bits=8, scale=2.0 ** -7, divide=True):
    """bnn_pynq CNV's input: x / 255, 2x - 1, then a signed Quant (8 bits, 2^-7: Q1.7)."""
    x = g.node("Div", [g.input.name, g.const(np.float32(255.0))], name="Div_0") if divide else g.input.name
    x = g.node("Sub", [g.node("Mul", [x, g.const(np.float32(2.0))], name="Mul_0"), g.const(np.float32([1.0]))],
               name="Sub_0")
    return g.quant(x, scale, bits, signed=1, narrow=0, name="Quant_0")


# -- signed / bipolar input quantizers ----------------------------------------------------------

def test_signed_8_bit_input_becomes_a_thermometer_of_offset_codes():
    g = GraphBuilder([1, 2, 5, 5])
    q = signed_input(g)
    w = g.binary_weights(np.random.default_rng(0).normal(size=(3, 2, 3, 3)), np.float32([0.5]), name="W")
    model = g.build(g.conv(q, w, 3, name="Conv_0"))
    embedded = apply(model, LowerInputEmbedding())
    thermo = [n for n in embedded.graph.node if ir.is_ir(n, "Thermometer")][0]
    t = ir.params(embedded, thermo)["thresholds"]
    assert ir.node_attrs(thermo) == {"k": 1, "out_bits": 8} and t.shape == (2, 255)
    scale = [n for n in embedded.graph.node if ir.is_scale(n)][0]
    assert ir.offset_of(embedded, scale).tolist() == [128.0]      # code = q + 128
    # q = round((2x/255 - 1) * 128): the code's first step sits where 256x/255 crosses 0.5
    assert t[0, 0] == 1 and t[0, -1] == 254
    after = apply(embedded, LowerConv())
    conv_scale = [n for n in after.graph.node if ir.is_scale(n)][0]
    assert np.all(ir.offset_of(after, conv_scale) != 0)           # 128 * row sums of the weights
    assert_runs_the_same(model, embedded, (1, 2, 5, 5))
    assert_runs_the_same(model, after, (1, 2, 5, 5))


@pytest.mark.parametrize("divide", [True, False])
def test_bipolar_input_is_a_one_bit_code_and_the_raw_range_warns(divide):
    g = GraphBuilder([1, 1, 4, 4])
    x = g.node("Div", [g.input.name, g.const(np.float32(255.0))], name="Div_0") if divide else g.input.name
    q = bipolar(g, g.node("Sub", [g.node("Mul", [x, g.const(np.float32(2.0))]), g.const(np.float32(1.0))]), "BQ_0")
    w = g.binary_weights(np.random.default_rng(1).normal(size=(2, 1, 1, 1)), np.float32([1.0]), name="W")
    model = g.build(g.conv(q, w, 1, name="Conv_0"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        after = apply(model, LowerInputEmbedding())
    raised = [w for w in caught if issubclass(w.category, InputRangeWarning)]
    assert len(raised) == (0 if divide else 1)
    thermo = [n for n in after.graph.node if ir.is_ir(n, "Thermometer")][0]
    assert ir.params(after, thermo)["thresholds"].tolist() == [[128 if divide else 1]]
    assert ir.node_attrs(thermo)["out_bits"] == 1
    scale = [n for n in after.graph.node if ir.is_scale(n)][0]
    assert ir.scale_of(after, scale).tolist() == [2.0] and ir.offset_of(after, scale).tolist() == [0.5]
    assert_runs_the_same(model, after, (1, 1, 4, 4))


def test_a_padded_conv_on_offset_codes_is_refused():
    g = GraphBuilder([1, 1, 5, 5])
    q = signed_input(g)
    w = g.binary_weights(np.ones((2, 1, 3, 3)), np.float32([1.0]), name="W")
    model = g.build(g.conv(q, w, 3, pad=1, name="Conv_0"))
    with pytest.raises(LoweringError, match="node 'Conv_0' \\(Conv\\): pads 1 around codes of a signed"):
        apply(model, LowerInputEmbedding(), LowerConv())


# -- flatten before the first quantizer (28 x 28 MLPs) -------------------------------------------

def test_flatten_before_the_first_quant_reads_the_map_in_onnx_order():
    rng = np.random.default_rng(2)
    g = GraphBuilder([1, 2, 3, 3])
    flat = g.node("Reshape", [g.node("Div", [g.input.name, g.const(np.float32(255.0))]),
                              g.const(np.array([1, -1]), np.int64)], name="Reshape_0")
    x = g.node("Sub", [g.node("Mul", [flat, g.const(np.float32(2.0))]), g.const(np.float32(1.0))])
    q = g.quant(x, 1.0, 2, signed=1, narrow=1, name="Quant_0")              # {-1, 0, 1}
    w = g.binary_weights(rng.normal(size=(4, 18)), np.full((4, 1), 0.25, np.float32), name="W")
    model = g.build(g.node("Gemm", [q, w], name="Gemm_0", transB=1))
    embedded = apply(model, LowerInputEmbedding())
    assert "Flatten" in [n.op_type for n in embedded.graph.node]
    thermo = [n for n in embedded.graph.node if ir.is_ir(n, "Thermometer")][0]
    assert embedded.get_tensor_shape(thermo.output[0]) == [1, 2, 3, 3]
    after = apply(embedded, LowerConv())
    conv = [n for n in after.graph.node if ir.is_ir(n, "Conv")][0]
    assert ir.node_attrs(conv)["kernel"] == 3 and ir.node_attrs(conv)["in_bits"] == 2
    assert [n.op_type for n in after.graph.node if not ir.is_ir(n)] == []
    assert_runs_the_same(model, embedded, (1, 2, 3, 3))
    assert_runs_the_same(model, after, (1, 2, 3, 3))


# -- bipolar and signed activations ------------------------------------------------------------

def act_graph(act):
    """codes -> Conv -> BN -> (BipolarQuant | signed narrow 2-bit Quant) -> Conv -> BN -> Bipolar."""
    rng = np.random.default_rng(3)
    g = GraphBuilder([1, 2, 6, 6])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    w = g.binary_weights(rng.normal(size=(4, 2, 3, 3)), rng.uniform(0.1, 1, (4, 1, 1, 1)), name="W")
    b = g.batch_norm(g.conv(q, w, 3, name="Conv_0"), np.float32([0.7, -0.4, 1.3, -2.0]), rng.normal(size=4),
                     rng.normal(size=4) * 3, rng.uniform(0.5, 4, 4), name="BN_0")
    a = bipolar(g, b, "Act_0") if act == "bipolar" else g.quant(b, 1.0, 2, signed=1, narrow=1, name="Act_0")
    w2 = g.binary_weights(rng.normal(size=(3, 4, 3, 3)), np.float32([1.0]), name="W2")
    b2 = g.batch_norm(g.conv(a, w2, 3, name="Conv_1"), np.float32([1.0, -1.0, 0.5]), rng.normal(size=3),
                      rng.normal(size=3), np.ones(3), name="BN_1")
    return g.build(bipolar(g, b2, "Act_1"))


@pytest.mark.parametrize("act", ["bipolar", "signed"])
def test_bipolar_and_signed_activations_become_thresholds_with_the_offset_folded_in(act):
    model = act_graph(act)
    absorb = AbsorbActivation()
    after = apply(model, LowerInputEmbedding(), LowerConv(), absorb, LowerConv(), absorb)
    convs = [n for n in after.graph.node if ir.is_ir(n, "Conv")]
    assert [ir.node_attrs(c)["output"] for c in convs] == ["threshold", "threshold"]
    assert ir.node_attrs(convs[0])["out_bits"] == (1 if act == "bipolar" else 2)
    assert ir.node_attrs(convs[1])["in_bits"] == (1 if act == "bipolar" else 2)
    assert ir.node_attrs(convs[1])["out_bits"] == 1
    assert ir.params(after, convs[0])["direction"].tolist() == [1, -1, 1, -1]
    out_scale = [n for n in after.graph.node if ir.is_scale(n)][-1]
    assert ir.offset_of(after, out_scale).tolist() == [0.5]         # XNOR form: value 2 * (code - 1/2)
    assert_runs_the_same(model, after, (1, 2, 6, 6), n=6, atol=0)


# -- ternary weights ---------------------------------------------------------------------------

def test_two_bit_narrow_weights_become_signs_and_a_nonzero_mask():
    rng = np.random.default_rng(4)
    g = GraphBuilder([1, 2, 5, 5])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    raw = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    w = g.quant(g.const(raw), 1.0, 2, signed=1, narrow=1, name="WQ")         # {-1, 0, +1}
    model = g.build(g.conv(q, w, 3, name="Conv_0"))
    after = apply(model, LowerInputEmbedding(), LowerConv())
    conv = [n for n in after.graph.node if ir.is_ir(n, "Conv")][0]
    attrs = ir.node_attrs(conv)
    assert attrs["weight_bits"] == 1 and attrs["zeros"] == 1
    expected = np.clip(np.round(raw), -1, 1).transpose(0, 2, 3, 1).reshape(3, -1)
    assert (expected == 0).any()
    np.testing.assert_array_equal(ir.operator(conv).weight_matrix(ir.params(after, conv)), expected)
    assert_runs_the_same(model, after, (1, 2, 5, 5), atol=0)


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_conv_weight_params_round_trip_with_zeros(bits):
    rng = np.random.default_rng(bits)
    top = 2 ** bits - 1
    w = rng.integers(-top, top + 1, (5, 19))
    w[0, :3] = 0
    attrs, params = conv_weight_params(w, bits)
    assert attrs.get("zeros") == 1 and params["weight_nonzero"].shape == (5, 3)
    op = Conv(kernel=1, stride=1, pad=0, in_bits=2, cols=19, output="accumulator", **attrs)
    np.testing.assert_array_equal(op.weight_matrix(params), w)
    lo, hi = op.accumulator_bounds([(0, 3)], params)
    assert lo == -3 * int(np.where(w < 0, -w, 0).sum(axis=1).max())
    assert hi == 3 * int(np.where(w > 0, w, 0).sum(axis=1).max())
    _, plain = conv_weight_params(np.where(w == 0, 1, w), bits)      # no zeros: no mask, as before
    assert "weight_nonzero" not in plain


# -- the affine head (TensorNorm) --------------------------------------------------------------

def head_graph(mul):
    rng = np.random.default_rng(5)
    g = GraphBuilder([1, 1, 4, 4])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    w = g.binary_weights(rng.normal(size=(3, 1, 3, 3)), np.float32([0.5]), name="W")
    pooled = g.node("ReduceMean", [g.conv(q, w, 3, name="Conv_0")], name="Pool", axes=[2, 3], keepdims=0)
    x = g.node("Sub", [pooled, g.const(np.float32([0.7]))], name="Sub_1")
    x = g.node("Div", [x, g.const(np.float32([1.9]))], name="Div_1")
    x = g.node("Mul", [x, g.const(np.float32([mul]))], name="Mul_1")
    return g.build(g.node("Add", [x, g.const(np.float32([0.3]))], name="Add_0"))


@pytest.mark.parametrize("mul", [1.25, -0.6])
def test_tensor_norm_folds_into_the_head_scale_and_bias(mul, tmp_path):
    model = head_graph(mul)
    after = apply(model, LowerInputEmbedding(), LowerConv(), LowerGlobalPool(), AbsorbHeadAffine())
    assert [n.op_type for n in after.graph.node if not ir.is_ir(n)] == []
    assert_runs_the_same(model, after, (1, 1, 4, 4))
    package = lower(model, "t")
    assert package.head.bias == "head.bias" and package.head.divisor == 4
    save(package, tmp_path / "p")
    again = load(tmp_path / "p")
    np.testing.assert_array_equal(again.head_bias, package.head_bias)
    for x in images((1, 1, 4, 4)):
        logits = Reference(again).logits(np.ascontiguousarray(x.transpose(0, 2, 3, 1)).astype(np.uint8))
        np.testing.assert_allclose(logits, run(model, x), rtol=1e-5, atol=1e-5)


def test_an_affine_map_that_does_not_reach_the_output_is_left_alone():
    g = GraphBuilder([1, 1, 4, 4])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    w = g.binary_weights(np.ones((2, 1, 3, 3)), np.float32([0.5]), name="W")
    x = g.node("Add", [g.conv(q, w, 3, name="Conv_0"), g.const(np.float32(0.5))], name="Bias_0")
    a = g.quant(g.node("Relu", [x], name="Relu_0"), 1.0, 2, name="Quant_1")
    w2 = g.binary_weights(np.ones((2, 2, 1, 1)), np.float32([0.5]), name="W2")
    model = g.build(g.node("ReduceMean", [g.conv(a, w2, 1, name="Conv_1")], axes=[2, 3], keepdims=0))
    after = apply(model, LowerInputEmbedding(), LowerConv(), AbsorbHeadAffine())
    assert "Add" in [n.op_type for n in after.graph.node]
    with pytest.raises(LoweringError, match="adding a constant \\(a bias\\) is supported only on the logits"):
        lower(model, "t")


def test_max_pool_carries_the_offset_of_bipolar_codes():
    rng = np.random.default_rng(6)
    g = GraphBuilder([1, 1, 4, 4])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    w = g.binary_weights(rng.normal(size=(2, 1, 1, 1)), np.float32([1.0]), name="W")
    a = bipolar(g, g.batch_norm(g.conv(q, w, 1), np.ones(2), np.zeros(2), np.full(2, 1.5), np.ones(2)), "Act")
    model = g.build(g.node("MaxPool", [a], name="Pool_0", kernel_shape=[2, 2], strides=[2, 2]))
    after = apply(model, LowerInputEmbedding(), LowerConv(), AbsorbActivation(), LowerMaxPool())
    pool_scale = [n for n in after.graph.node if ir.is_scale(n)][-1]
    assert ir.offset_of(after, pool_scale).tolist() == [0.5]
    assert_runs_the_same(model, after, (1, 1, 4, 4), atol=0)


# -- pixel-space padding before a signed input quantizer (CNV on 28 x 28 images) -----------------

def padded_input_graph(shift=0.0):
    g = GraphBuilder([1, 1, 4, 4])
    padded = g.node("Pad", [g.input.name, g.const(np.array([0, 0, 2, 2, 0, 0, 2, 2]), np.int64)],
                    name="Pad_0", mode="constant")
    x = g.node("Div", [padded, g.const(np.float32(255.0))])
    x = g.node("Sub", [g.node("Mul", [x, g.const(np.float32(2.0))]), g.const(np.float32(1.0 - shift))])
    q = g.quant(x, 2.0 ** -7, 8, signed=1, name="Quant_0")
    w = g.binary_weights(np.random.default_rng(7).normal(size=(3, 1, 3, 3)), np.float32([0.5]), name="W")
    return g.build(g.conv(q, w, 3, name="Conv_0"))


def test_a_zero_border_of_the_image_becomes_the_first_conv_padding_of_code_0():
    model = padded_input_graph()
    embedded = apply(model, LowerInputEmbedding())
    thermo = [n for n in embedded.graph.node if ir.is_ir(n, "Thermometer")][0]
    assert embedded.get_tensor_shape(thermo.output[0]) == [1, 1, 4, 4]
    assert "Pad" in [n.op_type for n in embedded.graph.node]       # now a Pad of the value of code 0
    after = apply(embedded, LowerConv())
    conv = [n for n in after.graph.node if ir.is_ir(n, "Conv")][0]
    assert ir.node_attrs(conv)["pad"] == 2
    assert "Pad" not in [n.op_type for n in after.graph.node]
    assert_runs_the_same(model, embedded, (1, 1, 4, 4))
    assert_runs_the_same(model, after, (1, 1, 4, 4))


def test_a_border_whose_pixels_are_not_the_lowest_code_is_refused():
    with pytest.raises(LoweringError, match="pixel 0 does not give code 0"):
        apply(padded_input_graph(shift=0.5), LowerInputEmbedding())


def test_the_cli_prints_the_input_range_warning_as_one_line(tmp_path, capsys):
    from hls.lower.__main__ import main
    g = GraphBuilder([1, 1, 4, 4])
    q = bipolar(g, g.node("Sub", [g.node("Mul", [g.input.name, g.const(np.float32(2.0))]),
                                  g.const(np.float32(1.0))]), "BQ_0")
    w = g.binary_weights(np.ones((2, 1, 1, 1)), np.float32([1.0]), name="W")
    g.build(g.node("ReduceMean", [g.conv(q, w, 1, name="Conv_0")], axes=[2, 3], keepdims=0)).save(
        str(tmp_path / "m.onnx"))
    assert main(["--onnx", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "dataflow"), "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: pixel embedding") and "inputs in [0, 1]" in err[0]
