"""host/emulation.py: the g++-built C-ABI core, the emulated AXI DMA + ap_ctrl_hs registers,
and the generated ern_tiny accelerator (lowered and generated from the committed checkpoint by
conftest's session fixtures) under the driver, bit-exact against the numpy reference on real
Fashion-MNIST test images; the library `make hls` leaves is loaded only for its own package."""
import dataclasses
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pynq
import pytest
from pynq.lib.dma import DMA

from host import cxx, datasets, emulation
from host.driver import DMA_VLNV, ErnAccelerator, Interface
from host.package import load
from host.reference import Reference
from test_driver import package_of

ROOT = Path(__file__).resolve().parents[1]
needs_gxx = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="no g++")

# A stand-in for the generator's emu.cpp with the same C ABI: class c of a frame gets
# (c + 1) * (sum of the frame's image bytes) - 1000 * c, as int32 lanes, two per word.
TOY_EMU = r"""
#include <cstddef>
#include <cstdint>
#include <cstring>
#include "toy_shape.h"
extern "C" int ern_run(const uint64_t* in, size_t in_words, uint64_t* out, size_t out_words,
                       unsigned frames) {
    if (in_words != (size_t)frames * IN_WORDS || out_words != (size_t)frames * OUT_WORDS) return 3;
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(in);
    for (unsigned f = 0; f < frames; f++) {
        int64_t sum = 0;
        for (unsigned i = 0; i < IN_BYTES; i++) sum += bytes[(size_t)f * IN_WORDS * 8 + i];
        int32_t lanes[OUT_WORDS * 2] = {0};
        for (unsigned c = 0; c < CLASSES; c++) lanes[c] = (int32_t)((c + 1) * sum - 1000 * (int64_t)c);
        std::memcpy(out + (size_t)f * OUT_WORDS, lanes, sizeof(lanes));
    }
    return 0;
}
"""


def toy_expected(images, classes):
    sums = images.reshape(len(images), -1).astype(np.int64).sum(axis=1)
    return np.stack([(c + 1) * sums - 1000 * c for c in range(classes)], axis=1)


def write_toy(folder: Path, iface: Interface) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "emu.cpp").write_text(TOY_EMU)
    (folder / "toy_shape.h").write_text(
        f"#define IN_WORDS {iface.in_words_per_frame}\n#define OUT_WORDS {iface.out_words_per_frame}\n"
        f"#define IN_BYTES {iface.in_bytes_per_frame}\n#define CLASSES {iface.classes}\n")
    return folder / "emu.cpp"


# -- the compiled core --------------------------------------------------------------------------

@needs_gxx
def test_a_c_abi_library_is_compiled_cached_and_run_behind_the_driver(tmp_path, monkeypatch):
    # the toy core's sums are not the stand-in package's: skip the driver's range check of them
    monkeypatch.setattr("host.driver.check_sums_in_range", lambda *a, **k: None)
    iface = Interface("toy", (5, 5, 1), 3)
    src = write_toy(tmp_path / "hls", iface)
    cache = tmp_path / "cache"
    library = emulation.build_library([src], [src.parent], name="toy", cache_dir=cache)
    stamp = library.stat().st_mtime_ns
    assert emulation.build_library([src], [src.parent], name="toy", cache_dir=cache) == library
    assert library.stat().st_mtime_ns == stamp  # cached: not rebuilt
    (src.parent / "toy_shape.h").write_text((src.parent / "toy_shape.h").read_text() + "\n")
    assert emulation.build_library([src], [src.parent], name="toy", cache_dir=cache) != library

    core = emulation.CompiledCore(library, iface, source=src)
    device = emulation.EmulatedDevice(core, iface)
    images = np.random.default_rng(0).integers(0, 256, (11, 5, 5, 1), dtype=np.uint8)
    with ErnAccelerator(str(device.placeholder_bitfile(tmp_path)), package_of(iface), interface=iface,
                        device=device, batch_size=4) as accel:
        assert "compiled HLS C++" in accel.describe() and "EMULATION" in accel.describe()
        assert np.array_equal(accel.class_sums(images), toy_expected(images, 3))


@needs_gxx
def test_a_core_that_reports_an_error_raises(tmp_path):
    iface = Interface("toy", (5, 5, 1), 3)
    src = write_toy(tmp_path / "hls", iface)
    core = emulation.CompiledCore(emulation.build_library([src], [src.parent], cache_dir=tmp_path),
                                  iface)
    with pytest.raises(emulation.EmulationError, match="ern_run returned 3"):
        core(np.zeros(5, np.uint64), 2)  # wrong word count


@needs_gxx
def test_a_compile_error_shows_the_compiler_output(tmp_path):
    src = tmp_path / "emu.cpp"
    src.write_text("int broken( {\n")
    with pytest.raises(cxx.CxxError, match=r"g\+\+ failed building emu .*error: expected") as e:
        emulation.build_library([src], cache_dir=tmp_path)
    assert "\n" not in str(e.value) and "full output:" in str(e.value)   # one line, and where the rest is


def test_missing_emu_cpp_says_run_make_hls(tmp_path):
    with pytest.raises(emulation.EmulationError, match="not generated yet.*make hls"):
        emulation.build_emulator(tmp_path)


# -- the emulated AXI DMA, register by register (pynq's own DMA driver on top) ------------------

def dma_and_device():
    iface = Interface("toy", (5, 5, 1), 3)
    device = emulation.EmulatedDevice(lambda w, f: np.zeros(f * 2, np.uint64), iface)
    description = dict(device.ip_descriptions()["axi_dma_0"], device=device)
    return DMA(description), device


def test_dma_registers_follow_pg021():
    dma, device = dma_and_device()
    send = dma.sendchannel
    assert send.running and not send.idle  # started by pynq; idle only after a transfer
    buf = pynq.allocate((4,), np.uint64, target=device)
    dma.mmio.write(0x04, 0x1000)  # W1C on a clear bit: no change
    assert dma.mmio.read(0x04) == 0x0
    dma.mmio.write(0x00, 0x4)  # soft reset: both channels halted, the bit clears itself
    assert dma.mmio.read(0x00) == 0 and dma.mmio.read(0x04) & 1 and dma.mmio.read(0x34) & 1
    send.start()
    dma.recvchannel.start()
    assert send.running and dma.recvchannel.running
    del buf


def test_a_transfer_to_unallocated_memory_is_a_decode_error():
    dma, device = dma_and_device()
    buf = pynq.allocate((4,), np.uint64, target=device)
    buf.device_address = 0x7000_0000  # nothing there
    dma.sendchannel.transfer(buf)
    # As on the board: DMADecErr, the channel halts (so pynq's own wait() only says "not started")
    assert dma.sendchannel.error and not dma.sendchannel.running
    assert dma.mmio.read(0x04) & 0x41 == 0x41


def test_the_driver_reports_a_dma_error_in_one_line(tiny_stand_in):
    accel = tiny_stand_in
    good = accel._in_buf.device_address
    accel._in_buf.device_address = 0x7000_0000
    try:
        with pytest.raises(Exception, match=r"input DMA \(MM2S\) error, status 0x00000041.*decode"):
            accel.class_sums(np.zeros((2,) + accel.interface.input_shape, np.uint8))
    finally:
        accel._in_buf.device_address = good


@pytest.fixture
def tiny_stand_in():
    from test_host_package import tiny_package as make
    package = make(2)
    accel = emulation.open_emulated(package=package, hls_dir="/nonexistent", core="reference",
                                    batch_size=4, timeout_s=0.3)
    yield accel
    accel.close()


def test_allocated_buffers_are_pynq_buffers_at_distinct_aligned_addresses():
    _, device = dma_and_device()
    a = pynq.allocate((3,), np.uint64, target=device)
    b = pynq.allocate((5000,), np.uint8, target=device)
    assert isinstance(a, pynq.buffer.PynqBuffer) and a.coherent
    assert a.physical_address % 4096 == 0 and b.physical_address >= a.physical_address + 4096
    b[:] = 7
    assert np.all(device.memory.view(b.physical_address + 10, 4) == 7)


# -- the real model behind the fake device ------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_package(ern_tiny_build):
    return load(ern_tiny_build / "dataflow")


@pytest.fixture(scope="module")
def test_images():
    try:
        images, labels, _ = datasets.fashion_mnist(limit=64)
    except datasets.DatasetError as e:
        pytest.skip(str(e))
    return images, labels


def test_ern_tiny_through_the_driver_with_the_reference_stand_in(tiny_package, test_images):
    images, _ = test_images
    with emulation.open_emulated("ern_tiny", package=tiny_package, core="reference",
                                 batch_size=25) as accel:
        assert np.array_equal(accel.class_sums(images), Reference(tiny_package).class_sums(images))


def generated_accelerator(build, package, batch_size):
    """The session's generated ern_tiny hls/ (emu.cpp + ern_top.cpp), compiled, under the driver."""
    return emulation.open_emulated("ern_tiny", package=package, core="compiled", build_dir=build,
                                   batch_size=batch_size)


def check_bit_exact(build, package, images):
    with generated_accelerator(build, package, batch_size=8) as accel:
        assert "compiled HLS C++" in accel.describe() and accel.backend == "emulation"
        sums = accel.class_sums(images)
        predicted, _ = accel.classify(images[:4])
    reference = Reference(package)
    mismatched = np.flatnonzero(np.any(sums != reference.class_sums(images), axis=1))
    assert mismatched.size == 0, f"images {mismatched.tolist()} differ from the reference"
    assert np.array_equal(predicted, reference.predict(images[:4]))


@needs_gxx
def test_generated_accelerator_is_bit_exact_with_the_reference_on_test_images(ern_tiny_hls, tiny_package,
                                                                              test_images):
    """Generated accelerator vs the reference, quick tier: 12 real test images (the C++ simulation runs a few per second;
    the first run compiles it, ~2 minutes, then build/csim_cache has it)."""
    check_bit_exact(ern_tiny_hls, tiny_package, test_images[0][:12])


@needs_gxx
@pytest.mark.slow
def test_generated_accelerator_is_bit_exact_on_300_test_images(ern_tiny_hls, tiny_package):
    images, _, _ = datasets.fashion_mnist(limit=300)
    check_bit_exact(ern_tiny_hls, tiny_package, images)


@needs_gxx
def test_the_library_make_hls_left_is_loaded_only_for_its_own_package(ern_tiny_hls, tiny_package, tmp_path):
    """`make hls` copies the emulation library to hls/libern_emu.so: emulation loads that copy while
    it names the package's digest, and builds (from the cache) instead for any other package."""
    from host.package import digest
    hls_dir = tmp_path / "ern_tiny" / "hls"
    shutil.copytree(ern_tiny_hls / "hls", hls_dir)
    built = emulation.build_emulator(hls_dir)
    assert emulation.library_package(built) == digest(tiny_package)
    shutil.copyfile(built, hls_dir / emulation.INSTALLED_LIBRARY)
    assert emulation.library_for(hls_dir, tiny_package) == hls_dir / emulation.INSTALLED_LIBRARY
    other = dataclasses.replace(tiny_package, model="ern_tiny_other")   # another package, another digest
    assert digest(other) != digest(tiny_package)
    assert emulation.library_for(hls_dir, other) == built
    (hls_dir / emulation.INSTALLED_LIBRARY).unlink()   # a new file: the old one is mapped in this process
    (hls_dir / emulation.INSTALLED_LIBRARY).write_bytes(b"not a library")
    assert emulation.library_for(hls_dir, tiny_package) == built
