"""host/ goes to the board (Python 3.10, numpy 1.21, no torch/onnx): check it imports and runs
in a Python where those packages cannot be imported, and that its source stays within 3.10 and
numpy 1.21."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from host.package import save
from test_host_package import tiny_package

ROOT = Path(__file__).resolve().parents[1]
HOST = ROOT / "host"

# Not on the board, or not for host/ to import (docs/architecture.md: host never imports them).
BLOCKED = ("torch", "torchvision", "onnx", "onnxruntime", "qonnx", "brevitas", "finn", "hls4ml",
           "training", "hls")

# numpy names that do not exist in numpy 1.21 (added in 1.25 and 2.x).
NUMPY_TOO_NEW = {"bitwise_count", "unstack", "concat", "permute_dims", "matrix_transpose",
                 "vecdot", "cumulative_sum", "cumulative_prod", "isdtype", "astype", "pow",
                 "acos", "asin", "atan", "atan2", "bitwise_left_shift", "bitwise_right_shift",
                 "bitwise_invert", "trapezoid", "unique_values", "unique_counts",
                 "unique_inverse", "unique_all", "long", "ulong", "exceptions", "dtypes"}

BLOCKER = f"""
import importlib.abc, sys
BLOCKED = {BLOCKED!r}

class BoardImports(importlib.abc.MetaPathFinder):
    # Refuses the packages the board does not have, before any other finder sees them.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not available on the board")
        return None

sys.meta_path.insert(0, BoardImports())
"""


def run_as_on_the_board(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(script)], cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)


def test_the_blocker_blocks():
    result = run_as_on_the_board("import torch")
    assert result.returncode != 0 and "torch is not available on the board" in result.stderr


def test_host_imports_and_runs_without_torch_or_onnx(tmp_path):
    package = tiny_package(11)
    folder = save(package, tmp_path / "dataflow")
    images = np.random.default_rng(11).integers(0, 256, (3, 8, 8, 2), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    from host.reference import Reference
    expected = Reference(package).class_sums(images)

    result = run_as_on_the_board(f"""
        import sys
        import numpy as np
        import host, host.ops, host.package, host.reference
        from host.package import load
        from host.reference import Reference
        sums = Reference(load({str(folder)!r})).class_sums(np.load({str(tmp_path / 'images.npy')!r}))
        print(sums.tolist())
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print("blocked modules loaded:", loaded)
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == str(expected.tolist())
    assert lines[1] == "blocked modules loaded: []"


def test_host_reference_cli_runs_without_torch(tmp_path):
    folder = save(tiny_package(12), tmp_path / "dataflow")
    np.save(tmp_path / "images.npy", np.zeros((2, 8, 8, 2), np.uint8))
    result = run_as_on_the_board(f"""
        import sys
        from host.reference import main
        sys.exit(main(["--package", {str(folder)!r}, "--images", {str(tmp_path / 'images.npy')!r}]))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("images=2 ")


def host_sources():
    return sorted(HOST.glob("*.py"))


def test_host_source_parses_as_python_3_10():
    for path in host_sources():
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 10))


def test_host_source_uses_no_numpy_newer_than_1_21():
    for path in host_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "np" and node.attr in NUMPY_TOO_NEW):
                raise AssertionError(f"{path.name}:{node.lineno}: np.{node.attr} is not in numpy 1.21")


def test_host_imports_only_the_standard_library_numpy_and_itself():
    allowed = set(sys.stdlib_module_names) | {"numpy", "host", "pynq"}
    for path in host_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name}:{node.lineno}: imports {name}"
