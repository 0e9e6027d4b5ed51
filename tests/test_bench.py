"""host/bench.py: rows, bench.json, the chart and the notes, on a self-contained tiny model
(quick tier), and on ern_tiny with the generated accelerator (slow tier: the board-side bench check that
`python host/bench.py` prints emulation, CPU-reference and predicted rows and that emulation
matches the reference on every image)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from host import bench
from test_notebook import tiny_build_dir

ROOT = Path(__file__).resolve().parents[1]


def with_reports(build: Path) -> Path:
    (build / "estimate.json").write_text(json.dumps({"fps": 12345.0, "clock_mhz": 100.0, "fits": True}))
    (build / "verify.json").write_text(json.dumps({"images": 500, "seconds_brevitas": 2.5,
                                                   "top1_brevitas": 91.5}))
    return build


def test_bench_writes_every_row_kind_it_can_and_says_emulation(tmp_path, capsys):
    build = with_reports(tiny_build_dir(tmp_path / "tiny"))
    status = bench.main(["--build-dir", str(build), "--model", "tiny", "--images", "48",
                        "--emulation", "reference", "--emulation-images", "20", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = json.loads((build / "bench.json").read_text())
    assert [r["kind"] for r in rows] == ["emulation", "cpu-reference", "torch-float", "predicted"]
    for r in rows:
        assert set(r) >= {"backend", "images", "seconds", "fps", "top1", "kind"}
    emu, ref, torch_row, predicted = rows
    assert emu["images"] == 20 and emu["mismatches"] == 0 and "EMULATION" in emu["backend"]
    assert ref["images"] == 48 and ref["top1"] == 100.0  # the labels are the reference's own
    assert torch_row["fps"] == 200.0 and torch_row["top1"] == 91.5 and "make verify" in torch_row["backend"]
    assert predicted["fps"] == 12345.0 and predicted["top1"] is None and "predicted" in predicted["backend"]
    assert "emulation matches the CPU reference: class sums equal on 20/20 images" in out
    assert (build / "bench.png").stat().st_size > 1000


def test_missing_inputs_become_notes_not_failures(tmp_path, capsys):
    build = tiny_build_dir(tmp_path / "tiny")  # no estimate, no verify, no hls/
    status = bench.main(["--build-dir", str(build), "--model", "tiny", "--images", "16", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0
    assert [r["kind"] for r in json.loads((build / "bench.json").read_text())] == ["cpu-reference"]
    assert "note: emulation: " in out and "make hls MODEL=tiny" in out
    assert "note: predicted: " in out and "make estimate MODEL=tiny" in out
    assert "note: torch-float: " in out and "make verify MODEL=tiny" in out


def test_a_missing_package_says_which_make_target_to_run(tmp_path, capsys):
    assert bench.main(["--build-dir", str(tmp_path), "--model", "nothing"]) == 2
    err = capsys.readouterr().err
    assert "make lower MODEL=nothing" in err and len(err.strip().splitlines()) == 1


def test_an_accelerator_that_differs_from_the_reference_fails_the_bench(tmp_path, capsys, monkeypatch):
    from host import emulation
    build = tiny_build_dir(tmp_path / "tiny")
    real = emulation.ReferenceCore.__call__

    def off_by_one(self, words, frames):
        out = real(self, words, frames)
        out[0] += np.uint64(1)  # class 0 of the first frame of every batch
        return out

    monkeypatch.setattr(emulation.ReferenceCore, "__call__", off_by_one)
    status = bench.main(["--build-dir", str(build), "--model", "tiny", "--images", "16",
                        "--emulation", "reference", "--no-progress"])
    assert status == 1
    assert "emulation DIFFERS FROM the CPU reference: class sums equal on 14/16 images" in capsys.readouterr().out


def test_missing_steps_in_pipeline_order(tmp_path):
    files = bench.Artifacts("m", tmp_path)
    assert bench.missing_steps(files, "compiled") == ["lower", "estimate", "codegen"]
    assert bench.missing_steps(files, "reference") == ["lower", "estimate"]
    (tmp_path / "estimate.json").write_text("{}")
    assert bench.missing_steps(files, "none") == ["lower"]
    assert bench.step_command("m", ["lower", "estimate"], "kv260")[1:] == [
        "-m", "hls", "--model", "m", "--board", "kv260", "--to", "estimate"]


def test_a_first_run_in_a_checkout_builds_what_is_missing_with_the_step_runner(tmp_path, capsys, monkeypatch):
    """A stand-in for `python -m hls --to STEP`: the bench runs the steps up to the last missing
    input, then uses what they built."""
    source = with_reports(tiny_build_dir(tmp_path / "made"))
    (tmp_path / "hls").mkdir()
    (tmp_path / "hls" / "hls_flow.py").write_text("")
    fake = ("import shutil, sys; src, build, last = sys.argv[1:4]; "
            "shutil.copytree(src + '/dataflow', build + '/dataflow', dirs_exist_ok=True); "
            "shutil.copytree(src + '/samples', build + '/samples', dirs_exist_ok=True); "
            "shutil.copy(src + '/estimate.json', build) if last != 'lower' else None; "
            "open(build + '/made-codegen.txt', 'w').write(last) if last == 'codegen' else None")
    build = tmp_path / "build" / "tiny"
    monkeypatch.setattr(bench, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(bench, "step_command", lambda model, steps, board="pynq-z2": [
        sys.executable, "-c", fake, str(source), str(build), steps[-1]])
    status = bench.main(["--build-dir", str(build), "--model", "tiny", "--images", "16",
                        "--emulation", "reference", "--emulation-images", "8", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "first run for tiny: building lower, estimate" in out
    assert not (build / "made-codegen.txt").exists()  # --emulation reference needs no C++
    assert [r["kind"] for r in json.loads((build / "bench.json").read_text())] == [
        "emulation", "cpu-reference", "predicted"]
    assert bench.missing_steps(bench.Artifacts("tiny", build), "compiled") == ["codegen"]
    bench.build_missing(bench.Artifacts("tiny", build), ["codegen"])
    assert (build / "made-codegen.txt").read_text() == "codegen"


def test_no_build_and_foreign_build_dirs_never_build(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "build_missing", lambda *a: calls.append(a))
    monkeypatch.setattr(bench, "repo_root", lambda: tmp_path)
    (tmp_path / "hls").mkdir()
    (tmp_path / "hls" / "hls_flow.py").write_text("")
    assert bench.main(["--build-dir", str(tmp_path / "elsewhere"), "--model", "m"]) == 2
    assert bench.main(["--build-dir", str(tmp_path / "build" / "m"), "--model", "m", "--no-build"]) == 2
    assert calls == []
    assert not bench.can_build(bench.Artifacts("m", tmp_path / "build" / "m"), on_board=True)
    assert bench.can_build(bench.Artifacts("m", tmp_path / "build" / "m"), on_board=False)


@pytest.mark.slow
def test_bench_on_ern_tiny_from_the_command_line():
    """From a fresh clone this builds the package, the estimate and the C++ first (make)."""
    build = ROOT / "build" / "ern_tiny"
    result = subprocess.run([sys.executable, "host/bench.py", "--images", "200", "--emulation-images",
                             "40", "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                            timeout=3600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "emulation matches the CPU reference: class sums equal on 40/40 images" in result.stdout
    kinds = [r["kind"] for r in json.loads((build / "bench.json").read_text())]
    assert {"emulation", "cpu-reference", "predicted"} <= set(kinds)
