"""host.package: schema, save/load, determinism, stream widths and every validation error."""
import json
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host import package as pkg
from host.ops import pack_weights
from host.package import Package, PackageBuilder, PackageError, bits_for_range, load, save


# -- the tiny package (also used by test_host_reference and test_board_import) -------------------

def conv_attrs(kernel, stride, pad, cols, out_bits=None):
    attrs = dict(kernel=kernel, stride=stride, pad=pad, in_bits=2, weight_bits=1, cols=cols,
                 output="threshold" if out_bits else "accumulator")
    if out_bits:
        attrs["out_bits"] = out_bits
    return attrs


def tiny_package(seed: int = 0, channels: int = 2, size: int = 8) -> Package:
    """thermometer -> conv threshold -> duplicate -> (conv 3x3 acc, conv 1x1 acc) -> add ->
    threshold -> max pool -> conv acc (4 classes) -> global sum, with random params."""
    rng = np.random.default_rng(seed)

    def thresholds(rows, lo, hi):
        return np.sort(rng.integers(lo, hi, (rows, 3)), axis=1).astype(np.int32)

    def weights(c_out, cols):
        return pack_weights(rng.choice(np.array([-1, 1], np.int8), (c_out, cols)))

    def direction(rows):
        return rng.choice(np.array([-1, 1], np.int8), rows)

    k, width = 3, 8
    b = PackageBuilder("tiny", (size, size, channels))
    b.add("embed", "Thermometer", ["in0"], {"k": k, "out_bits": 2},
          {"thresholds": thresholds(channels * k, 0, 256)})
    b.add("c1", "Conv", ["embed"], conv_attrs(3, 2, 1, 9 * channels * k, out_bits=2),
          {"weights": weights(width, 9 * channels * k), "thresholds": thresholds(width, -12, 12),
           "direction": direction(width)})
    b.add("fork", "Duplicate", ["c1"], outputs=["f0", "f1"])
    b.add("c2", "Conv", ["f0"], conv_attrs(3, 1, 1, 9 * width), {"weights": weights(width, 9 * width)})
    b.add("short", "Conv", ["f1"], conv_attrs(1, 1, 0, width), {"weights": weights(width, width)})
    b.add("res", "Add", ["c2", "short"])
    b.add("act", "Threshold", ["res"], {"out_bits": 2},
          {"thresholds": thresholds(width, -25, 25), "direction": direction(width)})
    b.add("pool", "MaxPool", ["act"], {"kernel": 2, "stride": 2})
    b.add("cls", "Conv", ["pool"], conv_attrs(1, 1, 0, width), {"weights": weights(4, width)})
    b.add("sum", "GlobalSum", ["cls"])
    pooled = (size // 2) // 2
    return b.build("sum", head_scale=rng.uniform(0.5, 2.0, 4), divisor=pooled * pooled)


def write_raw(folder, doc, params):
    """Write a package without validating it (as a buggy tool would)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps(doc))
    np.savez(folder / "params.npz", **params)
    return folder


def layer_doc(doc, name):
    return next(layer for layer in doc["layers"] if layer["name"] == name)


# -- round trip ---------------------------------------------------------------------------------

def test_save_load_roundtrip(tmp_path):
    package = tiny_package()
    loaded = load(save(package, tmp_path / "p"))
    assert loaded.to_json() == package.to_json()
    assert loaded.params.keys() == package.params.keys()
    for key, value in package.params.items():
        assert loaded.params[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded.params[key], value)
    assert [layer.operator for layer in loaded.layers] == [layer.operator for layer in package.layers]


def test_save_is_deterministic_and_sorted(tmp_path):
    package = tiny_package()
    first, second = save(package, tmp_path / "a"), save(load(save(package, tmp_path / "b")), tmp_path / "c")
    for name in ("model.json", "params.npz"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    text = (first / "model.json").read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert not list(first.glob("*.partial"))


def test_builder_derives_stream_widths_from_bounds():
    package = tiny_package()
    streams = package.streams
    assert streams["in0"].bits == 8 and not streams["in0"].signed
    assert (streams["embed"].bits, streams["embed"].signed, streams["embed"].shape) == (2, False, (8, 8, 6))
    assert streams["c1"].shape == (4, 4, 8) and streams["c1"].bits == 2
    for name in ("c2", "short", "res", "cls", "sum"):
        assert streams[name].signed and (streams[name].bits, True) == bits_for_range(
            streams[name].min, streams[name].max)
    assert streams["res"].min == streams["c2"].min + streams["short"].min
    assert streams["sum"].max == 4 * streams["cls"].max
    assert package.classes == 4 and package.head.divisor == 4


def test_hand_written_model_json_in_the_documented_form_loads(tmp_path):
    # The FORMAT.md form, written by hand; declared bounds may be looser than the op's own.
    (tmp_path / "model.json").write_text(textwrap.dedent("""\
        {
          "format_version": 1, "model": "hand", "input": "in0", "output": "sums", "classes": 2,
          "head": {"scale": "head.scale", "divisor": 16},
          "streams": {
            "in0":   {"shape": [4, 4, 1], "signed": false, "bits": 8, "min": 0, "max": 255},
            "codes": {"shape": [4, 4, 2], "signed": false, "bits": 2, "min": 0, "max": 3},
            "acc":   {"shape": [4, 4, 2], "signed": true, "bits": 7, "min": -54, "max": 54},
            "sums":  {"shape": [1, 1, 2], "signed": true, "bits": 11, "min": -864, "max": 864}
          },
          "layers": [
            {"name": "embed", "op": "Thermometer", "inputs": ["in0"], "outputs": ["codes"],
             "k": 2, "out_bits": 2},
            {"name": "conv", "op": "Conv", "inputs": ["codes"], "outputs": ["acc"], "kernel": 3,
             "stride": 1, "pad": 1, "in_bits": 2, "weight_bits": 1, "cols": 18,
             "output": "accumulator"},
            {"name": "pool", "op": "GlobalSum", "inputs": ["acc"], "outputs": ["sums"]}
          ]
        }"""))
    np.savez(tmp_path / "params.npz", **{
        "embed.thresholds": np.array([[10, 20, 30], [40, 50, 60]], np.int32),
        "conv.weights": pack_weights(np.ones((2, 18), np.int8)),
        "head.scale": np.array([1.0, 0.5], np.float32)})
    package = load(tmp_path)
    assert [layer.op for layer in package.layers] == ["Thermometer", "Conv", "GlobalSum"]
    assert package.layer("conv").operator.kernel == 3


# -- stream widths ------------------------------------------------------------------------------

@pytest.mark.parametrize("lo, hi, expected", [
    (0, 0, (1, False)), (0, 1, (1, False)), (0, 3, (2, False)), (0, 255, (8, False)),
    (0, 256, (9, False)), (-1, 0, (1, True)), (-1, 1, (2, True)), (-128, 127, (8, True)),
    (-129, 0, (9, True)), (-5, 128, (9, True)), (-2 ** 40, 0, (41, True))])
def test_bits_for_range_examples(lo, hi, expected):
    assert bits_for_range(lo, hi) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(-2 ** 40, 2 ** 40), st.integers(0, 2 ** 40))
def test_bits_for_range_is_the_smallest_width_that_holds_the_range(lo, span):
    hi = lo + span
    bits, signed = bits_for_range(lo, hi)
    low, high = pkg.range_of_bits(bits, signed)
    assert low <= lo and hi <= high
    assert signed == (lo < 0)
    if bits > 1:
        low, high = pkg.range_of_bits(bits - 1, signed)
        assert lo < low or hi > high


# -- validation: every invariant, one line, naming the layer --------------------------------------

def _set_stream(doc, name, lo, hi):
    bits, signed = bits_for_range(lo, hi)
    doc["streams"][name].update(min=lo, max=hi, bits=bits, signed=signed)


def _reverse_row(params, key, row):
    params[key] = params[key].copy()
    params[key][row] = params[key][row][::-1] - np.arange(3)  # strictly descending


def _set_value(params, key, index, value):
    params[key] = params[key].copy()
    params[key][index] = value


def _extra_output(doc, params):
    layer_doc(doc, "fork")["outputs"].append("f2")
    doc["streams"]["f2"] = doc["streams"]["f0"]


def _add_shape_mismatch(doc, params):
    layer_doc(doc, "short")["stride"] = 2
    doc["streams"]["short"]["shape"] = [2, 2, 8]


def _move_layer_first(doc, name):
    doc["layers"].insert(0, doc["layers"].pop(doc["layers"].index(layer_doc(doc, name))))


INVALID = [
    # (id, mutation of (doc, params), the words the message must contain)
    ("unknown op", lambda d, p: layer_doc(d, "c2").update(op="Conv2d"),
     ["layer 'c2' (Conv2d)", "unknown op 'Conv2d'", "supported: Add, Conv"]),
    ("missing attribute", lambda d, p: layer_doc(d, "c1").pop("stride"),
     ["layer 'c1' (Conv)", "missing attribute 'stride'"]),
    ("unknown attribute", lambda d, p: layer_doc(d, "pool").update(strdie=2),
     ["layer 'pool' (MaxPool)", "unknown attribute 'strdie'"]),
    ("attribute type", lambda d, p: layer_doc(d, "embed").update(k="3"),
     ["layer 'embed' (Thermometer)", "'k' must be an integer"]),
    ("unsupported weight bits", lambda d, p: layer_doc(d, "c2").update(weight_bits=4),
     ["layer 'c2' (Conv)", "weight_bits=4 must be <= 3"]),
    ("2-bit weights without their second plane", lambda d, p: layer_doc(d, "c2").update(weight_bits=2),
     ["layer 'c2' (Conv)", "weight_planes"]),
    ("threshold conv without out_bits", lambda d, p: layer_doc(d, "c1").pop("out_bits"),
     ["layer 'c1' (Conv)", "missing attribute 'out_bits'"]),
    ("cols disagree with the kernel", lambda d, p: layer_doc(d, "c2").update(cols=71),
     ["layer 'c2' (Conv)", "cols=71", "needs 72"]),
    ("input wider than in_bits", lambda d, p: layer_doc(d, "c2").update(in_bits=1),
     ["layer 'c2' (Conv)", "holds [0, 3]", "1-bit codes"]),
    ("duplicate with one output", lambda d, p: layer_doc(d, "fork").update(outputs=["f0"]),
     ["layer 'fork' (Duplicate)", "2 or more outputs"]),
    ("param shape", lambda d, p: p.update({"c1.thresholds": p["c1.thresholds"][:, :2].copy()}),
     ["layer 'c1' (Conv)", "'c1.thresholds' is int32 [8, 2], expected int32 [8, 3]"]),
    ("param dtype", lambda d, p: p.update({"c2.weights": p["c2.weights"].astype(np.int32)}),
     ["layer 'c2' (Conv)", "'c2.weights' is int32", "expected uint8"]),
    ("missing param", lambda d, p: p.pop("act.direction"),
     ["layer 'act' (Threshold)", "'act.direction' missing from params.npz"]),
    ("unused param", lambda d, p: p.update({"c9.weights": p["c2.weights"]}),
     ["params.npz", "'c9.weights' belongs to no layer"]),
    ("thresholds not ascending", lambda d, p: _reverse_row(p, "act.thresholds", 2),
     ["layer 'act' (Threshold)", "thresholds row 2 is not ascending"]),
    ("bad direction", lambda d, p: _set_value(p, "c1.direction", 1, 0),
     ["layer 'c1' (Conv)", "direction[1] = 0, must be +1 or -1"]),
    ("two consumers", lambda d, p: layer_doc(d, "short").update(inputs=["f0"]),
     ["layer 'short' (Conv)", "'f0' is already consumed by layer 'c2'", "Duplicate"]),
    ("two producers", lambda d, p: layer_doc(d, "short").update(outputs=["c2"]),
     ["layer 'short' (Conv)", "'c2' is already produced by layer 'c2'"]),
    ("no consumer", _extra_output, ["stream 'f2'", "produced by layer 'fork'", "no consumer"]),
    ("undeclared stream", lambda d, p: layer_doc(d, "res").update(inputs=["c2", "ghost"]),
     ["layer 'res' (Add)", "'ghost' is not declared"]),
    ("not topological", lambda d, p: _move_layer_first(d, "res"),
     ["layer 'res' (Add)", "not produced by an earlier layer", "topological"]),
    ("shape rule", lambda d, p: d["streams"]["c2"].update(shape=[3, 4, 8]),
     ["layer 'c2' (Conv)", "'c2' has shape [3, 4, 8], the op gives [4, 4, 8]"]),
    ("add of different shapes", _add_shape_mismatch,
     ["layer 'res' (Add)", "different shapes [4, 4, 8] and [2, 2, 8]"]),
    ("bounds too narrow", lambda d, p: _set_stream(d, "res", -10, 10),
     ["layer 'res' (Add)", "declares [-10, 10]", "could overflow"]),
    ("bits disagree with bounds", lambda d, p: d["streams"]["c2"].update(bits=12),
     ["stream 'c2'", "bits=12", "needs bits="]),
    ("format version", lambda d, p: d.update(format_version=2),
     ["model.json", "format_version 2 is not supported"]),
    ("unknown top-level key", lambda d, p: d.update(clases=4), ["model.json", "unknown key 'clases'"]),
    ("layer without op", lambda d, p: layer_doc(d, "c2").pop("op"),
     ["layers[3]", "('c2')", "missing key 'op'"]),
    ("duplicate layer name", lambda d, p: layer_doc(d, "short").update(name="c2"),
     ["layer 'c2' (Conv)", "already exists"]),
    ("classes disagree with the output", lambda d, p: d.update(classes=7),
     ["output stream 'sum'", "expected [1, 1, 7]"]),
    ("head scale shape", lambda d, p: p.update({"head.scale": np.ones(3, np.float32)}),
     ["head", "'head.scale' must be float (4,)"]),
    ("input not uint8", lambda d, p: _set_stream(d, "in0", 0, 127), ["input stream 'in0'", "uint8"]),
    ("graph output undeclared", lambda d, p: d.update(output="nope"), ["'nope'", "not declared"]),
]


@pytest.mark.parametrize("mutate, words", [case[1:] for case in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_package_stops_with_one_line_naming_the_problem(tmp_path, mutate, words):
    package = tiny_package()
    doc, params = package.to_json(), dict(package.params)
    mutate(doc, params)
    folder = write_raw(tmp_path / "broken", doc, params)
    with pytest.raises(PackageError) as caught:
        load(folder)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(folder))
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_malformed_json_is_one_line(tmp_path):
    package = tiny_package()
    folder = save(package, tmp_path / "p")
    text = (folder / "model.json").read_text()
    (folder / "model.json").write_text(text[: len(text) // 2])
    with pytest.raises(PackageError, match=r"model.json: not valid JSON \(truncated\?\)") as caught:
        load(folder)
    assert "\n" not in str(caught.value)


def test_truncated_npz_is_one_line(tmp_path):
    folder = save(tiny_package(), tmp_path / "p")
    data = (folder / "params.npz").read_bytes()
    (folder / "params.npz").write_bytes(data[: len(data) - 100])
    with pytest.raises(PackageError, match=r"params.npz: not a readable .npz") as caught:
        load(folder)
    assert "\n" not in str(caught.value)


def test_npz_with_a_damaged_entry_is_one_line(tmp_path):
    folder = save(tiny_package(), tmp_path / "p")
    data = bytearray((folder / "params.npz").read_bytes())
    data[200:260] = b"\xff" * 60  # inside the first array's bytes: the CRC no longer matches
    (folder / "params.npz").write_bytes(bytes(data))
    with pytest.raises(PackageError, match=r"params.npz: not a readable .npz"):
        load(folder)


@pytest.mark.parametrize("missing", ["model.json", "params.npz"])
def test_missing_file(tmp_path, missing):
    folder = save(tiny_package(), tmp_path / "p")
    (folder / missing).unlink()
    with pytest.raises(PackageError, match=f"{missing}: no such file"):
        load(folder)


def test_package_error_is_a_value_error_and_always_one_line():
    assert issubclass(PackageError, ValueError)
    assert str(PackageError("a\nb  c")) == "a b c"


def test_building_validates_too():
    # The builder and direct construction fail at once, naming the layer: not at execution.
    b = PackageBuilder("bad", (4, 4, 1))
    with pytest.raises(PackageError, match="layer 'c' \\(Conv\\): missing attribute 'stride'"):
        b.add("c", "Conv", ["in0"], {"kernel": 1})
    package = tiny_package()
    params = dict(package.params)
    params["act.thresholds"] = params["act.thresholds"][:, ::-1].copy()
    with pytest.raises(PackageError, match="layer 'act' \\(Threshold\\): thresholds row 0"):
        Package(package.model, package.input, package.output, package.classes, package.head,
                package.streams, package.layers, params)


def test_save_refuses_a_package_broken_after_it_was_built(tmp_path):
    package = tiny_package()
    package.params["c1.direction"] = np.zeros(8, np.int8)
    with pytest.raises(PackageError, match="layer 'c1'"):
        save(package, tmp_path / "p")
    assert not (tmp_path / "p" / "model.json").exists()


def test_fit_input_takes_images_for_a_flattened_input():
    """A flattened input (an MLP's 1 x 1 x 784) takes N x 28 x 28 x 1 images as the same bytes;
    every other shape passes unchanged (the callers name what they expected)."""
    from host.datasets import dataset_for_shape
    from host.package import fit_input
    images = np.arange(2 * 28 * 28, dtype=np.int64).astype(np.uint8).reshape(2, 28, 28, 1)
    flat = fit_input(images, (1, 1, 784))
    assert flat.shape == (2, 1, 1, 784) and flat.tobytes() == images.tobytes()
    assert fit_input(images, (28, 28, 1)) is images
    assert fit_input(images, (1, 1, 700)) is images
    rgb = np.zeros((2, 16, 16, 3), np.uint8)
    assert fit_input(rgb, (1, 1, 768)) is rgb          # only one-channel images flatten
    assert dataset_for_shape((1, 1, 784)) == dataset_for_shape((28, 28, 1)) == "fashion_mnist"
