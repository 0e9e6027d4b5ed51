"""The board-side modules (driver, emulation, bench, deploy, datasets, artifacts)
import in a Python where torch, onnx, qonnx, training and hls cannot be imported, and the
bench's CPU path runs there (tests/test_board_import.py checks the rest of host/)."""
import textwrap

from test_board_import import run_as_on_the_board


def test_driver_and_tools_import_without_torch_onnx_training_or_hls():
    result = run_as_on_the_board("""
        import sys
        import host.artifacts, host.datasets, host.driver, host.emulation, host.bench, host.deploy
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print("blocked modules loaded:", loaded)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "blocked modules loaded: []"


def test_driver_runs_in_emulation_without_torch(tmp_path):
    from host.package import save
    from test_host_package import tiny_package
    folder = save(tiny_package(4), tmp_path / "dataflow")
    result = run_as_on_the_board(textwrap.dedent(f"""
        import numpy as np
        from host import emulation
        accel = emulation.open_emulated(package={str(folder)!r}, hls_dir="/nonexistent",
                                        core="reference", batch_size=4)
        images = np.zeros((6, 8, 8, 2), np.uint8)
        print(accel.backend, accel.classify(images)[0].shape)
    """))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["emulation", "(6,)"]
