"""host/deploy.py (`make deploy`): the folder holds what the README says, and the bench and the
notebook run from inside it with no dataset and no repository around (as on the board, but in
emulation); the host/ copy imports with torch, onnx and qonnx unavailable."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from host import deploy
from host.package import load
from host.reference import Reference
from test_board_import import BLOCKER
from test_notebook import tiny_build_dir

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    build = tiny_build_dir(tmp_path_factory.mktemp("build") / "tiny")
    (build / "overlay").mkdir()
    (build / "overlay" / "tiny.bit").write_bytes(b"bit")
    (build / "overlay" / "tiny.hwh").write_text("<hwh/>")
    out = deploy.deploy("tiny", build_dir=build, out=tmp_path_factory.mktemp("deploy") / "tiny",
                        samples=40)
    return build, out


def test_the_deploy_folder_holds_everything_the_readme_lists(deployed):
    build, out = deployed
    manifest = json.loads((out / "deploy.json").read_text())
    assert manifest["model"] == "tiny" and manifest["bitstream"] == "overlay/tiny.bit"
    for path in ("overlay/tiny.bit", "overlay/tiny.hwh", "dataflow/model.json", "dataflow/params.npz",
                 "host/driver.py", "host/reference.py", "host/bench.py", "setup.py",
                 "ern_pynq_z2.ipynb", "samples/images.npy", "samples/labels.npy",
                 "samples/classes.json", "samples/expected_class_sums.npy",
                 "samples/expected_labels.npy", "samples/expected_logits.npy", "README.md"):
        assert (out / path).is_file(), path
    images = np.load(out / "samples" / "images.npy")
    package = load(out / "dataflow")
    assert images.shape == (40,) + package.input_shape and images.dtype == np.uint8
    assert np.array_equal(np.load(out / "samples" / "expected_class_sums.npy"),
                          Reference(package).class_sums(images))
    readme = (out / "README.md").read_text()
    assert "/usr/local/share/pynq-venv/bin/pip install --no-deps --no-build-isolation ." in readme
    assert "scp -r build/tiny/deploy" in readme and "No bitstream" not in readme


def test_without_a_bitstream_the_readme_says_so_and_no_old_one_is_left(deployed, tmp_path):
    build, out = deployed
    for path in (build / "overlay").iterdir():
        path.rename(tmp_path / path.name)
    try:
        deploy.deploy("tiny", build_dir=build, out=out, samples=8)
        assert not (out / "overlay" / "tiny.bit").exists()
        assert "No bitstream in this folder" in (out / "README.md").read_text()
        assert json.loads((out / "deploy.json").read_text())["bitstream"] is None
    finally:
        for path in tmp_path.iterdir():
            path.rename(build / "overlay" / path.name)
        deploy.deploy("tiny", build_dir=build, out=out, samples=40)


def run_in(folder: Path, script: str, *args) -> subprocess.CompletedProcess:
    """A Python in the deploy folder: no repository on the path, no dataset, no torch/onnx."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ERN_DATA_FASHION_MNIST": "/nonexistent",
           "MPLBACKEND": "Agg", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-c", BLOCKER + script, *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_bench_runs_inside_the_deploy_folder_as_on_a_board(deployed):
    _, out = deployed
    result = run_in(out, "import runpy, sys; sys.argv = ['host/bench.py'] + sys.argv[1:];"
                         "runpy.run_path('host/bench.py', run_name='__main__')",
                    "--images", "40", "--emulation", "reference", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"tiny: 40 images from {out / 'samples'}" in result.stdout
    assert "class sums equal on 40/40 images" in result.stdout
    assert (out / "bench.json").is_file()


def test_the_host_copy_imports_as_on_the_board(deployed):
    _, out = deployed
    result = run_in(out, "import sys; sys.path.insert(0, '.');"
                         "import host.driver, host.bench, host.deploy, host.datasets, host.emulation;"
                         "from host.artifacts import Artifacts;"
                         "print(Artifacts.find().build_dir, host.driver.__file__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(out), str(out / "host" / "driver.py")]


def test_notebook_runs_inside_the_deploy_folder(deployed, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    _, out = deployed
    for key in ("ERN_BUILD_DIR", "ERN_MODEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ERN_EMULATION", "1")
    monkeypatch.setenv("ERN_DATA_FASHION_MNIST", "/nonexistent")
    nb = nbformat.read(out / "ern_pynq_z2.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(out)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"model tiny, files in {out}" in text
    assert "class sums identical to the reference on 40/40 images" in text
