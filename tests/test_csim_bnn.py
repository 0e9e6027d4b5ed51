"""A bnn_pynq-shaped MLP (x / 255, `2x - 1`, BipolarQuant input on a flattened 6 x 6 image,
binary FCs, BN + bipolar activations, a TensorNorm head) lowered by hls.lower and C-simulated
through the generated HLS C++: bit-exact class sums against host.reference (the offsets of the
bipolar codes live in the thresholds and the host's head bias, so the accelerator is the
existing unsigned dataflow)."""
import numpy as np
import pytest

from hls.lower import lower
from host.reference import Reference
from lower_helpers import GraphBuilder, QONNX_DOMAIN, run, ternary_cnn
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
    # the flattened image is the input (the same bytes); the first FC is a 1 x 1 conv on it
    assert [c.attrs["in_bits"] for c in convs] == [1, 1, 1] and convs[0].attrs["kernel"] == 1
    assert package.input_shape == (1, 1, 36)
    images = np.random.default_rng(3).integers(0, 256, (16, 6, 6, 1)).astype(np.uint8)
    images[0], images[1] = 0, 255
    # the package equals the graph (float logits through the host's head)
    logits = Reference(package).logits(images)
    for i in range(4):
        np.testing.assert_allclose(logits[i], run(model, images[i:i + 1].transpose(0, 3, 1, 2)
                                                  .astype(np.float32))[0], rtol=1e-5, atol=1e-5)
    # the pixel vector in folds of 4 bytes (AXI adapter, Thermometer), 12 per beat into the FC
    folding = {"Thermometer_0": {"pe": 4}}
    for conv, (pe, simd) in zip(convs, [(4, 12), (2, 8), (5, 4)]):
        folding[conv.name] = {"pe": pe, "simd": simd}
    result = generated("bnn_mlp", package, folding)
    exe = compile_tb(result.out_dir, "test_bnn_mlp_tb")
    expected = write_data(tmp_path, package, images)
    proc, out = run_tb(exe, tmp_path)
    assert proc.returncode == 0 and "mismatches=0" in out and "WARNING" not in out, out
    np.testing.assert_array_equal(got(tmp_path, len(images)), expected)


def test_ternary_weights_are_bit_exact_in_c_simulation_and_priced_with_their_mask(tmp_path):
    """Conv `zeros` (Brevitas' 2-bit weights): the generator writes the nonzero mask beside the
    sign plane (hls/lib/mvu.h ZEROS), the C-simulation equals host.reference, and the estimate
    stores the same 2 fields per weight."""
    from hls.perf.estimate import estimate, load_graph
    from host.package import save

    package = lower(ternary_cnn(), "ternary")
    convs = [layer for layer in package.layers if layer.op == "Conv"]
    assert [c.attrs.get("zeros") for c in convs] == [1, 1]
    assert all(0 < np.mean(c.operator.weight_matrix(package.layer_params(c)) == 0) < 1 for c in convs)
    folding = {convs[0].name: {"pe": 4, "simd": 1}, convs[1].name: {"pe": 2, "simd": 2, "out_pe": 1}}
    result = generated("ternary", package, folding)
    assert (result.out_dir / "ern_top.cpp").read_text().count("/*ZEROS*/ true") == 2
    exe = compile_tb(result.out_dir, "test_ternary_tb")
    images = np.random.default_rng(4).integers(0, 256, (16, 6, 6, 1)).astype(np.uint8)
    expected = write_data(tmp_path, package, images)
    proc, out = run_tb(exe, tmp_path)
    assert proc.returncode == 0 and "mismatches=0" in out and "WARNING" not in out, out
    np.testing.assert_array_equal(got(tmp_path, len(images)), expected)

    save(package, tmp_path / "p")
    design = estimate(load_graph(tmp_path / "p"), package=package)
    for conv in convs:   # a sign plane and the nonzero mask per weight
        layer = next(l for l in design.layers if l["name"] == conv.name)
        assert layer["weight_bits"] == 2 * conv.attrs["cols"] * len(conv.operator.weight_matrix(
            package.layer_params(conv)))
