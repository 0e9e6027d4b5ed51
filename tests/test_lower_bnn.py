"""brevitas_examples.bnn_pynq's 11 configs (training.models.BNN_PYNQ: CNV, LFC, SFC, TFC x 1W1A /
1W2A / 2W2A), random init with BN and TensorNorm in a random state: each exports, lowers, and
the numpy reference equals the exported graph stream by stream and Brevitas class sum by class
sum on a few random images."""
import numpy as np
import pytest

from bnn_helpers import bnn_model, input_size, random_images
from hls.lower import lower
from host.reference import Reference
from lower_helpers import brevitas_logits, compare_streams, export_fast
from training.models import BNN_PYNQ

IMAGES = 4


@pytest.fixture(scope="module", params=sorted(BNN_PYNQ))
def lowered(request, tmp_path_factory):
    name = request.param
    model = bnn_model(name, seed=3)
    c, h, w = input_size(name)
    qonnx = export_fast(model, c, h, w, tmp_path_factory.mktemp(name) / "model.onnx")
    report = {}
    package = lower(qonnx, name, report)
    return name, model, qonnx, package, report


def test_streams_equal_the_exported_graph(lowered):
    name, _, qonnx, package, report = lowered
    images = random_images(name, IMAGES, seed=5).transpose(0, 2, 3, 1)
    trace = Reference(package).trace(np.ascontiguousarray(images))
    result = compare_streams(qonnx, report, trace, images)
    assert len(result) >= 4
    bad = {s: r for s, r in result.items() if r[0]}
    assert not bad, bad
    # the random BN state gives every thresholded stream more than one code (else equality is cheap)
    for layer in package.layers:
        if layer.op in ("Threshold", "Thermometer") or layer.attrs.get("output") == "threshold":
            assert len(np.unique(trace[layer.outputs[0]])) > 1, layer.name


def test_class_sums_equal_brevitas(lowered):
    name, model, _, package, _ = lowered
    images = random_images(name, IMAGES, seed=7).transpose(0, 2, 3, 1)
    reference = Reference(package)
    sums = reference.class_sums(np.ascontiguousarray(images))
    logits = brevitas_logits(model, images).astype(np.float64)
    implied = (logits - package.head_bias) * package.head.divisor / package.head_scale.astype(np.float64)
    np.testing.assert_allclose(implied, sums, atol=1e-3, rtol=0)
    np.testing.assert_allclose(reference.logits_from_sums(sums), logits, rtol=1e-4, atol=1e-4)
    assert len(np.unique(sums)) > 2


def test_constructs(lowered):
    """What each config exercises: bipolar codes are 1 bit, ternary weights carry a mask, the
    TensorNorm head is a bias, MLPs take the flattened pixel vector (1 x 1 x 784: the same bytes
    as the 28 x 28 x 1 image) and their first FC reads it as a 1 x 1 conv, several pixels a beat."""
    name, _, _, package, _ = lowered
    convs = [layer for layer in package.layers if layer.op == "Conv"]
    assert package.head.bias is not None
    weights, acts = name.split("_w")[1].split("a")
    assert all(bool(layer.attrs.get("zeros")) == (weights == "2") for layer in convs[1:])
    inner = [layer.attrs["in_bits"] for layer in convs[1:]]
    assert set(inner) == ({1} if acts == "1" else {2})
    if "_cnv_" in name:
        assert convs[0].attrs["in_bits"] == 8
    else:
        assert convs[0].attrs["kernel"] == 1 and package.input_shape == (1, 1, 784)
        assert package.layers[0].op == "Thermometer" and list(package.layers[0].inputs) == [package.input]


def test_cnv_on_28_x_28_single_channel_images(tmp_path):
    """The zoo's CNV on Fashion-MNIST-shaped input: the wrapper zero-pads the pixels to 32 x 32 and
    repeats the channel; the border becomes the first conv's padding of code 0."""
    from bnn_helpers import randomize_norms
    from training.models import build_model
    import torch
    torch.manual_seed(1)
    model = randomize_norms(build_model("bnn_cnv_w1a2", 1, 10), 2).eval()
    qonnx = export_fast(model, 1, 28, 28, tmp_path / "model.onnx")
    report = {}
    package = lower(qonnx, "bnn_cnv_w1a2", report)
    first = [layer for layer in package.layers if layer.op == "Conv"][0]
    assert first.attrs["pad"] == 2 and package.input_shape == (28, 28, 1)
    images = np.random.default_rng(3).integers(0, 256, (3, 28, 28, 1)).astype(np.uint8)
    reference = Reference(package)
    bad = {s: r for s, r in compare_streams(qonnx, report, reference.trace(images), images).items() if r[0]}
    assert not bad, bad
    sums = reference.class_sums(images)
    implied = (brevitas_logits(model, images) - package.head_bias) * package.head.divisor \
        / package.head_scale.astype(np.float64)
    np.testing.assert_allclose(implied, sums, atol=1e-3, rtol=0)
