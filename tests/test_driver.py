"""host/driver.py: packing, input checks, interface.json, and the driver end to end on the
emulated device (host/emulation.py) — bit-exact against the numpy reference, every wait bounded."""
import json
import time

import numpy as np
import pytest

from host import emulation
from host.driver import (DriverError, ErnAccelerator, Interface, check_images, pack_images,
                         unpack_class_sums)
from host.reference import Reference
from test_host_package import tiny_package


@pytest.fixture(scope="module")
def package():
    return tiny_package(5)


@pytest.fixture(scope="module")
def images(package):
    return np.random.default_rng(5).integers(0, 256, (37,) + package.input_shape, dtype=np.uint8)


def stand_in(package, **driver_args):
    """The driver on an EmulatedDevice whose core is the numpy reference (same byte protocol)."""
    return emulation.open_emulated(package=package, hls_dir="/nonexistent", core="reference",
                                   **driver_args)


def emulated(core, iface, driver_iface=None, **driver_args):
    """The driver on an EmulatedDevice with any core function (words, frames) -> words."""
    device = emulation.EmulatedDevice(core, iface)
    return ErnAccelerator(str(device.placeholder_bitfile()), package_of(iface),
                          interface=driver_iface or iface, device=device, **driver_args)


def package_of(iface):
    """A tiny package with the interface's input shape (the driver only reads shape and head)."""
    return tiny_package(1, channels=iface.input_shape[2], size=iface.input_shape[0])


def zeros_core(iface):
    return lambda words, frames: np.zeros(frames * iface.out_words_per_frame, np.uint64)


# -- packing ------------------------------------------------------------------------------------

def test_pack_images_is_little_endian_bytes_with_each_frame_padded_to_whole_words():
    iface = Interface("m", (5, 5, 1), 3)  # 25 bytes -> 4 words of 8 bytes, 7 padding bytes
    assert (iface.in_words_per_frame, iface.in_frame_bytes) == (4, 32)
    images = np.arange(50, dtype=np.uint8).reshape(2, 5, 5, 1) + 1
    words = pack_images(images, iface)
    assert words.dtype == np.uint64 and words.shape == (8,)
    # byte i of a frame is byte lane i % 8 of word i // 8
    assert int(words[0]) == int.from_bytes(bytes(range(1, 9)), "little")
    assert int(words[3]) == 25  # byte 24 of frame 0, then zero padding
    assert int(words[4]) == int.from_bytes(bytes(range(26, 34)), "little")  # frame 1 on a new word


def test_pack_into_a_dirty_buffer_zeroes_the_padding():
    iface = Interface("m", (5, 5, 1), 3)
    buffer = np.full(8, np.uint64(2**64 - 1))
    pack_images(np.zeros((2, 5, 5, 1), np.uint8), iface, buffer)
    assert not buffer.any()


def test_unpack_class_sums_reads_signed_int32_lanes_two_per_word():
    iface = Interface("m", (5, 5, 1), 3)  # 3 classes -> 2 words per frame, last lane padding
    sums = np.array([[-1, 2**31 - 1, -(2**31)], [7, -8, 9]])
    lanes = np.zeros((2, 4), "<i4")
    lanes[:, :3] = sums
    lanes[:, 3] = 12345  # padding lane: ignored
    words = lanes.view(np.uint64).reshape(-1)
    assert words.shape == (4,)
    out = unpack_class_sums(words, iface, 2)
    assert out.dtype == np.int64 and np.array_equal(out, sums)


# -- input checks: one line each ----------------------------------------------------------------

@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 8, 8, 2), np.float32), "expected dtype uint8, got float32 (raw pixels"),
    (np.zeros((2, 8, 8, 3), np.uint8), "expected shape (N, 8, 8, 2) (channel-last), got (2, 8, 8, 3)"),
    (np.zeros((2, 2, 8, 8), np.uint8), "got (2, 2, 8, 8)"),
    (np.zeros((0, 8, 8, 2), np.uint8), "the batch is empty"),
    ([[1, 2]], "expected a numpy uint8 array of shape (N, 8, 8, 2), got list"),
])
def test_bad_images_give_one_line_errors(bad, message):
    with pytest.raises(ValueError) as e:
        check_images(bad, (8, 8, 2))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_single_image_is_a_batch_of_one():
    assert check_images(np.zeros((8, 8, 2), np.uint8), (8, 8, 2)).shape == (1, 8, 8, 2)


def test_driver_rejects_bad_images_before_touching_the_hardware(package):
    with stand_in(package) as accel:
        with pytest.raises(ValueError, match="expected dtype uint8, got float64"):
            accel.classify(np.zeros((1,) + package.input_shape))
        assert accel.device.hardware.runs == 0


# -- interface.json -----------------------------------------------------------------------------

def interface_doc(package):
    """interface.json as hls/codegen writes it (files.interface), for the tiny package."""
    from host.driver import package_digest
    return {"model": "tiny", "top": "ern_top", "vlnv": "ern:hls:ern_top:1.0", "clock_period_ns": 10,
            "input": {"port": "in_stream", "tdata_bits": 64, "shape": [8, 8, 2], "bytes_per_frame": 128,
                      "words_per_frame": 16},
            "output": {"port": "out_stream", "tdata_bits": 64, "classes": 4, "dtype": "int32",
                       "lanes_per_word": 2, "words_per_frame": 2},
            "control": {"registers": {"ap_ctrl": 0, "gie": 4, "ier": 8, "isr": 12, "frames": 16}},
            "package_sha256": package_digest(package)}


def test_interface_json_is_read_and_checked_against_the_package(tmp_path, package):
    path = tmp_path / "interface.json"
    doc = interface_doc(package)
    doc["control"]["registers"]["frames"] = 0x18
    path.write_text(json.dumps(doc))
    iface = Interface.load(path, package)
    assert (iface.vlnv, iface.frames_offset, iface.in_words_per_frame, iface.lane_bits,
            iface.clock_mhz) == ("ern:hls:ern_top:1.0", 0x18, 16, 32, 100.0)
    for key, value, message in [("output", {"words_per_frame": 3}, "output words_per_frame is 3"),
                                ("input", {"shape": [8, 8, 3]}, r"input shape is \[8, 8, 3\]"),
                                ("package_sha256", "ab" * 32, "generated from another model package")]:
        bad = interface_doc(package)
        bad[key] = dict(bad[key], **value) if isinstance(value, dict) else value
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=message):
            Interface.load(path, package)


def test_the_host_digest_is_the_generators(package):
    files = pytest.importorskip("hls.codegen.files")
    from host.driver import package_digest
    assert package_digest(package) == files.package_digest(package)


# -- the driver end to end (emulated device, reference stand-in core) ---------------------------

@pytest.mark.parametrize("batch_size", [1, 8, 64])
def test_driver_is_bit_exact_with_the_reference_for_any_batch_size(package, images, batch_size):
    ref = Reference(package)
    with stand_in(package, batch_size=batch_size) as accel:
        sums = accel.class_sums(images)
        labels, scores = accel.classify(images)
        runs = accel.device.hardware.runs
    assert np.array_equal(sums, ref.class_sums(images))
    assert np.array_equal(scores, ref.logits(images))  # head scale and divisor as the reference
    assert np.array_equal(labels, ref.predict(images))
    assert runs == 2 * -(-len(images) // batch_size)


def test_the_driver_goes_through_pynq_objects(package):
    import pynq
    from pynq.lib.dma import DMA
    with stand_in(package) as accel:
        assert isinstance(accel.overlay, pynq.Overlay)
        assert isinstance(accel.dma, DMA)
        assert isinstance(accel._in_buf, pynq.buffer.PynqBuffer)
        assert accel.backend == "emulation" and "EMULATION" in accel.describe()


def test_throughput_test_reports_like_finn_and_says_emulation(package):
    with stand_in(package, batch_size=16) as accel:
        report = accel.throughput_test(repeats=2)
    for key in ("runtime[ms]", "throughput[images/s]", "DRAM_in_bandwidth[MB/s]",
                "DRAM_out_bandwidth[MB/s]", "fclk[mhz]", "batch_size"):
        assert key in report
    assert report["backend"] == "emulation" and report["fclk[mhz]"] is None
    assert report["batch_size"] == 16 and report["throughput[images/s]"] > 0


# -- never a hang ---------------------------------------------------------------------------------

def test_an_accelerator_that_never_answers_times_out_then_reload_recovers(package, images):
    with stand_in(package, batch_size=8, timeout_s=0.2) as accel:
        accel.device.hardware.stall = "output"
        start = time.monotonic()
        with pytest.raises(TimeoutError) as e:
            accel.class_sums(images[:8])
        assert time.monotonic() - start < 5
        assert "output DMA (S2MM)" in str(e.value) and "finn #659" in str(e.value)
        assert "\n" not in str(e.value)
        with pytest.raises(DriverError, match="call reload"):  # the core is still busy
            accel.class_sums(images[:8])
        accel.device.hardware.stall = None
        accel.reload()
        assert np.array_equal(accel.class_sums(images[:8]), Reference(package).class_sums(images[:8]))


def test_a_core_that_stops_reading_times_out_on_the_input_dma(package, images):
    with stand_in(package, batch_size=8, timeout_s=0.2) as accel:
        accel.device.hardware.stall = "input"
        with pytest.raises(TimeoutError, match=r"input DMA \(MM2S\)"):
            accel.class_sums(images[:3])


def test_a_bitstream_for_another_shape_times_out_instead_of_hanging():
    built = Interface("other", (4, 4, 2), 4)  # what the "bitstream" reads per frame
    claimed = Interface("tiny", (8, 8, 2), 4)  # what the driver sends
    accel = emulated(zeros_core(built), built, driver_iface=claimed, batch_size=4, timeout_s=0.2)
    with pytest.raises(TimeoutError, match=r"input DMA \(MM2S\).*built for tiny \(8, 8, 2\)"):
        accel.class_sums(np.zeros((4, 8, 8, 2), np.uint8))


def test_early_tlast_is_reported():
    # The core answers one word per frame less than the driver expects: S2MM ends at TLAST.
    iface = Interface("tiny", (8, 8, 2), 4)
    short = Interface("tiny", (8, 8, 2), 2)
    core = lambda words, frames: np.zeros(frames * short.out_words_per_frame, np.uint64)  # noqa: E731
    device = emulation.EmulatedDevice(core, short)
    accel = ErnAccelerator(str(device.placeholder_bitfile()), package_of(iface), interface=iface,
                           device=device, batch_size=2, timeout_s=0.5)
    with pytest.raises(DriverError, match="received 16 bytes, expected 32.*TLAST came early"):
        accel.class_sums(np.zeros((2, 8, 8, 2), np.uint8))


# -- binding ------------------------------------------------------------------------------------

def test_a_missing_bitstream_says_what_to_do(package, tmp_path):
    with pytest.raises(FileNotFoundError, match="no bitstream.*make overlay"):
        ErnAccelerator(str(tmp_path / "nothing.bit"), package)


def test_an_overlay_without_the_core_is_a_clear_error(package):
    iface = Interface.from_package(package)
    device = emulation.EmulatedDevice(zeros_core(iface), iface)
    other = Interface.from_package(package, vlnv="ern:hls:other_top:1.0")
    with pytest.raises(DriverError, match="expected one ern:hls:other_top:1.0 core.*ern_top_0"):
        ErnAccelerator(str(device.placeholder_bitfile()), package, interface=other, device=device)


def test_a_core_with_its_own_vlnv_is_bound_by_the_interface(package, images):
    iface = Interface.from_package(package, vlnv="ern:hls:tiny_top:2.0", frames_offset=0x18)
    device = emulation.EmulatedDevice(emulation.ReferenceCore(package, iface), iface)
    with ErnAccelerator(str(device.placeholder_bitfile()), package, interface=iface,
                        device=device, batch_size=16) as accel:
        assert type(accel.core).__name__ == "ErnCore"
        assert np.array_equal(accel.class_sums(images), Reference(package).class_sums(images))


def test_batch_size_is_limited_by_the_dma_length_register(package):
    with pytest.raises(ValueError, match="exceed the DMA's transfer limit"):
        stand_in(package, batch_size=2**26 // 128 + 1)
