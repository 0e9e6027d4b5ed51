"""Hostile names, paths and numbers (README "What the tools refuse"). Each test is one finding:
no input runs code, writes outside build/ or a named output folder, loses a user file or
returns a wrong answer with exit 0; every bad input is one line naming what is wrong, with a
nonzero exit.

Everything a test writes goes to tmp_path; a `PWNED` file can only ever appear there.
"""
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from codegen_helpers import _Net, random_ern
from hls import csim
from hls.codegen import generate
from hls.codegen.names import Namer
from hls.hls_flow import csim_flags
from hls.lower import LoweringError, lower
from host import datasets
from host.package import PackageError, load, save
from host.reference import Reference
from test_lower_errors import conv_net

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = 'q", system("touch PWNED"), "'


def one_line(text: str) -> str:
    """The last non-empty line of a CLI's stderr, after checking there is no traceback."""
    assert "Traceback" not in text, text
    lines = [l for l in text.strip().splitlines() if l.strip()]
    assert lines, "no message"
    return lines[-1]


def exits_with_one_line(capsys, main, argv, *fragments, code=2):
    """main(argv) exits non-zero (returned or via argparse) with one line holding `fragments`."""
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    assert status not in (0, None), f"exit {status}"
    if isinstance(status, str):   # sys.exit("error: ...")
        err = status
    else:
        err = capsys.readouterr().err
    line = one_line(err)
    for fragment in fragments:
        assert fragment in line, line
    return line


# -- the unsigned-head design every C++ test compiles (a 4 x 4 image: one g++ build, seconds) --------

def unsigned_head_package(layer_names=("embed", "sum"), model="unsigned_head"):
    """Thermometer -> GlobalSum: unsigned class sums [0, 48] (6 bits), as a GlobalSum over codes
    gives; the layers may carry hostile names."""
    net = _Net(model, (4, 4, 1), 0)
    t = np.array([[10, 100, 200]] * 10, np.int32)
    x = net.add(layer_names[0], "Thermometer", ["in0"], {"k": 10, "out_bits": 2}, {"thresholds": t})[0]
    y = net.add(layer_names[1], "GlobalSum", [x])[0]
    return net.b.build(y, np.ones(10, np.float32), divisor=16)


def c_string_literals_ok(text: str):
    """Every ERN_PROCESS("...") name is one well-formed C string literal."""
    for line in text.splitlines():
        if line.startswith("ERN_PROCESS("):
            assert re.fullmatch(r'ERN_PROCESS\("(?:[^"\\\n]|\\.)*",', line), line


@pytest.fixture(scope="module")
def hostile_tb(tmp_path_factory):
    """The unsigned-head design with a layer named to inject a system() call, compiled."""
    tmp = tmp_path_factory.mktemp("hostile_tb")
    package = unsigned_head_package((PAYLOAD, "sum"))   # on main the tb ran system("touch PWNED")
    result = generate(package, tmp / "hls", {})
    exe = csim.build([result.out_dir / "ern_top.cpp", result.out_dir / "tb.cpp"],
                     include_dirs=[result.out_dir, result.out_dir / "lib"], extra_flags=csim_flags(),
                     name="hostile_tb", cache_dir=tmp / "cache")
    return package, result, exe, tmp


# 1. names that reach generated code ---------------------------------------------------------------

def test_node_name_injecting_c_code_is_escaped_and_runs_nothing(hostile_tb):
    package, result, exe, tmp = hostile_tb
    c_string_literals_ok((result.out_dir / "ern_top.cpp").read_text())
    images = np.full((2, 4, 4, 1), 255, np.uint8)
    images[1] = 150
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    images.tofile(data / "images.bin")
    Reference(package).class_sums(images).astype("<i4").tofile(data / "expected.bin")
    proc = subprocess.run([str(exe), str(data), "0", "2"], cwd=tmp, capture_output=True, text=True, timeout=120)
    assert not (tmp / "PWNED").exists()
    assert proc.returncode == 0 and "mismatches=0" in proc.stdout, proc.stdout + proc.stderr


def test_unsigned_class_sums_are_not_sign_extended(hostile_tb):
    """36..63 in a 6-bit unsigned sum came out negative (48 -> -16, 32 -> -32)."""
    package, _, exe, tmp = hostile_tb
    assert not package.streams[package.output].signed
    images = np.full((2, 4, 4, 1), 255, np.uint8)
    images[1] = 150
    data = tmp / "data_unsigned"
    data.mkdir()
    expected = Reference(package).class_sums(images)
    assert expected.max() >= 32
    images.tofile(data / "images.bin")
    expected.astype("<i4").tofile(data / "expected.bin")
    subprocess.run([str(exe), str(data), "0", "2"], cwd=tmp, capture_output=True, text=True, timeout=120)
    got = np.fromfile(data / "got.bin", "<i4").reshape(2, -1)
    assert np.array_equal(got, expected)


def test_comments_and_strings_hold_no_raw_newline_backslash_or_comment_end(tmp_path):
    package = unsigned_head_package(("a\nb", "c*/d\\"))
    files = generate(package, tmp_path / "hls", {}).files
    for name in ("ern_top.cpp", "ern_top.h") + tuple(k for k in files if k.startswith("params_")):
        text = files[name].decode()
        c_string_literals_ok(text)
        for line in text.splitlines():
            if "//" in line:
                comment = line[line.index("//"):]
                assert "*/" not in comment and not comment.endswith("\\"), line


def test_model_name_with_tcl_or_c_code_is_refused_by_the_package():
    for bad in ("x[exec touch PWNED]", 'x"; system("touch PWNED")', "../x", "a b", "", "-x", ".x", "x" * 65):
        with pytest.raises(PackageError, match="model name"):
            unsigned_head_package(model=bad)


def test_tcl_and_c_escapes():
    from host import names
    assert names.tcl_quoted("a [exec rm x] $v \"q\" \\") == '"a \\[exec rm x\\] \\$v \\"q\\" \\\\"'
    assert names.c_string('a"b\\c\nd??=') == '"a\\"b\\\\c\\012d\\?\\?="'
    assert "*/" not in names.c_comment("x*/y") and "\\" not in names.c_comment("x\\")


def test_run_hls_tcl_description_is_one_quoted_word(tmp_path):
    files = generate(unsigned_head_package(model="m.x-1"), tmp_path / "hls", {}).files
    assert '-description "m.x-1 ERN streaming dataflow (hls/codegen)"' in files["run_hls.tcl"].decode()
    assert '#define ERN_MODEL "m.x-1"' in files["ern_top.h"].decode()


def test_csim_cache_name_cannot_leave_the_cache(tmp_path):
    src = tmp_path / "main.cpp"
    src.write_text("int main() { return 0; }\n")
    with pytest.raises(ValueError, match="build name"):   # host.names.BadName
        csim.build([src], name="../../escaped", cache_dir=tmp_path / "a" / "b" / "cache", nice=False)
    assert not any(p.name.startswith("escaped") for p in tmp_path.rglob("*"))


def test_300_character_node_name_is_bounded_with_a_hash(tmp_path):
    MAX_IDENT = 48
    long = "L" * 300
    package = unsigned_head_package((long, long + "x"))
    result = generate(package, tmp_path / "hls", {})
    assert all(len(p.name) <= MAX_IDENT + 20 for p in result.out_dir.rglob("*"))
    a, b = Namer().get("", long), Namer().get("", long + "x")
    assert len(a) <= MAX_IDENT and a != b


def test_a_failed_generation_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    from hls.codegen import files as cg_files
    out = tmp_path / "hls"
    out.mkdir()
    (out / "report.json").write_text("{}")
    real = Path.write_bytes

    def fail_on_params(self, data):
        if self.name.startswith("params_"):
            raise OSError(36, "File name too long")
        return real(self, data)
    monkeypatch.setattr(Path, "write_bytes", fail_on_params)
    package, folding = random_ern(3)
    with pytest.raises(OSError):
        generate(package, out, folding)
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hls.partial")]
    assert cg_files.write   # the writer under test


def test_duplicate_node_names_are_one_line_not_an_internal_error():
    model = conv_net()
    model.graph.node[5].name = "Conv_0"   # Quant_1 -> a second Conv_0
    with pytest.raises(LoweringError) as info:
        lower(model, "t")
    text = str(info.value)
    assert "'Conv_0' is used twice" in text and "internal" not in text and "\n" not in text


def test_a_node_without_a_name_is_one_line():
    model = conv_net()
    model.graph.node[2].name = ""
    with pytest.raises(LoweringError, match=r"node #2 \(Conv\) has no name"):
        lower(model, "t")


def test_a_node_named_in0_does_not_collide_with_the_image_stream():
    plain = lower(conv_net(), "t")
    model = conv_net()
    model.graph.node[2].name = "in0"
    renamed = lower(model, "t")
    assert renamed.input != "in0" and "in0" in renamed.streams
    images = np.random.default_rng(0).integers(0, 256, (4,) + plain.input_shape, dtype=np.uint8)
    assert np.array_equal(Reference(renamed).class_sums(images), Reference(plain).class_sums(images))


# 2. MODEL reaches make and the shell --------------------------------------------------------------

@pytest.fixture()
def make_copy(tmp_path):
    """The Makefile alone in tmp_path: make -n there runs nothing but $(shell ...) (in tmp_path)."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    shutil.copy(REPO / "requirements.txt", tmp_path / "requirements.txt")
    return tmp_path


@pytest.mark.parametrize("var,value", [
    ("MODEL", "$(shell touch PWNED)"), ("MODEL", "x`touch PWNED`"), ("MODEL", "x;touch PWNED"),
    ("MODEL", "../x"), ("MODEL", "a b"), ("MODEL", ""), ("MODEL", "-x"), ("DATASET", "$(shell touch PWNED)"),
    ("EPOCHS", "1;touch PWNED"), ("IMAGES", "$(shell touch PWNED)"), ("RESUME", "$(shell touch PWNED)"),
    ("FOLDING", "$(shell touch PWNED)")])
def test_make_stops_on_a_variable_that_is_not_a_plain_word(make_copy, var, value):
    for target in ("eval", "train", "hls", "bench"):
        proc = subprocess.run(["make", "-n", "-C", str(make_copy), target, f"{var}={value}"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0, proc.stdout
        line = one_line(proc.stderr)
        assert var in line and ("refused" in line or "empty" in line), line
        assert not (make_copy / "PWNED").exists()


def test_make_accepts_plain_words(make_copy):
    proc = subprocess.run(["make", "-n", "-C", str(make_copy), "eval", "MODEL=ern_tiny_w1p4a2", "IMAGES=10"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--model ern_tiny_w1p4a2" in proc.stdout, proc.stderr


@pytest.mark.parametrize("bad", ["$(shell touch PWNED)", "../..", "x`touch PWNED`", "a/b", "", "x" * 200])
def test_every_cli_refuses_a_bad_model_name_before_any_path(capsys, tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    from hls.hls_flow import main as hls_main
    from hls.lower.__main__ import main as lower_main
    from host import bench, deploy
    exits_with_one_line(capsys, bench.main, ["--model", bad, "--no-build"], "model name")
    for main in (deploy.main, hls_main):
        exits_with_one_line(capsys, main, ["--model", bad], "model name")
    exits_with_one_line(capsys, lower_main, ["--onnx", "x.onnx", "--out", "o", "--model", bad], "model name")
    from script_helpers import load_script
    from training import export
    for main in (export.main, load_script("tools/verify.py").main, load_script("overlay/build.py").main):
        exits_with_one_line(capsys, main, ["--model", bad], "model name")
    assert list(tmp_path.iterdir()) == []


def test_a_deploy_manifest_naming_a_bad_model_is_refused(capsys, tmp_path):
    from host import bench
    (tmp_path / "deploy.json").write_text(json.dumps({"model": "../../etc"}))
    exits_with_one_line(capsys, bench.main, ["--build-dir", str(tmp_path), "--no-build"], "model name '../../etc'")


def test_model_name_check():
    from host import names
    for good in ("ern_tiny", "a.b-c_1", "X" * 64):
        assert names.check_model_name(good) == good
    for bad in ("../x", ".x", "-x", "a/b", "a b", "x" * 65, "é", "a\nb", None):
        with pytest.raises(names.BadName):
            names.check_model_name(bad)


# 3. data loss ------------------------------------------------------------------------------------

@pytest.fixture()
def tiny_build(tmp_path):
    from test_notebook import tiny_build_dir
    return tiny_build_dir(tmp_path / "build" / "tiny")


def test_deploy_keeps_a_users_folder(capsys, tmp_path, tiny_build):
    from host import deploy
    user = tmp_path / "mine"
    (user / "host").mkdir(parents=True)
    (user / "README.md").write_text("my notes")
    (user / "host" / "mine.py").write_text("print('mine')")
    exits_with_one_line(capsys, deploy.main, ["--model", "tiny", "--build-dir", str(tiny_build), "--out", str(user)],
                        "not a deploy folder", "--force")
    assert (user / "README.md").read_text() == "my notes" and (user / "host" / "mine.py").is_file()
    assert deploy.main(["--model", "tiny", "--build-dir", str(tiny_build), "--out", str(tmp_path / "new"),
                        "--samples", "8"]) == 0
    assert deploy.main(["--model", "tiny", "--build-dir", str(tiny_build), "--out", str(tmp_path / "new"),
                        "--samples", "8"]) == 0   # its own earlier deploy folder: fine


def test_deploy_never_writes_into_the_repository(capsys, tmp_path, tiny_build, monkeypatch):
    from host import deploy
    fake = tmp_path / "repo"
    shutil.copytree(REPO / "host", fake / "host", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(deploy, "repo_root", lambda: fake)
    before = sorted(p.name for p in (fake / "host").iterdir())
    for out, force in ((fake, False), (fake, True), (fake / "host" / "x", True), (tmp_path, True)):
        exits_with_one_line(capsys, deploy.main, ["--model", "tiny", "--build-dir", str(tiny_build),
                                                  "--out", str(out)] + (["--force"] if force else []), "--out")
    assert sorted(p.name for p in (fake / "host").iterdir()) == before


def test_train_without_resume_keeps_an_existing_checkpoint(tmp_path, capsys):
    from training import train
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.pt").write_bytes(b"the 93.21% checkpoint")
    exits_with_one_line(capsys, train.main, ["--model", "ern_tiny", "--dataset", "synthetic", "--epochs", "1",
                                             "--limit-batches", "1", "--batch-size", "8", "--out", str(out),
                                             "--no-progress", "--threads", "1"], "--force", "model.pt")
    assert (out / "model.pt").read_bytes() == b"the 93.21% checkpoint"


def test_overwrite_rule():
    from training.train import overwrite_refusal
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        assert overwrite_refusal(out, False, False) is None
        (out / "model.pt").write_bytes(b"x")
        assert "FORCE=1" in overwrite_refusal(out, False, False)
        assert "--resume would start over" in overwrite_refusal(out, True, False)
        assert overwrite_refusal(out, False, True) is None
        (out / "last.pt").write_bytes(b"x")
        assert overwrite_refusal(out, True, False) is None


def test_make_train_passes_force_only_with_force(make_copy):
    run = lambda *a: subprocess.run(["make", "-n", "-C", str(make_copy), "train", *a],   # noqa: E731
                                    capture_output=True, text=True, timeout=60).stdout
    assert "--force" not in run() and "--force" in run("FORCE=1")


# 4. silently wrong answers ------------------------------------------------------------------------

def test_driver_refuses_class_sums_outside_the_package_range():
    from host.driver import DriverError, check_sums_in_range
    package = unsigned_head_package()
    check_sums_in_range(np.array([[0] * 10, [48] * 10]), package)
    with pytest.raises(DriverError, match=r"class sum -28 of image 3, class 0 is outside .*\[0, 48\]"):
        check_sums_in_range(np.array([[-28] + [0] * 9]), package, first=3)


def test_driver_class_sums_check_the_range(monkeypatch):
    """ErnAccelerator.class_sums (what the emulated and the board driver return) raises instead
    of returning sign-extended sums."""
    from types import SimpleNamespace
    from host import driver
    accel = driver.ErnAccelerator.__new__(driver.ErnAccelerator)
    accel.package, accel.batch_size = unsigned_head_package(), 4
    accel.interface = SimpleNamespace(classes=10)
    accel._in_buf = accel._out_buf = None
    accel.run_batch = lambda n: None
    accel.check_images = lambda images: images
    monkeypatch.setattr(driver, "pack_images", lambda *a: None)
    monkeypatch.setattr(driver, "unpack_class_sums", lambda words, iface, n: np.full((n, 10), -28, np.int64))
    with pytest.raises(driver.DriverError, match="outside the package's range"):
        accel.class_sums(np.zeros((2, 4, 4, 1), np.uint8))


@pytest.fixture()
def saved_package(tmp_path):
    package = unsigned_head_package()
    save(package, tmp_path / "pkg")
    images = np.random.default_rng(0).integers(0, 256, (20, 4, 4, 1), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    return tmp_path / "pkg", tmp_path / "images.npy", Reference(package).predict(images)


@pytest.mark.parametrize("labels,fragment", [("column", "shape (20,)"), ("short", "shape (20,)"),
                                             ("big", "label 12 at index 0"), ("float", "integers")])
def test_reference_labels_are_checked(capsys, tmp_path, saved_package, labels, fragment):
    from host.reference import main
    pkg, images, truth = saved_package
    bad = {"column": truth[:, None], "short": truth[:5], "big": np.full(20, 12), "float": truth + 0.5}[labels]
    np.save(tmp_path / "labels.npy", bad)
    exits_with_one_line(capsys, main, ["--package", str(pkg), "--images", str(images), "--labels",
                                       str(tmp_path / "labels.npy")], fragment)


def test_nan_head_scale_is_refused():
    net = _Net("nan_head", (4, 4, 1), 0)
    t = np.array([[10, 100, 200]] * 10, np.int32)
    x = net.add("embed", "Thermometer", ["in0"], {"k": 10, "out_bits": 2}, {"thresholds": t})[0]
    y = net.add("sum", "GlobalSum", [x])[0]
    scale = np.ones(10, np.float32)
    scale[3] = np.nan
    with pytest.raises(PackageError, match="non-finite value .* at class 3"):
        net.b.build(y, scale, divisor=16)


@pytest.mark.parametrize("argv,fragment", [
    (["--images", "-9990"], "> 0"), (["--images", "0"], "> 0"), (["--images", "x"], "an integer"),
    (["--target-fps", "0"], "> 0"), (["--budget-lut", "-1"], "> 0"), (["--jobs", "0"], "> 0")])
def test_hls_numbers_are_checked(capsys, tmp_path, argv, fragment):
    from hls.hls_flow import main
    exits_with_one_line(capsys, main, ["--build-dir", str(tmp_path)] + argv, argv[0], fragment)


@pytest.mark.parametrize("argv,fragment", [
    (["--clock-mhz", "-100"], "--clock-mhz"), (["--clock-mhz", "0"], "--clock-mhz"),
    (["--clock-mhz", "nan"], "--clock-mhz"), (["--target-fps", "0"], "--target-fps"),
    (["--target-fps", "-5"], "--target-fps"), (["--budget-dsp", "-1"], "--budget-dsp")])
def test_estimate_numbers_are_checked(capsys, tmp_path, argv, fragment):
    from hls.estimate import main
    exits_with_one_line(capsys, main, ["--topology", "cnv_w1a2", "--out", str(tmp_path / "e.json"),
                                       "--quiet"] + argv, fragment)
    assert not (tmp_path / "e.json").exists()


@pytest.mark.parametrize("argv", [["--images", "0"], ["--images", "-9990"], ["--batch-size", "0"]])
def test_bench_numbers_are_checked(capsys, tmp_path, argv):
    from host import bench
    exits_with_one_line(capsys, bench.main, ["--build-dir", str(tmp_path), "--no-build"] + argv, argv[0])


def test_shared_number_check():
    from host import names
    assert names.positive("2.5", "x") == 2.5 and names.positive(3, "n", integer=True) == 3
    for bad, integer in (("0", False), ("-1", True), ("nan", False), ("inf", False), ("1.5", True), (True, True)):
        with pytest.raises(names.BadName):
            names.positive(bad, "x", integer)
    assert names.non_negative("0", "n") == 0


def write_idx(path: Path, array: np.ndarray) -> None:
    import gzip
    import struct
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fashion_folder(folder: Path, size=28, labels=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", np.zeros((4, size, size), np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.array(labels or [0, 1, 2, 3], np.uint8))
    return folder


def test_idx_images_must_be_28x28(tmp_path):
    from training import data
    folder = fashion_folder(tmp_path / "f32", size=32)
    with pytest.raises(datasets.DatasetError, match="32x32, Fashion-MNIST's are 28x28"):
        datasets.fashion_mnist(root=folder)
    with pytest.raises(data.DataError, match="32x32, Fashion-MNIST's are 28x28"):
        data.load("fashion_mnist", "test", folder)
    assert datasets.fashion_mnist(root=fashion_folder(tmp_path / "ok"))[0].shape == (4, 28, 28, 1)


def test_labels_beyond_the_classes_are_one_line(tmp_path):
    from training import data
    folder = fashion_folder(tmp_path / "f", labels=[0, 1, 10, 3])
    with pytest.raises(datasets.DatasetError, match="label 10 at index 2 is outside 0..9"):
        datasets.fashion_mnist(root=folder)
    with pytest.raises(data.DataError, match="label 10 at index 2 is outside 0..9"):
        data.load("fashion_mnist", "train", folder)


def test_package_digest_is_written_and_checked(tmp_path):
    package = unsigned_head_package()
    folder = save(package, tmp_path / "pkg")
    doc = json.loads((folder / "model.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", doc["sha256"])
    load(folder)
    with np.load(folder / "params.npz") as archive:   # a still valid, but different, package
        arrays = {k: archive[k] for k in archive.files}
    key = next(k for k in arrays if k.endswith("thresholds"))
    arrays[key] = arrays[key].copy()
    arrays[key][0, 0] += 1
    np.savez(folder / "params.npz", **arrays)
    with pytest.raises(PackageError, match="sha256 does not match"):
        load(folder)


def test_one_digest_function():
    from hls.codegen import files
    from host import driver, package as pkg
    assert files.package_digest is pkg.digest and driver.package_digest is pkg.digest


# 5. tracebacks -> one line -------------------------------------------------------------------------

@pytest.mark.parametrize("content,fragment", [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object"),
                                              (None, "not found")])
def test_bad_folding_file_is_one_line_in_the_budget_read_too(capsys, tmp_path, content, fragment):
    from hls.estimate import main
    path = tmp_path / "folding.json"
    if content is not None:
        path.write_text(content)
    exits_with_one_line(capsys, main, ["--topology", "cnv_w1a2", "--folding", str(path), "--out",
                                       str(tmp_path / "e.json"), "--quiet"], fragment)


@pytest.mark.parametrize("pe,fragment", [("16", "pe must be a positive integer, got '16'"),
                                         (-4, "pe must be a positive integer, got -4"),
                                         (True, "pe must be a positive integer, got True")])
def test_folding_pe_of_the_wrong_kind_is_named_as_given(capsys, tmp_path, pe, fragment):
    from hls.estimate import main
    from hls.perf import topologies
    g_layers = topologies.TOPOLOGIES["cnv_w1a2"]()
    first = (g_layers["layers"] if isinstance(g_layers, dict) else g_layers)[0]["name"]
    path = tmp_path / "folding.json"
    path.write_text(json.dumps({first: {"pe": pe}}))
    line = exits_with_one_line(capsys, main, ["--topology", "cnv_w1a2", "--folding", str(path), "--out",
                                              str(tmp_path / "e.json"), "--quiet"], fragment)
    assert "%" not in line


def save_ckpt(path, obj):
    torch.save(obj, path)
    return path


def real_checkpoint(path, **extra):
    from training import checkpoint
    from training.models import build_model
    model = build_model("ern_tiny", 1, 10)
    checkpoint.save(path, "ern_tiny", model, in_channels=1, num_classes=10, dataset="synthetic", epoch=1,
                    metrics=[], extra=extra or None)
    return path


@pytest.mark.parametrize("obj,fragment", [([1, 2, 3], "not a dict"), ({"model": "ern_tiny"}, "lacks"),
                                          ({"model": 3, "in_channels": 1, "num_classes": 10, "dataset": "x",
                                            "epoch": 1, "metrics": [], "state_dict": {}}, "'model' is a int"),
                                          ({"model": "nope", "in_channels": 1, "num_classes": 10, "dataset": "x",
                                            "epoch": 1, "metrics": [], "state_dict": {}}, "unknown model")])
def test_a_checkpoint_that_is_not_ours_is_one_line(tmp_path, obj, fragment, capsys):
    from training import evaluate
    path = save_ckpt(tmp_path / "model.pt", obj)
    assert evaluate.main(["--model", "ern_tiny", "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and err.startswith("training.evaluate: error: ")


def resume(out):
    """train --resume's one-line refusal (stderr), after checking it exits 2."""
    import contextlib
    import io
    from training import train
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = train.main(["--model", "ern_tiny", "--dataset", "synthetic", "--epochs", "2", "--limit-batches",
                             "1", "--batch-size", "8", "--out", str(out), "--no-progress", "--threads", "1",
                             "--resume"])
    assert status == 2 and err.getvalue().count("\n") == 1, err.getvalue()
    return err.getvalue()


def test_model_pt_used_as_last_pt_is_one_line(tmp_path):
    real_checkpoint(tmp_path / "last.pt")
    message = resume(tmp_path)
    assert "lacks 'optimizer', 'scheduler'" in message and "resume needs a last.pt" in message


def test_corrupt_last_pt_is_one_line(tmp_path):
    real_checkpoint(tmp_path / "last.pt", optimizer={"state": {}, "param_groups": []},
                    scheduler={"last_epoch": "x"})
    message = resume(tmp_path)
    assert "cannot resume from it" in message and message.count("\n") == 1
    (tmp_path / "last.pt").write_bytes(b"not a zip archive")
    assert "not a readable checkpoint" in resume(tmp_path)


def test_negative_or_zero_training_counts_are_refused(capsys):
    from training import train
    for argv in (["--epochs", "0"], ["--batch-size", "-1"], ["--limit-batches", "-2"]):
        exits_with_one_line(capsys, train.main, ["--dataset", "synthetic"] + argv, argv[0])


# 6. CIFAR-10 batches ------------------------------------------------------------------------------

class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_hostile_cifar_batch_runs_nothing(tmp_path):
    from training import data
    marker = tmp_path / "PWNED"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": _Payload(marker), b"labels": [0]}, f)
    with pytest.raises(datasets.DatasetError, match="refuses global posix.system|refuses global os.system"):
        datasets.cifar10(root=tmp_path)
    with pytest.raises(data.DataError, match="refuses global"):
        data.load("cifar10", "test", tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("batch,fragment", [({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "uint8"),
                                            ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "label 10"),
                                            ({b"data": np.zeros((2, 3072), np.uint8)}, "b'labels'"),
                                            ([1, 2], "expected a dict")])
def test_a_cifar_batch_of_the_wrong_layout_is_one_line(tmp_path, batch, fragment):
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump(batch, f, protocol=2)
    with pytest.raises(datasets.DatasetError, match=re.escape(fragment)):
        datasets.cifar10(root=tmp_path)


def test_real_cifar_layout_reads(tmp_path):
    batch = {b"batch_label": b"testing batch 1 of 1", b"data": np.arange(2 * 3072, dtype=np.uint32).astype(np.uint8)
             .reshape(2, 3072), b"labels": [3, 9], b"filenames": [b"a.png", b"b.png"]}
    for protocol in (2, 4):
        with open(tmp_path / "test_batch", "wb") as f:
            pickle.dump(batch, f, protocol=protocol)
        images, labels, _ = datasets.cifar10(root=tmp_path)
        assert images.shape == (2, 32, 32, 3) and list(labels) == [3, 9]


# 7. README ----------------------------------------------------------------------------------------

def test_readme_says_what_the_tools_refuse():
    text = (REPO / "README.md").read_text()
    section = text[text.index("## What the tools refuse"):]
    for word in ("[A-Za-z0-9_.-]", "FORCE=1", "--force", "restricted unpickler", "sha256", "28x28"):
        assert word in section, word
