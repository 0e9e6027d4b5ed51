"""One exit-code convention for every command line (host/errors.py, docs/architecture.md "Exit
codes"): every error class derives from ErnError, and every `main` given a bad input exits with
its documented code and exactly one line `<prog>: error: ...` on stderr."""
import importlib
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

from host import errors
from host.errors import CHECK, DEADLOCK, NO_FIT, USAGE, ErnError
from script_helpers import load_script

REPO = Path(__file__).resolve().parents[1]

# Every error class of the project, by module: each must be an ErnError with a code of the table.
ERROR_CLASSES = {
    "host.names": ["BadName"], "host.package": ["PackageError"], "host.ops": ["OpError"],
    "host.datasets": ["DatasetError"], "host.driver": ["DriverError"], "host.emulation": ["EmulationError"],
    "host.deploy": ["DeployError"], "host.boards": ["BoardError"], "host.cxx": ["CxxError", "CxxSetupError"], "hls.csim": ["CsimError"],
    "hls.hls_flow": ["FlowError"], "hls.clocked": ["ClockedError"], "hls.fifos": ["SizingError"], "hls.lower.graph": ["LoweringError"], "hls.codegen.dataflow": ["CodegenError"],
    "hls.perf.opmodels": ["EstimateError"], "hls.perf.folding": ["FoldingError", "FitError"],
    "training.data": ["DataError"], "training.checkpoint": ["CheckpointError"],
}


def test_every_error_class_is_an_ern_error_with_a_documented_code():
    documented = {errors.OK, CHECK, USAGE, NO_FIT, DEADLOCK}
    for module, names in ERROR_CLASSES.items():
        for name in names:
            cls = getattr(importlib.import_module(module), name)
            assert issubclass(cls, ErnError), f"{module}.{name}"
            assert cls.exit_code in documented - {errors.OK}, f"{module}.{name}: {cls.exit_code}"
    from hls.perf.folding import FitError
    assert FitError.exit_code == NO_FIT and errors.exit_code(FitError("x")) == NO_FIT


def test_no_error_class_outside_the_table():
    """A new `class ...Error(...)` anywhere must join the base (and this table)."""
    known = {n for names in ERROR_CLASSES.values() for n in names}
    found = set()
    for folder in ("host", "hls", "training", "tools", "overlay", "benchmarks"):
        for path in (REPO / folder).rglob("*.py"):
            for line in path.read_text().splitlines():
                if line.startswith("class ") and ("Error(" in line or "Exception)" in line):
                    found.add(line.split()[1].split("(")[0])
    assert found - known - {"ErnError", "StepError"} == set()


def raising(error):
    def body(argv):
        raise error
    return body


def test_the_helper_prints_one_line_and_returns_the_code(capsys):
    assert errors.cli("tool", raising(ErnError("first line\nsecond line")), []) == USAGE
    assert capsys.readouterr().err == "tool: error: first line (+1 more lines)\n"
    assert errors.cli("tool", raising(ErnError("late", exit_code=DEADLOCK)), []) == DEADLOCK
    assert errors.cli("tool", raising(OSError("disk full")), []) == USAGE
    assert capsys.readouterr().err == "tool: error: late\ntool: error: disk full\n"
    assert errors.cli("tool", lambda argv: None, []) == errors.OK
    assert errors.cli("tool", lambda argv: CHECK, []) == CHECK
    with pytest.raises(KeyError):   # a bug is not an ErnError: its traceback is kept
        errors.cli("tool", raising(KeyError("bug")), [])


def cli_cases(tmp_path):
    """(prog, main, argv, expected code) for every command line, each with a bad input."""
    missing = tmp_path / "missing"
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((1, 4, 4, 1), np.uint8))
    trained = tmp_path / "run"
    trained.mkdir()
    (trained / "model.pt").write_bytes(b"an earlier run")
    from hls import clocked, fifos, hls_flow
    from hls.codegen.__main__ import main as codegen_main
    from hls.lower.__main__ import main as lower_main
    from hls.perf.estimate import main as estimate_main
    from host import bench, boards, deploy, reference
    from training import evaluate, export, train
    return [
        ("hls", hls_flow.main, ["--model", "nothing", "--build-dir", str(tmp_path)], USAGE),
        ("hls.lower", lower_main, ["--onnx", str(missing / "m.onnx"), "--out", str(tmp_path / "m")], USAGE),
        ("hls.codegen", codegen_main, ["--package", str(missing)], USAGE),
        ("estimate", estimate_main, ["--package", str(missing)], USAGE),
        ("estimate", estimate_main, ["--topology", "ern_tiny", "--target-fps", "6100", "--budget-lut", "5000",
                                     "--out", str(tmp_path / "e.json")], NO_FIT),
        ("reference", reference.main, ["--package", str(missing), "--images", str(images)], USAGE),
        ("bench", bench.main, ["--build-dir", str(tmp_path), "--model", "nothing", "--no-build"], USAGE),
        ("deploy", deploy.main, ["--model", "nothing", "--build-dir", str(missing)], USAGE),
        ("training.export", export.main, ["--model", "ern_tiny", "--checkpoint", str(missing / "m.pt")], USAGE),
        ("training.evaluate", evaluate.main, ["--model", "ern_tiny", "--checkpoint", str(missing / "m.pt")], USAGE),
        ("training.train", train.main, ["--model", "ern_tiny", "--dataset", "synthetic", "--epochs", "1",
                                        "--out", str(trained), "--no-progress"], USAGE),
        ("verify", load_script("tools/verify.py").main, ["--checkpoint", str(missing / "m.pt")], USAGE),
        ("tradeoff", load_script("tools/tradeoff.py").main, ["--variants", "nope"], USAGE),
        ("overlay", load_script("overlay/build.py").main, ["--vivado", str(missing / "vivado")], USAGE),
        ("zoo_boards", load_script("benchmarks/zoo_boards.py").main, ["--models", "not_built_here"], USAGE),
        ("bench_reference", load_script("benchmarks/bench_reference.py").main, ["--models", "not_built_here"],
         USAGE),
        ("bench_candidates", load_script("benchmarks/bench_candidates.py").main, ["--model", "not_built_here"], USAGE),
        ("clocked", clocked.main, ["--model", "nothing", "--build-dir", str(tmp_path)], USAGE),
        ("clocked", clocked.main, ["--model", "nothing", "--build-dir", str(tmp_path), "--frames", "1"], USAGE),
        ("fifos", fifos.main, ["--model", "nothing", "--build-dir", str(tmp_path)], USAGE),
        ("boards", boards.main, ["zedboard"], USAGE),
    ]


def test_every_command_line_gives_its_code_and_one_line(tmp_path, capsys):
    for prog, main, argv, code in cli_cases(tmp_path):
        status = main(argv)
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert status == code, f"{prog}: exit {status}, expected {code}: {err}"
        assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), f"{prog}: {err!r}"
        assert "Traceback" not in err


def test_every_main_ends_through_the_helper():
    """Each command line's module uses host.errors (cli or fail): no private convention."""
    for module in ("hls.hls_flow", "hls.clocked", "hls.fifos", "hls.lower.__main__", "hls.codegen.__main__", "hls.perf.estimate",
                   "host.reference", "host.bench", "host.deploy", "training.export", "training.evaluate",
                   "training.train"):
        source = inspect.getsource(importlib.import_module(module))
        assert "cli(" in source, module
        assert "sys.exit(f\"error" not in source and "return 2\n" not in source, module
    for script in ("tools/verify.py", "tools/tradeoff.py", "overlay/build.py", "benchmarks/zoo_boards.py",
                   "benchmarks/bench_reference.py", "benchmarks/bench_candidates.py"):
        source = (REPO / script).read_text()
        assert ("cli(" in source or "fail(" in source) and "sys.exit(f\"error" not in source, script
