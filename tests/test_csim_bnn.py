"""A bnn_pynq-shaped MLP (x / 255, `2x - 1`, BipolarQuant input on a flattened 6 x 6 image,
binary FCs, BN + bipolar activations, a TensorNorm head) lowered by hls.lower and C-simulated
through the generated HLS C++: bit-exact class sums against host.reference (the offsets of the
bipolar codes live in the thresholds and the host's head bias, so the accelerator is the
existing unsigned dataflow)."""
import numpy as np
import pytest

from hls.lower import lower
from host.reference import Reference
from lower_helpers import GraphBuilder, QONNX_DOMAIN, run
from test_csim import compile_tb, generated, got, run_tb, write_data


def bnn_mlp(seed=0):
    rng = np.random.default_rng(seed)
    g = GraphBuilder([1, 1, 6, 6])
    x = g.node("Div", [g.input.name, g.const(np.float32(255.0))], name="Div_0")
    x = g.node("Reshape", [x, g.const(np.array([1, -1]), np.int64)], name="Reshape_0")
    x = g.node("Sub", [g.node("Mul", [x, g.const(np.float32(2.0))], name="Mul_0"), g.const(np.float32([1.0]))],
               name="Sub_0")

    def bipolar(t, name):
        return g.node("BipolarQuant", [t, g.const(np.float32([1.0]))], name=name, domain=QONNX_DOMAIN)

    x = bipolar(x, "BipolarQuant_in")
    widths = [36, 24, 16]
    for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
        w = g.node("BipolarQuant", [g.const(rng.uniform(-1, 1, (c_out, c_in)).astype(np.float32)),
                                    g.const(np.float32([1.0]))], name=f"W_{i}", domain=QONNX_DOMAIN)
        x = g.node("Gemm", [x, w], name=f"Gemm_{i}", transB=1)
        x = g.batch_norm(x, rng.normal(size=c_out), rng.normal(size=c_out), rng.normal(size=c_out) * 3,
                         rng.uniform(1, 8, c_out), name=f"BN_{i}")
        x = bipolar(x, f"Act_{i}")
    w = g.node("BipolarQuant", [g.const(rng.uniform(-1, 1, (10, 16)).astype(np.float32)),
                                g.const(np.float32([1.0]))], name="W_out", domain=QONNX_DOMAIN)
    x = g.node("Gemm", [x, w], name="Gemm_out", transB=1)
    x = g.node("Sub", [x, g.const(np.float32([0.8]))], name="Sub_1")
    x = g.node("Div", [x, g.const(np.float32([2.3]))], name="Div_1")
    x = g.node("Mul", [x, g.const(np.float32([-0.7]))], name="Mul_1")
    return g.build(g.node("Add", [x, g.const(np.float32([0.25]))], name="Add_0"))


def test_bnn_shaped_mlp_is_bit_exact_in_c_simulation(tmp_path):
    model = bnn_mlp()
    package = lower(model, "bnn_mlp")
    assert package.head.bias is not None
    convs = [layer for layer in package.layers if layer.op == "Conv"]
    assert [c.attrs["in_bits"] for c in convs] == [1, 1, 1] and convs[0].attrs["kernel"] == 6
    images = np.random.default_rng(3).integers(0, 256, (16, 6, 6, 1)).astype(np.uint8)
    images[0], images[1] = 0, 255
    # the package equals the graph (float logits through the host's head)
    logits = Reference(package).logits(images)
    for i in range(4):
        np.testing.assert_allclose(logits[i], run(model, images[i:i + 1].transpose(0, 3, 1, 2)
                                                  .astype(np.float32))[0], rtol=1e-5, atol=1e-5)
    folding = {"Thermometer_0": {"pe": 1}}
    for conv, (pe, simd) in zip(convs, [(4, 1), (2, 8), (5, 4)]):
        folding[conv.name] = {"pe": pe, "simd": simd}
    result = generated("bnn_mlp", package, folding)
    exe = compile_tb(result.out_dir, "test_bnn_mlp_tb")
    expected = write_data(tmp_path, package, images)
    proc, out = run_tb(exe, tmp_path)
    assert proc.returncode == 0 and "mismatches=0" in out and "WARNING" not in out, out
    np.testing.assert_array_equal(got(tmp_path, len(images)), expected)


def test_ternary_weights_are_refused_with_one_line_by_the_generator_and_the_estimate(tmp_path):
    """Conv `zeros` (Brevitas' 2-bit weights) runs in the numpy reference only: the generator and
    the estimate refuse it with the same line instead of pricing or emitting a wrong design."""
    from hls.codegen import generate
    from hls.codegen.dataflow import CodegenError
    from hls.perf.estimate import estimate, load_graph
    from hls.perf.opmodels import EstimateError
    from host.package import save

    g = GraphBuilder([1, 1, 4, 4])
    q = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")
    w = g.quant(g.const(np.array([[[[1.0, 0.0], [-1.0, 0.2]]]] * 4, np.float32)), 1.0, 2, signed=1, narrow=1,
                name="WQ")
    conv = g.node("Conv", [q, w], name="Conv_0", kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 0, 0], group=1,
                  dilations=[1, 1])
    package = lower(g.build(g.node("ReduceMean", [conv], axes=[2, 3], keepdims=0)), "ternary")
    save(package, tmp_path / "p")
    line = "layer 'Conv_0' (Conv): weights equal to 0 (`zeros`, e.g. ternary -1/0/+1) have no HLS path yet"
    with pytest.raises(CodegenError) as gen:
        generate(package, tmp_path / "hls", None)
    with pytest.raises(EstimateError) as est:
        estimate(load_graph(tmp_path / "p"), package=package)
    assert line in str(gen.value) and str(gen.value) == str(est.value)
