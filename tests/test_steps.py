"""The pipeline's named steps (hls/hls_flow.py's STEPS) and their runner (hls/runner.py): the
order, --step / --from / --to, skipping a step whose inputs are unchanged and rerunning exactly
what depends on a changed input. Small random packages; the g++ builds and runs are replaced by
stand-ins (the real ones run in tests/test_csim.py's slow tier)."""
import json

import numpy as np
import pytest

from codegen_helpers import random_ern, random_images
from hls import hls_flow, runner
from host.package import save

ORDER = ["export", "lower", "estimate", "codegen", "testdata", "csim", "clocked", "emu", "vitis"]


def test_the_steps_in_order():
    assert runner.names(hls_flow.STEPS) == ORDER


def test_step_from_and_to_choose_a_slice():
    pick = lambda **kw: runner.names(runner.select(hls_flow.STEPS, **kw))  # noqa: E731
    assert pick() == ORDER
    assert pick(step="codegen") == ["codegen"]
    assert pick(first="codegen", last="csim") == ["codegen", "testdata", "csim"]
    assert pick(last="lower") == ["export", "lower"]
    assert pick(first="emu") == ["emu", "vitis"]
    with pytest.raises(runner.StepError, match="unknown step 'nope' .*export, lower, estimate"):
        pick(step="nope")
    with pytest.raises(runner.StepError, match="--from csim comes after --to codegen"):
        pick(first="csim", last="codegen")
    with pytest.raises(runner.StepError, match="--step runs one step"):
        pick(step="csim", last="vitis")


@pytest.mark.parametrize("flag", ["--step", "--from", "--to"])
def test_an_unknown_step_is_one_line_and_exit_2(capsys, tmp_path, flag):
    assert hls_flow.main(["--model", "m", "--build-dir", str(tmp_path), flag, "codgen"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hls: error: unknown step 'codgen' (the steps, in order: export, lower")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_missing_checkpoint_is_one_line(capsys, tmp_path):
    assert hls_flow.main(["--model", "m", "--build-dir", str(tmp_path), "--models-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"hls: error: export: {tmp_path / 'm' / 'model.pt'} is missing\n"


# -- the runner on toy steps ---------------------------------------------------------------------

class Toy:
    def __init__(self, folder):
        self.folder, self.results, self.calls = folder, {}, []


def toy_steps():
    def copy(src, dst):
        def run(flow):
            flow.calls.append(dst)
            (flow.folder / dst).write_text((flow.folder / src).read_text().upper())
            return {"length": len((flow.folder / dst).read_text())}
        return runner.Step(dst, run, lambda flow: [flow.folder / src], outputs=lambda flow: [flow.folder / dst],
                           needs=lambda flow: [flow.folder / src])
    def check(flow):
        flow.calls.append("check")
        return {"bad": "X" in (flow.folder / "b").read_text()}
    check = runner.Step("check", check, lambda flow: [flow.folder / "b"], verdict=lambda r: 1 if r["bad"] else 0)
    return [copy("in", "a"), copy("a", "b"), check]


def run_toy(tmp_path, force=False, **pick):
    steps = toy_steps()
    flow = Toy(tmp_path)
    outcome = runner.run(steps, runner.select(steps, **pick), flow, tmp_path / "state.json", force, log=lambda m: None)
    return flow.calls, outcome


def test_runner_skips_what_is_unchanged_and_reruns_what_depends_on_a_change(tmp_path):
    (tmp_path / "in").write_text("one")
    assert run_toy(tmp_path)[0] == ["a", "b", "check"]
    calls, outcome = run_toy(tmp_path)
    assert calls == [] and {t["status"] for t in outcome.timings.values()} == {"skipped"}
    assert outcome.results["a"] == {"length": 3}      # the recorded result is reused
    (tmp_path / "in").write_text("two")
    assert run_toy(tmp_path)[0] == ["a", "b", "check"]
    (tmp_path / "in").write_text("TWO")                 # a rerun that writes the same bytes
    assert run_toy(tmp_path)[0] == ["a"]                # costs its successors nothing
    (tmp_path / "b").unlink()                           # a missing output reruns its step
    assert run_toy(tmp_path)[0] == ["b"]
    assert run_toy(tmp_path, force=True, first="b")[0] == ["b", "check"]
    state = json.loads((tmp_path / "state.json").read_text())
    assert set(state["steps"]) == {"a", "b", "check"} and state["last"]["b"]["status"] == "ran"


def test_a_failed_step_is_not_recorded(tmp_path):
    (tmp_path / "in").write_text("x")
    calls, outcome = run_toy(tmp_path)
    assert outcome.status == 1 and calls == ["a", "b", "check"]
    calls, outcome = run_toy(tmp_path)
    assert calls == ["check"] and outcome.status == 1     # it runs again until it passes


def test_a_step_without_its_input_keeps_what_is_there(tmp_path):
    (tmp_path / "in").write_text("one")
    run_toy(tmp_path)
    (tmp_path / "in").unlink()
    calls, outcome = run_toy(tmp_path)
    assert calls == [] and outcome.timings["a"] == {"status": "kept", "seconds": 0.0, "why": "no in"}
    (tmp_path / "a").unlink()                             # b's output is there: a is not needed
    assert run_toy(tmp_path)[1].timings["a"]["status"] == "kept"
    (tmp_path / "b").unlink()
    with pytest.raises(runner.StepError, match=r"^a: .*in is missing$"):
        run_toy(tmp_path)


def test_digest_counts_contents_not_times(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    before = runner.digest([f, 1, "a"])
    f.write_text("x")
    assert runner.digest([f, 1, "a"]) == before
    f.write_text("y")
    assert runner.digest([f, 1, "a"]) != before
    assert runner.digest([tmp_path / "missing"]) != runner.digest([f])


# -- the steps of `python -m hls` on a small package ----------------------------------------------

@pytest.fixture()
def small(tmp_path, monkeypatch):
    """build/tiny/dataflow (no ONNX, no checkpoint), a folding file and 6 images as .npy; the
    C-simulation's g++ build and run replaced by stand-ins that return the expected sums."""
    package, folding = random_ern(2)
    save(package, tmp_path / "build" / "tiny" / "dataflow")
    (tmp_path / "fold.json").write_text(json.dumps(folding))
    np.save(tmp_path / "x.npy", random_images(package, 6))
    np.save(tmp_path / "y.npy", np.arange(6) % 4)
    ran = []

    def fake_csim(out, exe, count, jobs, nice=False):
        ran.append("csim")
        expected = np.fromfile(out / "data" / "expected.bin", "<i4").reshape(count, -1)
        return {"seconds": 0.1, "got": expected.astype(np.int64), "tb_mismatches": 0, "protocol_errors": 0,
                "warnings": [], "jobs": 1, "output": ""}

    monkeypatch.setattr(hls_flow, "build_tb", lambda out, model: (tmp_path / "tb", 0.0))
    monkeypatch.setattr(hls_flow, "run_csim", fake_csim)
    return tmp_path, ran


def hls(tmp_path, *more, images=6):
    argv = ["--model", "tiny", "--build-dir", str(tmp_path / "build"), "--models-dir", str(tmp_path / "models"),
            "--folding", str(tmp_path / "fold.json"), "--images-npy", str(tmp_path / "x.npy"),
            "--labels-npy", str(tmp_path / "y.npy"), "--images", str(images), "--to", "csim", *more]
    return hls_flow.main(argv)


def statuses(tmp_path):
    last = json.loads((tmp_path / "build" / "tiny" / "steps.json").read_text())["last"]
    return {k: v["status"] for k, v in last.items()}


def test_a_second_run_skips_every_step_and_a_change_reruns_what_depends_on_it(small, capsys):
    tmp_path, ran = small
    build = tmp_path / "build" / "tiny"
    assert hls(tmp_path) == 0
    assert statuses(tmp_path) == {"export": "kept", "lower": "kept", "estimate": "ran", "codegen": "ran",
                                  "testdata": "ran", "csim": "ran"}
    report = json.loads((build / "hls" / "report.json").read_text())
    assert report["images"] == 6 and report["mismatches"] == 0 and report["steps"]["csim"]["status"] == "ran"
    assert not (build / "hls" / "folding.json").exists() and (build / "folding.json").is_file()   # one folding file

    assert hls(tmp_path) == 0 and ran == ["csim"]
    assert set(statuses(tmp_path).values()) <= {"kept", "skipped"}
    assert "steps: export kept (no model.pt), lower kept (no model.onnx), estimate skipped" in capsys.readouterr().out
    assert json.loads((build / "hls" / "report.json").read_text())["mismatches"] == 0

    folding = json.loads((build / "folding.json").read_text())     # a new folding: codegen and csim
    layer = next(k for k in folding if not k.startswith("_"))
    folding[layer]["pe"] = 1
    (build / "folding.json").write_text(json.dumps(folding))
    assert hls(tmp_path) == 0
    assert statuses(tmp_path) == {"export": "kept", "lower": "kept", "estimate": "skipped", "codegen": "ran",
                                  "testdata": "skipped", "csim": "ran"}

    assert hls(tmp_path, images=4) == 0                             # fewer images: testdata and csim
    assert statuses(tmp_path)["codegen"] == "skipped" and statuses(tmp_path)["testdata"] == "ran"
    assert statuses(tmp_path)["csim"] == "ran"
    assert json.loads((build / "hls" / "report.json").read_text())["images"] == 4

    assert hls(tmp_path, "--step", "codegen", "--force") != 0       # --step goes alone
    assert hls_flow.main(["--model", "tiny", "--build-dir", str(tmp_path / "build"), "--step", "codegen",
                          "--folding", str(tmp_path / "fold.json"), "--force"]) == 0
    assert statuses(tmp_path) == {"codegen": "ran"}


def test_a_mismatch_is_not_recorded_and_runs_again(small, monkeypatch):
    tmp_path, ran = small
    real = hls_flow.run_csim

    def off_by_one(*args, **kw):
        result = real(*args, **kw)
        result["got"][0, 0] += 1
        return result

    monkeypatch.setattr(hls_flow, "run_csim", off_by_one)
    assert hls(tmp_path) == 1 and hls(tmp_path) == 1
    assert ran == ["csim", "csim"]
    assert json.loads((tmp_path / "build" / "tiny" / "hls" / "report.json").read_text())["mismatches"] == 1


def test_a_new_folding_file_reruns_the_estimate(small):
    tmp_path, _ = small
    argv = ["--model", "tiny", "--build-dir", str(tmp_path / "build"), "--folding", str(tmp_path / "fold.json"),
            "--to", "codegen"]
    assert hls_flow.main(argv) == 0
    folding = json.loads((tmp_path / "fold.json").read_text())
    layer = next(k for k in folding if not k.startswith("_"))
    folding[layer]["pe"] = 1
    (tmp_path / "fold.json").write_text(json.dumps(folding))
    assert hls_flow.main(argv) == 0
    assert statuses(tmp_path)["estimate"] == "ran" and statuses(tmp_path)["codegen"] == "ran"
    assert json.loads((tmp_path / "build" / "tiny" / "folding.json").read_text())[layer]["pe"] == 1


def test_a_design_that_does_not_fit_fails_only_to_estimate(small, monkeypatch):
    from hls.perf import estimate
    tmp_path, _ = small
    real = estimate.report
    monkeypatch.setattr(estimate, "report", lambda *a, **kw: dict(real(*a, **kw), fits=False))
    argv = ["--model", "tiny", "--build-dir", str(tmp_path / "build"), "--folding", str(tmp_path / "fold.json")]
    assert hls_flow.main(argv + ["--to", "estimate"]) == 3
    assert hls_flow.main(argv + ["--to", "estimate"]) == 3 and statuses(tmp_path)["estimate"] == "skipped"
    assert hls_flow.main(argv + ["--to", "codegen"]) == 0      # the later steps generate it anyway


# -- make calls the same runner ---------------------------------------------------------------------

def test_make_targets_call_the_step_runner(tmp_path):
    """export, lower, estimate and hls are the runner with a step, a slice, or every step."""
    import shutil
    import subprocess
    from pathlib import Path
    if shutil.which("make") is None:
        pytest.skip("no make")
    root = Path(__file__).resolve().parents[1]
    for name in ("Makefile", "requirements.txt"):
        shutil.copy(root / name, tmp_path / name)
    for name in ("hls", "host"):            # the lowering rule's prerequisites
        (tmp_path / name).symlink_to(root / name)
    (tmp_path / "models" / "m").mkdir(parents=True)
    (tmp_path / "models" / "m" / "model.pt").write_bytes(b"")
    out = subprocess.run(["make", "-n", "hls", "estimate", "MODEL=m", "FORCE=1", "IMAGES=7"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60).stdout
    runs = [" ".join(line.split()) for line in out.splitlines() if " -m hls " in line]
    prefix = ".venv/bin/python -m hls --model m --board pynq-z2 --force"
    assert runs == [f"{prefix} --step export", f"{prefix} --step lower", f"{prefix} --images 7",
                    f"{prefix} --step estimate"], out


def test_one_step_reads_the_recorded_results_of_the_steps_before_it(small, capsys):
    tmp_path, ran = small
    csim_alone = ["--model", "tiny", "--build-dir", str(tmp_path / "build"), "--step", "csim"]
    assert hls_flow.main(csim_alone) == 2
    assert capsys.readouterr().err == "hls: error: no result of the testdata step yet: run the steps from " \
                                      "testdata (--from testdata)\n"
    assert hls(tmp_path) == 0
    assert hls_flow.main(csim_alone + ["--force"]) == 0 and ran == ["csim", "csim"]
    report = json.loads((tmp_path / "build" / "tiny" / "hls" / "report.json").read_text())
    assert report["images"] == 6 and list(report["steps"]) == ["csim"] and report["clocked"] is None
