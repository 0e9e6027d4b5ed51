"""The clocked C-simulation (-DERN_CLOCKED_SIM, hls/fifo_sim/clocked_stream.h, hls/clocked.py).

Small regions of tests/hls_tb/clocked_tb.cpp with cycle counts worked out by hand (each test
says how), the real sliding window and MVU against the performance model's cycle formula, and a
generated design (the random ERN of tests/test_csim.py): bit-exact in clocked mode, and a skip
FIFO made too shallow stops with a deadlock naming it.

Semantics used in the hand counts (clocked_stream.h): II=1 loops start one iteration per cycle;
an iteration's reads and writes take effect in the cycle it completes; a word written in cycle t
is readable from t+1; a slot freed in cycle t is writable from t+1; a stalled iteration stalls
its loop. "Region cycles" = index of the last cycle in which a process did something, plus 1.
"""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codegen_helpers import random_ern, random_images
from hls import clocked, csim
from hls.codegen import generate
from host.reference import Reference

REPO = Path(__file__).resolve().parents[1]
TB = REPO / "tests" / "hls_tb" / "clocked_tb.cpp"
GEN = REPO / "build" / "tests" / "clocked"


@pytest.fixture(scope="module")
def tb() -> Path:
    return csim.build([TB], include_dirs=[REPO / "hls" / "fifo_sim"], defines={"ERN_CLOCKED_SIM": None},
                      opt="-O2", werror=True, extra_flags=["-Wextra"], name="clocked_tb")


def run_case(tb: Path, *args, status: int = 0) -> dict:
    proc = subprocess.run([str(tb), *map(str, args)], capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == status, out
    if status == 0:
        assert "check=ok" in out, out
    result = clocked.parse(out)
    result["text"] = out
    return result


def procs(result: dict) -> dict:
    return {p["name"]: p for p in result["processes"]}


# --------------------------------------------------------------------------------------------
# Producer -> FIFO -> consumer, both II=1, N = 1000 beats.
# --------------------------------------------------------------------------------------------

def test_depth_1_halves_the_rate(tb):
    # Cycle 0: the producer writes w0. Cycle 1: the consumer reads w0; its slot is free only
    # from cycle 2, so the producer stalls (output-blocked). Cycle 2: w1 written; the consumer
    # finds nothing visible (input-starved). So writes at 0, 2, ..., 2N-2, reads at 1, 3, ...,
    # 2N-1: 2N cycles; producer blocked at 1, 3, ..., 2N-3 (N-1 cycles), consumer starved at
    # 0, 2, ..., 2N-2 (N cycles).
    n = 1000
    r = run_case(tb, "pc", 1, n)
    assert r["cycles"] == 2 * n
    p = procs(r)
    assert p["producer"] == {"name": "producer", "busy": n, "starved": 0, "blocked": n - 1}
    assert p["consumer"] == {"name": "consumer", "busy": n, "starved": n, "blocked": 0}
    assert r["fifos"][0]["peak"] == 1


@pytest.mark.parametrize("depth", [2, 8])
def test_depth_2_and_more_run_at_full_rate(tb, depth):
    # The producer writes w_c in cycle c; the consumer reads it in c+1. In cycle c the FIFO
    # holds w_{c-1} only (w_{c-2} was read in c-1, so its slot is free again): one word < 2,
    # never blocked. Reads at 1..N: N+1 cycles; the consumer is starved in cycle 0 only. The
    # FIFO never holds more than 2 (w_{c-1} and the word written in c), whatever its depth.
    n = 1000
    r = run_case(tb, "pc", depth, n)
    assert r["cycles"] == n + 1
    p = procs(r)
    assert p["producer"] == {"name": "producer", "busy": n, "starved": 0, "blocked": 0}
    assert p["consumer"] == {"name": "consumer", "busy": n, "starved": 1, "blocked": 0}
    assert r["fifos"][0]["peak"] == 2


# --------------------------------------------------------------------------------------------
# source -> FIFO(2) -> pass-through (blocking read + write per iteration, like the window) ->
# FIFO(depth) -> burst reader (the MVU's pattern: SF = 2 reads at nf == 0, NF = 2 folds, so
# 4 iterations per vector, 2 of them without a read), V = 100 vectors.
# --------------------------------------------------------------------------------------------

def test_burst_reader_behind_a_pass_through_at_depth_2(tb):
    # The pass-through writes p0 in cycle 1 (s0 is readable from 1), p1 in 2, ... The burst
    # reader is starved in 0 and 1, reads p0, p1 in 2, 3, computes in 4, 5. While it computes
    # the pass-through refills the FIFO (p2 in 3, p3 in 4) and blocks in 5; the reader finds
    # p2, p3 ready in 6, 7. So vector v takes cycles 2+4v .. 5+4v: 4V+2 cycles, 2 starved.
    v = 100
    r = run_case(tb, "burst", 2, v)
    assert r["cycles"] == 4 * v + 2
    assert procs(r)["burst"] == {"name": "burst", "busy": 4 * v, "starved": 2, "blocked": 0}
    assert r["frame_ends"] == [4 * v + 2]


def test_burst_reader_behind_a_pass_through_at_depth_1(tb):
    # Depth 1: the first beat of a vector is waiting (written during the compute cycles), the
    # reader takes it in cycle t, the slot frees in t+1, the pass-through writes the second
    # beat in t+1, the reader takes it in t+2 (starved in t+1). Vector v: read 2+5v, stall,
    # read 4+5v, compute 5+5v and 6+5v: 5V+2 cycles, starved 2 + V. The too-shallow FIFO
    # costs 25% here.
    v = 100
    r = run_case(tb, "burst", 1, v)
    assert r["cycles"] == 5 * v + 2
    assert procs(r)["burst"] == {"name": "burst", "busy": 4 * v, "starved": v + 2, "blocked": 0}


# --------------------------------------------------------------------------------------------
# A residual-block shape: source -> fork -> {skip FIFO(depth), delay line of 4} -> join.
# --------------------------------------------------------------------------------------------

def fork_join_model(n: int, skip: int, delay: int = 4) -> int:
    """Region cycles of the fork/join case by an iteration-level recurrence of the semantics
    above (the hand model): a_k, f_k, e_i, t_j = the cycle in which iteration k of the source,
    fork, delay line and join completes. A word x written in cycle w is readable from w+1; the
    slot of the word read by an iteration completing in cycle r is writable from r+1. FIFOs
    src, main_in, main_out hold 2; the skip FIFO `skip` (>= delay + 1: else a cycle of
    waits, a deadlock)."""
    assert skip >= delay + 1
    a, f, e, t = {}, {}, {}, {}
    for m in range(n + delay):
        if m < n:
            a[m] = max(a.get(m - 1, -1) + 1, f.get(m - 2, -1) + 1)                   # src room
            f[m] = max(f.get(m - 1, -1) + 1, a[m] + 1,                               # s_m readable
                       t.get(m - skip, -1) + 1, e.get(m - 2, -1) + 1)                # skip, main_in room
        e[m] = max(e.get(m - 1, -1) + 1, f[m] + 1 if m < n else 0,                   # x_m readable
                   t.get(m - delay - 2, -1) + 1 if m >= delay else 0)                # main_out room
        if m >= delay:
            j = m - delay
            t[j] = max(t.get(j - 1, -1) + 1, f[j] + 1, e[m] + 1)                     # x_j, y_j readable
    return t[n - 1] + 1


@pytest.mark.parametrize("skip", [5, 6, 7, 8, 16])
def test_fork_join_cycles_follow_the_skip_depth(tb, skip):
    # The join needs y_j, which the delay line writes 4 iterations after reading x_j, so the
    # fork runs 5-6 beats ahead on the skip side. Full rate (n + 7 cycles: x_j readable at
    # j+2, y_j written at j+6, joined at j+7) needs 7 slots; 6 slots let the fork write two
    # beats per 3 cycles, 5 slots about one per 2 cycles (the recurrence above, exactly).
    n = 100
    r = run_case(tb, "fork", skip, n)
    assert r["cycles"] == fork_join_model(n, skip)
    if skip >= 7:
        assert r["cycles"] == n + 7
    else:
        assert r["cycles"] > n + 7 + (n // 3)   # the slowdown of a too-shallow skip FIFO
    assert {f["name"]: f["peak"] for f in r["fifos"]}["s_skip"] == min(skip, 7)


def test_a_too_shallow_skip_fifo_deadlocks_and_is_named(tb):
    # With 4 slots the fork stops after x3 (x0 is held by the join, waiting for y0), the delay
    # line needs x4 in the same iteration that writes y0: nothing can move.
    r = run_case(tb, "fork", 4, 100, status=clocked.DEADLOCK_STATUS)
    stall = r["stall"]
    assert stall["kind"] == "deadlock"
    assert "s_skip" in stall["full"]
    state = {s["name"]: s for s in stall["fifo_states"]}
    assert state["s_skip"]["fill"] == "4" and state["s_skip"]["waiting"] == "write-full"
    assert state["s_skip"]["writer"] == "fork" and state["s_skip"]["reader"] == "join"


# --------------------------------------------------------------------------------------------
# The real hls/lib units alone, against the performance model's cycle formula.
# --------------------------------------------------------------------------------------------

def conv_model_cycles(k, s, p, h, w, cin, cout, simd, pe) -> dict:
    """The performance model's cycles of one Conv layer (window and MVU). Imported here only:
    the model may move (hls/perf/)."""
    try:
        from hls.perf.opmodels import OP_MODELS, Graph
    except ImportError:
        from hls.opmodels import OP_MODELS, Graph
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    model = {"model": "one_conv", "input": "x", "output": "y",
             "streams": {"x": {"shape": [h, w, cin], "bits": 2}, "y": {"shape": [ho, wo, cout], "bits": 16,
                                                                       "signed": True}},
             "layers": [{"name": "conv", "op": "Conv", "inputs": ["x"], "outputs": ["y"], "kernel": k,
                         "stride": s, "pad": p, "output": "accumulate"}]}
    g = Graph(model)
    return OP_MODELS["Conv"].cycles(g.layers[0], {"pe": pe, "simd": simd}, g)


def test_sliding_window_alone_is_within_1_percent_of_the_model(tb):
    # sliding_window<3, 1, 1, 14, 14, 64, 32, 2>: 14*14*9*2 = 3528 window beats a frame; the
    # model adds the fill of the first window, (1*14 + 2)*2 = 32 beats: 3560.
    model = conv_model_cycles(3, 1, 1, 14, 14, 64, 64, 32, 16)["swu_cycles"]
    assert model == 3528 + 32
    r = run_case(tb, "window", 3)
    assert r["cycles_per_frame"] is not None
    assert abs(r["cycles_per_frame"] - model) <= 0.01 * model, (r["cycles_per_frame"], model)
    assert procs(r)["window"]["starved"] == 0 and procs(r)["window"]["blocked"] == 0


def test_mvu_alone_matches_the_model(tb):
    # mvu_accumulate<576, 64, 196, 32, 16>: SF = 18, NF = 4, 196 vectors: 14112 cycles a frame,
    # exactly (one (nf, sf) tile per cycle, nothing else in the loop).
    model = conv_model_cycles(3, 1, 1, 14, 14, 64, 64, 32, 16)["mvu_cycles"]
    assert model == 196 * 4 * 18
    r = run_case(tb, "mvu", 3)
    assert r["cycles_per_frame"] == model
    assert r["latency_cycles"] == model
    assert procs(r)["mvu"]["busy"] == 3 * model


# --------------------------------------------------------------------------------------------
# A generated design (codegen), the whole flow of hls/clocked.py.
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ern_clocked():
    package, folding = random_ern(7)
    result = generate(package, GEN / "ern", folding)
    exe, _ = clocked.build(result.out_dir, "test_ern")
    return package, result, exe


def write_data(folder: Path, package, n: int) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    images = random_images(package, n)
    sums = Reference(package).class_sums(images)
    images.tofile(folder / "images.bin")
    sums.astype("<i4").tofile(folder / "expected.bin")
    return sums


def test_generated_design_runs_clocked_and_bit_exact(ern_clocked, tmp_path):
    package, result, exe = ern_clocked
    write_data(tmp_path, package, 4)
    r = clocked.run(exe, tmp_path, frames=4)
    assert r["stall"] is None and r["mismatches"] == 0 and r["exit_status"] == 0
    assert r["frames"] == 4 and len(r["frame_ends"]) == 4 and r["cycles_per_frame"] > 0
    assert r["fps"] == pytest.approx(100e6 / r["cycles_per_frame"], rel=1e-3)
    assert [p["name"] for p in r["processes"]] == [p.name for p in result.dataflow.processes]
    depths = {f["name"]: f for f in r["fifos"]}
    for f in result.dataflow.fifos:
        assert depths[f.ident]["depth"] == f.depth and depths[f.ident]["peak"] <= f.depth
    # every process accounts for at most every cycle of the region
    assert all(p["busy"] + p["starved"] + p["blocked"] <= r["cycles"] for p in r["processes"])


def test_generated_skip_fifo_too_shallow_deadlocks(ern_clocked, tmp_path):
    package, result, exe = ern_clocked
    skip = max((f for f in result.fifos if f["rule"] == "skip"), key=lambda f: f["lead_beats"])
    write_data(tmp_path, package, 2)
    r = clocked.run(exe, tmp_path, frames=2, depths={skip["fifo"]: 2})
    assert r["exit_status"] == clocked.DEADLOCK_STATUS and r["mismatches"] is None
    assert r["stall"]["kind"] == "deadlock" and skip["fifo"] in r["stall"]["full"]


def test_parse_decodes_names_and_the_stall_report():
    text = "\n".join([
        "clocked: region cycles=100 frames=3 processes=1 fifos=1",
        "clocked: process name=b1%2Fconv1%3A0 busy=90 starved=5 blocked=5",
        "clocked: fifo name=out%20port depth=0 peak=3 writes=3 interval=40.0 first=20 sink=1",
        "clocked: frames sink=out%20port ends=20,60,100",
    ])
    r = clocked.parse(text, clock_mhz=100)
    assert r["processes"][0]["name"] == "b1/conv1:0" and r["fifos"][0]["name"] == "out port"
    assert r["cycles_per_frame"] == 40 and r["latency_cycles"] == 20 and r["fps"] == 2.5e6
    assert clocked.steady_cycles(r) == 40
    # a deep FIFO still draining its lead: the output runs faster than its writer, for a while
    r = clocked.parse(text + "\nclocked: fifo name=s_deep depth=0 peak=90 writes=30 interval=50.0 first=5 sink=0 "
                             "writer=slow reader=fast")
    assert r["slowest_fifo"] == {"name": "s_deep", "interval": 50}
    assert clocked.steady_cycles(r) == 50 and "NOT STEADY" in clocked.summary(r)
    stall = clocked.parse_stall("CLOCKED STALL: deadlock: every process is stalled at cycle 7\n"
                                "clocked: fifo_state name=s%2Fa fill=2 depth=2 taken=0 unseen=0 writer=p "
                                "reader=q waiting=write-full\n")
    assert stall["kind"] == "deadlock" and stall["cycle"] == 7 and stall["full"] == ["s/a"]


def test_cli_rejects_bad_input_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hls.clocked", "--model", "nope",
                           "--build-dir", str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.fullmatch(r"clocked: error: no generated design .*\n", proc.stderr)
    with pytest.raises(clocked.ClockedError):
        clocked.parse_depths("s_x=deep")


@pytest.mark.slow
def test_fifo_sizing_reaches_the_unbounded_rate_and_codegen_reads_it(ern_clocked, tmp_path):
    from hls import fifos
    package, result, _ = ern_clocked
    write_data(result.out_dir / "data", package, 3)
    sized = fifos.size(result.out_dir, "test_ern", frames=3, log=lambda m: None)
    target = sized["target_cycles_per_frame"]
    assert target <= sized["cycles_per_frame"] <= target * 1.02
    assert set(sized["depths"]) == {f.ident for f in result.dataflow.fifos}
    assert all(d >= fifos.MIN_DEPTH for d in sized["depths"].values())
    # the depths as codegen writes them: the same cycles in a fresh build
    again = generate(package, GEN / "ern_sized", random_ern(7)[1], fifo_depths=sized["depths"])
    top = (again.out_dir / "ern_top.cpp").read_text()
    for name, depth in sized["depths"].items():
        assert f"#pragma HLS STREAM variable={name} depth={depth}" in top
    exe, _ = clocked.build(again.out_dir, "test_ern_sized")
    r = clocked.run(exe, result.out_dir / "data", frames=3)
    assert clocked.steady_cycles(r) == sized["cycles_per_frame"] and r["mismatches"] == 0


def test_estimate_and_clocked_agree_within_3_percent_with_sized_fifos(ern_clocked, tmp_path):
    """Two independent views of one figure: the estimate's cycles per frame (the performance
    model, pricing the generated Dataflow) and the clocked C-simulation's, on the random ERN with
    its FIFOs sized by hls.fifos and given to codegen the way a folding file gives them
    (`_fifo_depths`); the estimate prices those depths."""
    from hls import fifos
    from hls.codegen.design import FIFO_KEY
    from hls.perf.estimate import load_graph
    from hls.perf.generated import evaluate_generated
    from host.package import save
    package, result, _ = ern_clocked
    write_data(result.out_dir / "data", package, 4)
    sized = fifos.size(result.out_dir, "test_ern", frames=4, log=lambda m: None)
    folding = dict(random_ern(7)[1], **{FIFO_KEY: sized["depths"]})
    again = generate(package, GEN / "ern_sized_folding", folding)
    assert {f.ident: f.depth for f in again.dataflow.fifos} == sized["depths"]
    save(package, tmp_path / "dataflow")
    d = evaluate_generated(load_graph(tmp_path / "dataflow"), again.dataflow)
    assert {f["fifo"]: f["depth"] for f in d.fifos} == sized["depths"]     # priced at the sized depths
    exe, _ = clocked.build(again.out_dir, "test_ern_sized_folding")
    r = clocked.run(exe, result.out_dir / "data", frames=4)
    assert r["stall"] is None and r["mismatches"] == 0
    assert abs(d.ii / clocked.steady_cycles(r) - 1) <= 0.03, (d.ii, clocked.steady_cycles(r), d.bottleneck)


def test_fifos_cli_never_overwrites_without_force_and_needs_the_file_it_updates(tmp_path):
    existing = tmp_path / "mine.json"
    existing.write_text('{"_comment": "the user\'s"}\n')
    for argv, expect in ((["--update"], "--update needs --folding"),
                         (["--out", str(existing)], f"{existing} exists; pass --force"),
                         (["--folding", str(existing), "--update", "--out", str(existing)], "not both")):
        proc = subprocess.run([sys.executable, "-m", "hls.fifos", "--model", "nope", "--build-dir", str(tmp_path),
                               *argv], capture_output=True, text=True, cwd=REPO, timeout=60)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert re.fullmatch(r"fifos: error: .*\n", proc.stderr) and expect in proc.stderr, proc.stderr
    assert existing.read_text() == '{"_comment": "the user\'s"}\n'
