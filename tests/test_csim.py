"""The generated C++ compiled with g++ and the ap_types headers: bit-exact against host.reference.

- a small random ERN (thermometer, two residual blocks, global sum; odd layer names) and a
  CNV-like network (8-bit input conv, max pool, FC layers), each folded with mixed PE/SIMD so
  that width converters appear, through the AXI-Stream top function and tb.cpp;
- the clocked mode (-DERN_CLOCKED_SIM, FIFOs bounded to their generated depths, every process
  stepped once per cycle; tests/test_clocked.py has its cycle counts): completes with the
  generated depths (and with the C-model part of the skip rule alone), stops with a deadlock
  naming the FIFO when a skip FIFO is made too shallow;
- everything compiles warning-free with -Wall -Wextra -Werror;
- emu.cpp as a shared library through ctypes; the synthesised code paths (ERN_NO_CSIM_FAST).

Generated folders go to build/tests/csim/<case>/ (same content, same path: the compiled
executables are cached by content under build/csim_cache/), test data to tmp_path.
"""
import ctypes
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from codegen_helpers import cnv_like, random_ern, random_images
from hls import csim
from hls.codegen import generate
from hls.hls_flow import csim_flags
from host.reference import Reference

REPO = Path(__file__).resolve().parents[1]
GEN = REPO / "build" / "tests" / "csim"
STRICT = ("-Wextra",)   # on top of csim.WARNING_FLAGS (-Wall ...), with -Werror
ODD_NAMES = {"embed": "1st embed", "stem": "int", "b1.conv1": "b1/conv1:0", "head.sum": "frames"}


def generated(case: str, package, folding, **kw):
    return generate(package, GEN / case, folding, **kw)


def compile_tb(out: Path, name: str, clocked: bool = False, defines=None, sources=("ern_top.cpp", "tb.cpp"),
               extra=()) -> Path:
    d = dict(defines or {})
    if clocked:
        d["ERN_CLOCKED_SIM"] = None
    return csim.build([out / s for s in sources], include_dirs=[out, out / "lib"], defines=d, werror=True,
                      extra_flags=[*STRICT, *csim_flags(), *extra], name=name)


def write_data(folder: Path, package, images) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    sums = Reference(package).class_sums(images)
    images.tofile(folder / "images.bin")
    sums.astype("<i4").tofile(folder / "expected.bin")
    return sums


def run_tb(exe: Path, data: Path, *args, timeout=300):
    proc = subprocess.run([str(exe), str(data), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return proc, proc.stdout + proc.stderr


def got(data: Path, n: int) -> np.ndarray:
    return np.fromfile(data / "got.bin", "<i4").reshape(n, -1).astype(np.int64)


@pytest.fixture(scope="module")
def ern():
    package, folding = random_ern(7, names=ODD_NAMES)
    return package, folding, generated("ern", package, folding)


@pytest.fixture(scope="module")
def ern_exe(ern):
    return compile_tb(ern[2].out_dir, "test_ern_tb")


def test_random_ern_is_bit_exact(ern, ern_exe, tmp_path):
    package, _, _ = ern
    images = random_images(package, 12)
    expected = write_data(tmp_path, package, images)
    proc, out = run_tb(ern_exe, tmp_path)
    assert proc.returncode == 0, out
    assert "images=12 mismatches=0 protocol_errors=0" in out and "WARNING" not in out, out
    np.testing.assert_array_equal(got(tmp_path, 12), expected)
    # a sub-range (how make hls splits the images over processes), in calls of several frames
    proc, out = run_tb(ern_exe, tmp_path, 5, 4, tmp_path / "part.bin")
    assert proc.returncode == 0, out
    np.testing.assert_array_equal(np.fromfile(tmp_path / "part.bin", "<i4").reshape(4, -1), expected[5:9])


def test_a_wrong_expected_sum_fails_the_bench(ern, ern_exe, tmp_path):
    package, _, _ = ern
    expected = write_data(tmp_path, package, random_images(package, 3))
    expected[1, 2] += 1
    expected.astype("<i4").tofile(tmp_path / "expected.bin")
    proc, out = run_tb(ern_exe, tmp_path)
    assert proc.returncode == 1 and "mismatches=1" in out and "image 1:" in out, out
    (tmp_path / "expected.bin").write_bytes(b"\0" * 12)
    proc, out = run_tb(ern_exe, tmp_path)
    assert proc.returncode == 2 and "expected.bin" in out


def test_cnv_like_is_bit_exact(tmp_path):
    package, folding = cnv_like(5)
    result = generated("cnv", package, folding)
    exe = compile_tb(result.out_dir, "test_cnv_tb")
    images = random_images(package, 10)
    expected = write_data(tmp_path, package, images)
    proc, out = run_tb(exe, tmp_path)
    assert proc.returncode == 0 and "mismatches=0" in out and "WARNING" not in out, out
    np.testing.assert_array_equal(got(tmp_path, 10), expected)


# Per-layer widths: 1..3 weight planes (plane-masked where `masked`), 1..4-bit activations.
MIXED_WIDTHS = {"stem": {"weight_bits": 2, "out_bits": 3}, "b1.conv1": {"weight_bits": 3, "out_bits": 1},
                "b1.conv2": {"weight_bits": 2}, "b1.short": {"weight_bits": 3}, "b1.act": {"out_bits": 4},
                "b2.conv1": {"weight_bits": 2, "out_bits": 2}, "head.act": {"out_bits": 3},
                "head.conv": {"weight_bits": 2}}
HETEROGENEOUS = {name: {"weight_bits": 3, "masked": True, **({"out_bits": 2} if name in ("stem", "b1.conv1",
                 "b2.conv1") else {})} for name in ("stem", "b1.conv1", "b1.conv2", "b1.short", "b2.conv1",
                                                     "b2.conv2", "b2.short", "head.conv")}


@pytest.mark.parametrize("case, widths", [("mixed", MIXED_WIDTHS), ("heterogeneous", HETEROGENEOUS)])
def test_multi_bit_and_heterogeneous_weights_are_bit_exact(case, widths, tmp_path):
    package, folding = random_ern(11, widths=widths)
    convs = [layer.operator for layer in package.layers if layer.op == "Conv"]
    if case == "mixed":
        assert {op.weight_bits for op in convs} == {1, 2, 3}
        assert {s.bits for name, s in package.streams.items() if not s.signed} >= {1, 2, 3, 4}
    else:
        assert all(op.weight_bits == 3 and op.masked for op in convs)
    result = generated(case, package, folding)
    text = (result.out_dir / "ern_top.cpp").read_text()
    assert ("/*MASKED*/ true" in text) == (case == "heterogeneous") and "/*W_BITS*/ 3" in text
    exe = compile_tb(result.out_dir, f"test_{case}_tb")
    images = random_images(package, 8)
    expected = write_data(tmp_path, package, images)
    proc, out = run_tb(exe, tmp_path)
    assert proc.returncode == 0 and "mismatches=0" in out and "WARNING" not in out, out
    np.testing.assert_array_equal(got(tmp_path, 8), expected)


def test_clocked_simulation_completes_with_the_generated_depths(ern, tmp_path):
    package, _, result = ern
    exe = compile_tb(result.out_dir, "test_ern_tb_clocked", clocked=True)
    images = random_images(package, 4)
    expected = write_data(tmp_path, package, images)
    proc, out = run_tb(exe, tmp_path)     # 4 frames in one call: frames overlap in the pipeline
    assert proc.returncode == 0, out
    assert "CLOCKED STALL" not in out and "mismatches=0" in out, out
    np.testing.assert_array_equal(got(tmp_path, 4), expected)
    peak = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"clocked: fifo name=(\S+) depth=(\d+) peak=(\d+)", out)}
    for rec in result.fifos:
        depth, water = peak[rec["fifo"]]
        assert depth == rec["depth"] and water <= depth


def test_the_c_model_part_of_the_skip_rule_is_enough(tmp_path):
    """Without pipeline slack the skip FIFOs hold exactly the computed lead (+2): no stall."""
    package, folding = random_ern(7, names=ODD_NAMES)
    result = generated("ern_noslack", package, folding, pipeline_slack=0)
    assert all(r["slack"] == 2 for r in result.fifos)
    exe = compile_tb(result.out_dir, "test_ern_tb_clocked_noslack", clocked=True)
    expected = write_data(tmp_path, package, random_images(package, 3))
    proc, out = run_tb(exe, tmp_path)
    assert proc.returncode == 0 and "CLOCKED STALL" not in out, out
    np.testing.assert_array_equal(got(tmp_path, 3), expected)


def test_clocked_simulation_catches_a_too_shallow_skip_fifo(tmp_path):
    package, folding = random_ern(7, names=ODD_NAMES)
    sized = generated("ern_probe", package, folding).fifos
    skip = max((r for r in sized if r["rule"] == "skip"), key=lambda r: r["lead_beats"])
    result = generated("ern_shallow", package, folding, fifo_depths={skip["fifo"]: 2})
    top = (result.out_dir / "ern_top.cpp").read_text()
    assert f"#pragma HLS STREAM variable={skip['fifo']} depth=2" in top
    exe = compile_tb(result.out_dir, "test_ern_tb_clocked_shallow", clocked=True)
    write_data(tmp_path, package, random_images(package, 2))
    proc, out = run_tb(exe, tmp_path, timeout=120)
    assert proc.returncode == 3, out
    assert "CLOCKED STALL: deadlock: every process is stalled" in out
    stalled = re.search(r"stalled FIFOs: (.*)", out).group(1).split()
    assert skip["fifo"] in stalled
    assert re.search(rf"fifo_state name={skip['fifo']} fill=2 depth=2 .* waiting=write-full", out), out


def test_emulation_library_through_ctypes(ern, tmp_path):
    package, _, result = ern
    lib_path = compile_tb(result.out_dir, "libtest_ern_emu.so", sources=("ern_top.cpp", "emu.cpp"),
                          extra=("-shared", "-fPIC"))
    lib = ctypes.CDLL(str(lib_path))
    lib.ern_run.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint]
    lib.ern_run.restype = ctypes.c_int
    info = result.interface
    win, wout = info["input"]["words_per_frame"], info["output"]["words_per_frame"]
    assert lib.ern_in_words_per_frame() == win and lib.ern_out_words_per_frame() == wout
    images = random_images(package, 5)
    frame = images.reshape(5, -1)
    padded = np.zeros((5, win * 8), np.uint8)
    padded[:, :frame.shape[1]] = frame
    words = np.ascontiguousarray(padded).view("<u8").reshape(-1)
    out = np.zeros(5 * wout, np.uint64)
    assert lib.ern_run(words.ctypes.data, words.size, out.ctypes.data, out.size, 5) == 0
    sums = out.view("<i4").reshape(5, wout * 2)[:, :package.classes]
    np.testing.assert_array_equal(sums, Reference(package).class_sums(images))
    assert lib.ern_run(words.ctypes.data, words.size - 1, out.ctypes.data, out.size, 5) == -2
    assert lib.ern_run(words.ctypes.data, words.size, out.ctypes.data, out.size - 1, 5) == -3


@pytest.mark.slow
def test_words_above_1024_bits_are_bit_exact_with_the_raised_ap_int_max_w(tmp_path):
    """130 input channels: 1040-bit pixel beats, an 1104-bit AXI lane buffer. ern_top.h's
    AP_INT_MAX_W makes them legal (bit-exact); held at ap_int's default the same bench aborts."""
    package, folding = random_ern(3, size=4, channels=130)
    out = generated("wide", package, folding).out_dir
    images = random_images(package, 3)
    expected = write_data(tmp_path, package, images)
    proc, text = run_tb(compile_tb(out, "test_wide_tb"), tmp_path)
    assert proc.returncode == 0, text[-2000:]
    assert "mismatches=0" in text
    assert np.array_equal(got(tmp_path, 3), expected)
    # ap_types checks the width when a wide value is made (C-simulation aborts)
    proc, text = run_tb(compile_tb(out, "test_wide_tb_default", defines={"AP_INT_MAX_W": 1024}), tmp_path)
    assert proc.returncode != 0 and "Bitwidth exceeds the default max value 1024" in text, text[-2000:]


@pytest.mark.slow
def test_synthesised_code_paths_are_bit_exact_too(ern, tmp_path):
    """hls/lib's C-simulation fast paths off (ERN_NO_CSIM_FAST): the code Vitis HLS synthesises."""
    package, _, result = ern
    exe = compile_tb(result.out_dir, "test_ern_tb_synth_paths", defines={"ERN_NO_CSIM_FAST": None})
    expected = write_data(tmp_path, package, random_images(package, 6))
    proc, out = run_tb(exe, tmp_path)
    assert proc.returncode == 0 and "mismatches=0" in out, out
    np.testing.assert_array_equal(got(tmp_path, 6), expected)


@pytest.mark.slow
def test_make_hls_flow_on_a_small_package(tmp_path, capsys):
    """python -m hls end to end (package given, images from a .npy), report.json's keys."""
    import json
    from hls.hls_flow import main
    from host.package import save
    package, folding = random_ern(2)
    save(package, tmp_path / "build" / "tiny" / "dataflow")
    (tmp_path / "fold.json").write_text(json.dumps(folding))
    images = random_images(package, 20)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", np.arange(20) % 4)
    code = main(["--model", "tiny", "--build-dir", str(tmp_path / "build"), "--images", "20", "--folding",
                 str(tmp_path / "fold.json"), "--images-npy", str(tmp_path / "x.npy"), "--labels-npy",
                 str(tmp_path / "y.npy"), "--jobs", "2", "--no-vitis"])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads((tmp_path / "build" / "tiny" / "hls" / "report.json").read_text())
    assert report["images"] == 20 and report["mismatches"] == 0 and report["vitis_hls"] is None
    clk = report["clocked"]
    assert clk["stall"] is None and clk["mismatches"] == 0 and clk["frames"] == 5 and clk["fps"] > 0
    assert clk["label"] == "clocked C-simulation" and (tmp_path / "build" / "tiny" / "hls" / "clocked.png").is_file()
    assert {f["name"] for f in clk["fifos"]} >= {f["fifo"] for f in report["fifos"]}
    assert isinstance(report["top1"], float) and report["csim_seconds"] > 0
    assert report["emulation_library"] == "libern_emu.so"
    assert (tmp_path / "build" / "tiny" / "hls" / "libern_emu.so").is_file()
    assert "mismatches 0" in out
