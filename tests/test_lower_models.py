"""Brevitas models through export and lowering: every stream against qonnx's execute_onnx of the
cleaned graph, and the class sums against the Brevitas model's logits over random small ERNs."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qonnx.core.modelwrapper import ModelWrapper

from hls.lower import lower
from host.reference import Reference
from lower_helpers import brevitas_logits, compare_streams, export_fast, randomize_batch_norms
from training.models import ERN, ERNConfig, build_model


def random_images(n, h, w, c, seed=0):
    images = np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)
    images[0] = 0        # a black image: every thermometer code 0
    images[-1, ::2] = 255  # saturated rows: the top codes
    return images


@pytest.fixture(scope="module", params=["ern_tiny", "cnv_w1a2", "ern_tiny_mixed", "ern_tiny_w1p4a2", "ern_tiny_w2a1"])
def exported(request, tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(request.param, 1, 10).eval()
    randomize_batch_norms(model, seed=1)
    path = tmp_path_factory.mktemp(request.param) / "model.onnx"
    wrapper = export_fast(model, 1, 28, 28, path)
    report = {}
    package = lower(wrapper, request.param, report)
    return model, wrapper, package, report


def test_every_stream_equals_the_cleaned_graph_tensor(exported):
    _, wrapper, package, report = exported
    images = random_images(3, 28, 28, 1)
    trace = Reference(package).trace(images)
    streams = set(report["streams"])
    # Every layer's output is traced to an ONNX tensor (Duplicate copies included).
    assert streams == {s for layer in package.layers for s in layer.outputs}
    result = compare_streams(wrapper, report, trace, images)
    bad = {s: r for s, r in result.items() if r[0]}
    assert not bad, bad


def test_class_sums_match_brevitas(exported):
    model, _, package, _ = exported
    images = random_images(32, 28, 28, 1, seed=3)
    reference = Reference(package)
    sums = reference.class_sums(images)
    logits = brevitas_logits(model, images)
    implied = logits * package.head.divisor / package.head_scale.astype(np.float64)
    np.testing.assert_allclose(implied, sums, atol=0.05)  # exact integers up to float rounding
    np.testing.assert_allclose(reference.logits(images), logits, rtol=1e-5, atol=1e-6 * np.abs(logits).max())


def test_every_value_lies_within_its_streams_declared_bounds(exported):
    _, _, package, _ = exported
    images = random_images(8, 28, 28, 1, seed=7)
    for name, values in Reference(package).trace(images).items():
        stream = package.streams[name]
        assert stream.min <= values.min() and values.max() <= stream.max, name
    codes = [s for s in package.streams.values() if not s.signed and s.max == 3]
    assert codes and all(s.bits == 2 for s in codes)


# -- the property: random small ERNs ---------------------------------------------------------------

@st.composite
def ern_configs(draw):
    widths = st.sampled_from([4, 8, 12])
    stem = draw(st.lists(st.tuples(widths, st.sampled_from([1, 2])), min_size=1, max_size=2))
    stages = draw(st.lists(st.tuples(widths, st.integers(1, 2), st.sampled_from([1, 2])), min_size=1, max_size=2))
    config = ERNConfig(stem_widths=tuple(w for w, _ in stem), stem_strides=tuple(s for _, s in stem),
                       stages=tuple(stages), block=draw(st.sampled_from(["basic", "bottleneck"])),
                       embed_k=draw(st.sampled_from([2, 5, 10])))
    return config, draw(st.sampled_from([1, 3])), draw(st.sampled_from([8, 12])), draw(st.integers(2, 5)), \
        draw(st.integers(0, 2 ** 16))


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ern_configs())
def test_random_erns_lower_exactly(tmp_path, case):
    config, channels, size, classes, seed = case
    torch.manual_seed(seed)
    model = ERN(config, channels, classes).eval()
    randomize_batch_norms(model, seed=seed + 1, negative=0.4)
    wrapper = export_fast(model, channels, size, size, tmp_path / "m.onnx")
    package = lower(wrapper, "random")
    images = random_images(6, size, size, channels, seed=seed)
    sums = Reference(package).class_sums(images)
    logits = brevitas_logits(model, images)
    implied = logits * package.head.divisor / package.head_scale.astype(np.float64)
    # The class sums are integers; Brevitas' logits are those times scale / divisor (float32).
    assert np.abs(implied - sums).max() < 0.05, (config, np.abs(implied - sums).max())


# -- the production export path (dynamo), as `make export` runs it --------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["ern_tiny", "cnv_w1a2"])
def test_production_export_lowers_and_matches(tmp_path, name):
    from training.export import export_qonnx
    torch.manual_seed(0)
    model = build_model(name, 1, 10).eval()
    randomize_batch_norms(model, seed=2)
    path = export_qonnx(model, 1, 28, 28, tmp_path / "model.onnx")
    report = {}
    package = lower(path, name, report)
    images = random_images(3, 28, 28, 1)
    result = compare_streams(ModelWrapper(str(path)), report, Reference(package).trace(images), images)
    assert not {s: r for s, r in result.items() if r[0]}
    logits = brevitas_logits(model, random_images(16, 28, 28, 1, seed=5))
    np.testing.assert_allclose(Reference(package).logits(random_images(16, 28, 28, 1, seed=5)), logits,
                               rtol=1e-5, atol=1e-6 * np.abs(logits).max())
