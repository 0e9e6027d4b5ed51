"""host.reference: the executor on the tiny package against a straightforward re-computation."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.ops import unpack_weights
from host.package import load, save
from host.reference import Reference, batch_starts, default_threads, main
from test_host_package import tiny_package


# -- a straightforward re-computation of tiny_package's graph, written without host.ops ----------

def slow_conv(codes, packed, kernel, stride, pad):
    """Per output pixel: the window gathered by index arithmetic, times the +-1 matrix."""
    n, h, w, c = codes.shape
    weights = np.unpackbits(packed, axis=1, bitorder="little")[:, :kernel * kernel * c]
    weights = weights.astype(np.int64) * 2 - 1
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad, c), np.int64)
    padded[:, pad:pad + h, pad:pad + w] = codes
    ho, wo = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
    out = np.zeros((n, ho, wo, weights.shape[0]), np.int64)
    for y in range(ho):
        for x in range(wo):
            window = padded[:, y * stride:y * stride + kernel, x * stride:x * stride + kernel, :]
            out[:, y, x, :] = window.reshape(n, -1) @ weights.T
    return out


def slow_threshold(acc, thresholds, direction):
    seen = acc * direction.astype(np.int64)
    return (seen[..., None] >= thresholds).sum(axis=-1)


def recompute(package, images):
    p = package.params
    k = package.layer("embed").operator.k
    pixels = np.repeat(images.astype(np.int64), k, axis=3)
    embed = (pixels[..., None] >= p["embed.thresholds"]).sum(axis=-1)
    c1 = slow_threshold(slow_conv(embed, p["c1.weights"], 3, 2, 1), p["c1.thresholds"], p["c1.direction"])
    res = slow_conv(c1, p["c2.weights"], 3, 1, 1) + slow_conv(c1, p["short.weights"], 1, 1, 0)
    act = slow_threshold(res, p["act.thresholds"], p["act.direction"])
    n, h, w, c = act.shape
    pooled = act.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
    return slow_conv(pooled, p["cls.weights"], 1, 1, 0).sum(axis=(1, 2))


def random_images(seed, n, shape=(8, 8, 2)):
    return np.random.default_rng(seed).integers(0, 256, (n,) + shape, dtype=np.uint8)


# -- tests --------------------------------------------------------------------------------------

@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_class_sums_match_the_recomputation(seed):
    package = tiny_package(seed)
    images = random_images(seed, 5)
    images[0] = 0
    images[1] = 255
    sums = Reference(package).class_sums(images)
    assert sums.dtype == np.int64 and sums.shape == (5, 4)
    np.testing.assert_array_equal(sums, recompute(package, images))


def test_saved_and_loaded_package_gives_the_same_sums(tmp_path):
    package = tiny_package(3)
    images = random_images(3, 6)
    loaded = load(save(package, tmp_path / "p"))
    np.testing.assert_array_equal(Reference(loaded).class_sums(images), recompute(package, images))


def test_batch_size_does_not_change_the_result():
    reference = Reference(tiny_package(4))
    images = random_images(4, 7)
    whole = reference.class_sums(images, batch_size=64)
    for batch_size in (1, 3, 7):
        np.testing.assert_array_equal(reference.class_sums(images, batch_size=batch_size), whole)
    np.testing.assert_array_equal(Reference(tiny_package(4), batch_size=2).class_sums(images), whole)



@pytest.mark.parametrize("count", [1, 2, 5, 13, 64, 129])
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_threads_do_not_change_the_class_sums(count, batch_size):
    package = tiny_package(8)
    images = random_images(8, count)
    one = Reference(package, batch_size=batch_size, threads=1).class_sums(images)
    np.testing.assert_array_equal(one, recompute(package, images))
    for threads in (2, 3):
        np.testing.assert_array_equal(
            Reference(package, batch_size=batch_size, threads=threads).class_sums(images), one)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 40))
def test_threaded_class_sums_match_the_recomputation(seed, count):
    package = tiny_package(seed)
    images = random_images(seed, count)
    np.testing.assert_array_equal(Reference(package, batch_size=4, threads=2).class_sums(images),
                                  recompute(package, images))


def test_threaded_trace_and_golden_ops_match_one_thread():
    package = tiny_package(9)
    images = random_images(9, 11)
    one = Reference(package, batch_size=2, threads=1).trace(images)
    two = Reference(package, batch_size=2, threads=2).trace(images)
    assert set(one) == set(two)
    for name in one:
        np.testing.assert_array_equal(two[name], one[name], err_msg=name)
    np.testing.assert_array_equal(Reference(package, batch_size=3, fast=False, threads=2).class_sums(images),
                                  recompute(package, images))


@pytest.mark.parametrize("count, batch_size, threads, sizes", [
    (0, 64, 2, [0]),              # one empty batch: the results keep their shapes
    (1, 64, 2, [1]),
    (5, 64, 2, [3, 2]),           # smaller batches, so that both threads get one
    (7, 2, 2, [2, 2, 2, 1]),
    (500, 64, 2, [64] * 7 + [52]),
    (130, 64, 1, [64, 64, 2]),
])
def test_batch_starts_cover_every_image_once(count, batch_size, threads, sizes):
    starts = batch_starts(count, batch_size, threads)
    assert [len(range(count)[a:a + starts.step]) for a in starts] == sizes


def test_threads_default_to_omp_num_threads_else_the_usable_cores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3 and Reference(tiny_package()).threads == 3
    for unset in ("", "0", "x"):
        monkeypatch.setenv("OMP_NUM_THREADS", unset)
        assert default_threads() >= 1
    with pytest.raises(ValueError, match="threads must be >= 1"):
        Reference(tiny_package(), threads=0)

def test_trace_gives_every_stream_within_its_declared_width():
    package = tiny_package(5)
    images = np.concatenate([random_images(5, 4), np.zeros((1, 8, 8, 2), np.uint8),
                             np.full((1, 8, 8, 2), 255, np.uint8)])
    streams = Reference(package, batch_size=4).trace(images)
    assert set(streams) == set(package.streams)
    for name, declared in package.streams.items():
        value = streams[name]
        assert value.shape == (len(images),) + declared.shape, name
        assert declared.min <= value.min() and value.max() <= declared.max, name
    np.testing.assert_array_equal(streams[package.output].reshape(len(images), -1),
                                  recompute(package, images))


def test_logits_and_predictions_apply_the_head():
    package = tiny_package(6)
    reference = Reference(package)
    images = random_images(6, 8)
    sums = reference.class_sums(images)
    logits = reference.logits(images)
    expected = sums * package.head_scale.astype(np.float64) / package.head.divisor
    np.testing.assert_allclose(logits, expected, rtol=1e-12)
    np.testing.assert_array_equal(reference.predict(images), np.argmax(expected, axis=1))


def test_an_empty_batch_gives_empty_results():
    reference = Reference(tiny_package())
    assert reference.class_sums(np.zeros((0, 8, 8, 2), np.uint8)).shape == (0, 4)
    assert reference.predict(np.zeros((0, 8, 8, 2), np.uint8)).shape == (0,)


@pytest.mark.parametrize("images, got", [
    (np.zeros((2, 8, 8, 2), np.float32), "got float32 array of shape (2, 8, 8, 2)"),
    (np.zeros((8, 8, 2), np.uint8), "got uint8 array of shape (8, 8, 2)"),
    (np.zeros((2, 8, 8, 3), np.uint8), "got uint8 array of shape (2, 8, 8, 3)"),
    ([[1, 2]], "got list"),
])
def test_wrong_images_give_one_line_naming_expected_and_got(images, got):
    with pytest.raises(ValueError) as caught:
        Reference(tiny_package()).predict(images)
    message = str(caught.value)
    assert "\n" not in message
    assert "expected a uint8 array of shape (N, 8, 8, 2)" in message and got in message


def test_unpacked_weights_agree_with_the_recomputations_unpacking():
    packed = tiny_package().params["c2.weights"]
    bits = np.unpackbits(packed, axis=1, bitorder="little")[:, :72].astype(np.int64) * 2 - 1
    np.testing.assert_array_equal(unpack_weights(packed, 72), bits)


def test_cli_prints_throughput_and_top1(tmp_path, capsys):
    package = tiny_package(7)
    folder = save(package, tmp_path / "p")
    images = random_images(7, 10)
    labels = Reference(package).predict(images)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", labels)
    out = tmp_path / "out.npz"
    assert main(["--package", str(folder), "--images", str(tmp_path / "x.npy"),
                 "--labels", str(tmp_path / "y.npy"), "--batch-size", "4", "--save", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("images=10 seconds=") and line.endswith("top1=100.00")
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["predictions"], labels)


def test_cli_reports_a_bad_package_in_one_line(tmp_path, capsys):
    np.save(tmp_path / "x.npy", random_images(0, 1))
    assert main(["--package", str(tmp_path / "missing"), "--images", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reference: error: ") and "model.json: no such file" in err and "\n" not in err
