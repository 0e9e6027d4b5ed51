"""Unsupported graphs and broken files stop the lowering with one line naming the node, its op
and what is supported."""
import numpy as np
import onnx
import pytest

from hls.lower import LoweringError, load_onnx, lower
from hls.lower.__main__ import main
from lower_helpers import GraphBuilder


def conv_net(act=None, weights=None, conv_attrs=None, head=None, signed=0, bits=2, zero_point=0.0,
             act_scale=1.0):
    """codes -> Conv -> BN -> Relu -> act Quant -> [head]: the pieces a test swaps for a broken one."""
    rng = np.random.default_rng(0)
    g = GraphBuilder([1, 1, 4, 4])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    raw = rng.normal(size=(2, 1, 3, 3)).astype(np.float32)
    if weights == "quant":
        w = g.quant(g.const(raw), 0.1, 2, signed=1, name="WeightQuant")
    elif weights in ("planes_with_zero", "planes_not_narrow"):
        raw[0, 0, 0, 0] = 0.01 if weights == "planes_with_zero" else raw[0, 0, 0, 0]
        w = g.quant(g.const(raw), 0.5, 3 if weights == "planes_with_zero" else 4, signed=1,
                    narrow=int(weights == "planes_with_zero"), name="WeightQuant")
    elif weights == "wide":
        w = g.quant(g.const(raw), 0.1, 6, signed=1, narrow=1, name="WeightQuant")
    elif weights == "float":
        w = g.const(raw)
    else:
        w = g.binary_weights(raw, np.float32([0.5]), name="W")
    conv = g.node("Conv", [q, w], name="Conv_0", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                  **(conv_attrs or {}))
    b = g.batch_norm(conv, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), name="BN_0")
    if act == "sigmoid":
        a = g.node("Sigmoid", [b], name="Sigmoid_0")
    else:
        a = g.quant(g.node("Relu", [b], name="Relu_0"), act_scale, bits, signed=signed,
                    zero_point=zero_point, name="Quant_1")
    if head == "conv_on_stream":
        w2 = g.binary_weights(rng.normal(size=(2, 2, 1, 1)), np.float32([0.5]), name="W2")
        a = g.conv(conv, w2, 1, name="Conv_1")  # a conv reading the raw accumulator
    out = g.node("ReduceMean", [a], name="ReduceMean_0", axes=[2, 3], keepdims=0)
    return g.build(out)


def one_line_error(model, *fragments):
    with pytest.raises(LoweringError) as info:
        lower(model, "t")
    text = str(info.value)
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, text
    return text


def test_the_reference_graph_lowers():
    assert lower(conv_net(), "t").classes == 2


def test_unsupported_op():
    one_line_error(conv_net(act="sigmoid"), "node 'Sigmoid_0' (Sigmoid): op is not supported", "supported: ")


def test_signed_activation_quantizer_lowers_to_offset_codes():
    """A signed 2-bit Quant after Relu: codes q - qmin travel unsigned; the graph is supported."""
    assert lower(conv_net(signed=1), "t").classes == 2


def test_one_bit_signed_quant_is_refused():
    one_line_error(conv_net(signed=1, bits=1), "node 'Quant_1' (Quant): 1-bit signed activations",
                   "BipolarQuant", "reads 'Relu_0_out' from node 'Relu_0' (Relu)")


def test_activation_bit_width():
    one_line_error(conv_net(bits=16), "node 'Quant_1' (Quant): 16-bit activations", "supported: 1..8 bits")


def test_activation_zero_point():
    one_line_error(conv_net(zero_point=1.0), "node 'Quant_1' (Quant): zero point 1", "supported: Quant")


def test_two_bit_weights_are_ternary_not_refused():
    """Brevitas' narrow signed 2-bit weights are -1/0/+1 (no longer 'not supported')."""
    package = lower(conv_net(weights="quant"), "t")
    conv = [layer for layer in package.layers if layer.op == "Conv"][0]
    assert conv.attrs["weight_bits"] == 2 and conv.attrs.get("zeros") == 1   # not narrow: -2..1


def test_weight_bit_width_message_names_what_is_supported():
    one_line_error(conv_net(weights="wide"), "node 'WeightQuant' (Quant): 6-bit weights are not supported",
                   "2 bits narrow: ternary", "1-bit weights export as BipolarQuant", "for node 'Conv_0' (Conv)")


def test_bit_plane_weights_that_quantize_to_zero_get_a_nonzero_mask():
    package = lower(conv_net(weights="planes_with_zero"), "t")
    conv = [layer for layer in package.layers if layer.op == "Conv"][0]
    assert conv.attrs["weight_bits"] == 2 and conv.attrs.get("zeros") == 1
    assert (conv.operator.weight_matrix(package.layer_params(conv)) == 0).sum() >= 1


def test_every_unsupported_node_in_one_line():
    """Two Sigmoids (one reason, grouped) and a 1-bit signed Quant: all three named in one line,
    each with the tensor it reads and the node writing it."""
    g = GraphBuilder([1, 1, 4, 4])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    s1 = g.node("Sigmoid", [q], name="Sig_a")
    s2 = g.node("Sigmoid", [s1], name="Sig_b")
    bad = g.quant(s2, 1.0, 1, signed=1, name="Quant_9")
    text = one_line_error(g.build(bad), "3 unsupported nodes (2 reasons)",
                          "node 'Sig_a' (Sigmoid) reads 'Quant_0_out' from node 'Quant_0' (Quant)",
                          "node 'Sig_b' (Sigmoid) reads 'Sig_a_out' from node 'Sig_a' (Sigmoid)",
                          "node 'Quant_9' (Quant) reads 'Sig_b_out'")
    assert text.count("op is not supported") == 1   # the shared reason once, for both nodes


def test_wide_weights_that_are_not_narrow_range():
    one_line_error(conv_net(weights="planes_not_narrow"), "node 'WeightQuant' (Quant):",
                   "4-bit non-narrow weights are not supported", "for node 'Conv_0' (Conv)")


def test_float_weights():
    one_line_error(conv_net(weights="float"), "node 'Conv_0' (Conv): weights are not binary", "BipolarQuant")


def test_grouped_conv():
    one_line_error(conv_net(conv_attrs={"group": 1, "dilations": [2, 2]}), "node 'Conv_0' (Conv): dilated",
                   "supported: dilations 1")


def test_conv_reading_an_accumulator():
    one_line_error(conv_net(head="conv_on_stream"), "node 'Conv_1' (Conv)", "a residual stream?")


def test_non_integer_output():
    g = GraphBuilder([1, 1, 4, 4])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    model = g.build(g.node("Sigmoid", [q], name="S"))
    one_line_error(model, "node 'S' (Sigmoid): op is not supported")


# -- files ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "good.onnx"
    conv_net().save(str(path))
    return path


def test_missing_file(tmp_path):
    with pytest.raises(LoweringError, match="no such file"):
        load_onnx(tmp_path / "nope.onnx")


@pytest.mark.parametrize("damage", ["empty", "garbage", "half", "tail"])
def test_damaged_files(good_file, tmp_path, damage):
    data = good_file.read_bytes()
    broken = {"empty": b"", "garbage": b"this is not a protobuf\xff\xfe", "half": data[:len(data) // 2],
              "tail": data[:-7]}[damage]
    path = tmp_path / "broken.onnx"
    path.write_bytes(broken)
    with pytest.raises(LoweringError) as info:
        lower(path, "t")
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_file_missing_a_node_names_what_is_undefined(good_file, tmp_path):
    proto = onnx.load(str(good_file))
    del proto.graph.node[3]  # parses fine, but a tensor is now read and never written
    path = tmp_path / "cut.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(LoweringError, match="nothing defines"):
        load_onnx(path)


def test_cli_prints_one_error_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x01garbage")
    assert main(["--onnx", str(path), "--out", str(tmp_path / "df")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hls.lower: error: ") and err.count("\n") == 1


def test_cli_writes_a_loadable_package(good_file, tmp_path, capsys):
    from host.package import load
    out = tmp_path / "m" / "dataflow"
    assert main(["--onnx", str(good_file), "--out", str(out), "--report", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"lowered {good_file} -> {out}: model=m ")
    assert load(out).model == "m" and (tmp_path / "r.json").is_file()
