"""Shared pytest configuration."""
from pathlib import Path

import pytest


# -- the `slow` tier -----------------------------------------------------------------------------
# The marker is registered in pyproject.toml. Tests marked `slow` (larger shapes, more
# combinations, end-to-end runs) are skipped unless asked for with `--runslow` or selected with
# `-m slow`, so a plain `pytest` / `make test` runs the quick tier.

def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow tier: run with --runslow (or -m slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# -- ern_tiny from the committed checkpoint, once per session -------------------------------------
# The trained model's end-to-end tests (compiled emulation, the notebook's real-model path, the
# FPS goal on the lowered package) build their own inputs instead of reading a developer's
# build/ern_tiny/, so they run on a clean clone: export (~20 s) and lower (~3 s) into a session
# folder, generate the HLS C++ (~2 s) with the committed folding. The compiled emulation library
# is cached by content in build/csim_cache/ (host/cxx.py), so only the first session compiles it.

ROOT = Path(__file__).resolve().parents[1]
ERN_TINY_CHECKPOINT = ROOT / "models" / "ern_tiny" / "model.pt"
ERN_TINY_FOLDING = ROOT / "hls" / "foldings" / "ern_tiny.json"


@pytest.fixture(scope="session")
def ern_tiny_build(tmp_path_factory) -> Path:
    """A build folder `ern_tiny/` as `make lower` leaves it: model.onnx and dataflow/, made from
    models/ern_tiny/model.pt (training.export, hls.lower)."""
    from hls.lower.__main__ import main as lower
    from training.export import main as export
    build = tmp_path_factory.mktemp("session_build") / "ern_tiny"
    assert export(["--model", "ern_tiny", "--checkpoint", str(ERN_TINY_CHECKPOINT),
                   "--out", str(build / "model.onnx")]) == 0
    assert lower(["--onnx", str(build / "model.onnx"), "--out", str(build / "dataflow"), "--quiet"]) == 0
    return build


@pytest.fixture(scope="session")
def ern_tiny_hls(ern_tiny_build) -> Path:
    """The same build folder with hls/ generated (hls.codegen, the committed folding): what the
    compiled emulation builds from."""
    from hls.codegen.__main__ import main as codegen
    assert codegen(["--package", str(ern_tiny_build / "dataflow"), "--folding", str(ERN_TINY_FOLDING),
                    "--out", str(ern_tiny_build / "hls")]) == 0
    return ern_tiny_build
