"""notebooks/ern_pynq_z2.ipynb runs end to end off the board (emulation) through nbclient:
on a self-contained tiny model, and on ern_tiny lowered and generated from the committed
checkpoint (conftest's session fixtures), with the stand-in core and with the compiled HLS C++."""
import json
from pathlib import Path

import numpy as np
import pytest

from host.package import save
from host.reference import Reference
from test_host_package import tiny_package

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "ern_pynq_z2.ipynb"


def execute(env: dict, monkeypatch, timeout: int = 300):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    return "\n".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def tiny_build_dir(folder: Path) -> Path:
    """A build folder with a tiny random model and its sample images (no dataset needed)."""
    package = tiny_package(21)
    save(package, folder / "dataflow")
    rng = np.random.default_rng(21)
    images = rng.integers(0, 256, (64,) + package.input_shape, dtype=np.uint8)
    samples = folder / "samples"
    samples.mkdir()
    np.save(samples / "images.npy", images)
    np.save(samples / "labels.npy", Reference(package).predict(images))
    (samples / "classes.json").write_text(json.dumps([f"class {i}" for i in range(package.classes)]))
    return folder


def test_notebook_runs_in_emulation_on_a_tiny_model(tmp_path, monkeypatch):
    build = tiny_build_dir(tmp_path / "tiny")
    text = execute({"ERN_BUILD_DIR": str(build), "ERN_MODEL": "tiny", "ERN_EMULATION": "1",
                    "ERN_NOTEBOOK_IMAGES": "64", "ERN_NOTEBOOK_REF_IMAGES": "32"}, monkeypatch)
    assert "running on: EMULATION" in text
    assert "class sums identical to the reference on 32/32 images" in text
    assert "top-1 100.00%" in text  # the labels are the reference's own predictions
    assert "backend: emulation" in text


def test_notebook_runs_on_ern_tiny_with_the_stand_in_core(ern_tiny_build, monkeypatch):
    text = execute({"ERN_BUILD_DIR": str(ern_tiny_build), "ERN_MODEL": "ern_tiny",
                    "ERN_EMULATION": "1", "ERN_EMULATION_CORE": "reference",
                    "ERN_NOTEBOOK_IMAGES": "100", "ERN_NOTEBOOK_REF_IMAGES": "100"}, monkeypatch)
    assert "class sums identical to the reference on 100/100 images" in text
    assert "EMULATION (numpy stand-in; not hardware speed)" in text


def test_notebook_runs_on_ern_tiny_with_the_generated_accelerator(ern_tiny_hls, monkeypatch):
    """The compiled library comes from build/csim_cache/ once test_emulation (or an earlier
    session) has built it."""
    text = execute({"ERN_BUILD_DIR": str(ern_tiny_hls), "ERN_MODEL": "ern_tiny", "ERN_EMULATION": "1",
                    "ERN_EMULATION_CORE": "compiled", "ERN_NOTEBOOK_IMAGES": "40",
                    "ERN_NOTEBOOK_REF_IMAGES": "40"}, monkeypatch, timeout=1800)
    assert "class sums identical to the reference on 40/40 images" in text
    assert "EMULATION (compiled HLS C++; not hardware speed)" in text
