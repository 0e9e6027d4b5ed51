"""The calibration guard: BNN-PYNQ's five published builds (benchmarks/calibration.py).

The five folding files parse and name every MVU (Conv) layer of their topology; the estimate's
FPS stays within 3% of each CNV build's measured FPS; for the LFC builds (where the estimate's
II of 512 cycles misses the measured 841 because of BNN-PYNQ's half-frame FIFOs) the FIFO stall
model must stay between the estimate and the measurement and within its documented 17%.
The stall model itself is checked on small chains whose answer is known by hand.
"""
import json
import sys
from pathlib import Path

import pytest

from hls.perf import topologies
from hls.perf.folding import read_folding, validate_folding
from hls.perf.opmodels import Graph
from hls.perf.stall import Convert, Fifo, Mvu, Sink, Source, frame_interval, mvu_chain

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import calibration as C  # noqa: E402

BUILDS = sorted(C.MEASURED)


def test_five_builds():
    assert BUILDS == ["bnn_cnv_w1a1", "bnn_cnv_w1a2", "bnn_cnv_w2a2", "bnn_lfc_w1a1",
                      "bnn_lfc_w1a2"]


@pytest.mark.parametrize("build", BUILDS)
def test_folding_parses_and_covers_every_mvu(build):
    path = ROOT / "hls" / "foldings" / f"{build}_bnn_pynq.json"
    assert "config.h" in json.loads(path.read_text())["_comment"]
    g = Graph(topologies.TOPOLOGIES[build](), build)
    fold = validate_folding(read_folding(path), g, str(path))
    mvus = [l["name"] for l in topologies.TOPOLOGIES[build]()["layers"] if l["op"] == "Conv"]
    assert mvus and all(n in fold and "pe" in fold[n] and "simd" in fold[n] for n in mvus)


@pytest.fixture(scope="module")
def table():
    return {b: (m, p, best) for b, m, p, best in C.rows()}


@pytest.mark.parametrize("build", [b for b in BUILDS if "cnv" in b])
def test_cnv_fps_within_3_percent(table, build):
    m, p, _ = table[build]
    assert abs(C.err(p["fps"], m[0])) <= 3.0, (build, p["fps"], m[0])


@pytest.mark.parametrize("build", [b for b in BUILDS if "lfc" in b])
def test_lfc_stall_model_closes_part_of_the_gap(table, build):
    m, p, _ = table[build]
    assert p["ii"] <= 515                              # every layer's own cycles: 512 (+ flush)
    assert m[0] < p["stall_fps"] < p["fps"]
    assert abs(C.err(p["stall_fps"], m[0])) <= 17.0, (build, p["stall_fps"], m[0])


def test_stall_model_deep_fifos_reach_the_slowest_layer():
    # deep FIFOs: no coupling, the frame interval is the slowest MVU's SF * NF
    layers = [(64, 64, 8, 8, 1, 1), (64, 64, 8, 4, 1, 1)]          # 64 and 128 cycles
    assert frame_interval(mvu_chain(layers, [10**6], word_bits=8)) == 128


def test_stall_model_shallow_fifo_serializes_frames():
    # producer: 1 input word, then 8 output words one per cycle (SF 1, NF 8); consumer reads
    # all 8 in its first fold (SF 8, NF 8 -> 64 cycles). With a 1-word FIFO the producer can
    # hand over only ~1 word of the next frame while the consumer replays, so each frame costs
    # the consumer's 64 cycles plus ~7 cycles of waiting; with 8 words, exactly 64.
    def chain(d):
        return [Source(1), Fifo(8), Mvu(1, 8), Fifo(d), Mvu(8, 8), Fifo(64), Sink(8)]
    assert frame_interval(chain(8)) == 64
    assert frame_interval(chain(1)) > 64


def test_converters_keep_words():
    # 4 words split in 2 and packed again: 4 words a frame at the sink, paced by the splitter's
    # 8 output words at one per cycle
    ch = [Source(4), Fifo(4), Convert(2), Fifo(2), Convert(-2), Fifo(4), Sink(4)]
    assert frame_interval(ch) == 8


@pytest.mark.parametrize("a", [1, 2])
def test_lfc_folding_with_their_fifo_depths_fits_the_lowered_package(a, tmp_path):
    """BNN-PYNQ's LFC folding (Gemm_0 SIMD 56 on the flattened pixel vector) and their half-frame
    FIFO depths reach the generated design of the lowered bnn_lfc_w1a<a>; the estimate of that
    design keeps every layer's own 512 cycles (it does not model the FIFO coupling)."""
    from bnn_helpers import export_bnn
    from hls.codegen.design import build
    from hls.lower import lower
    from hls.perf.estimate import estimate, load_graph
    from host.package import save

    name = f"bnn_lfc_w1a{a}"   # exported as make export does: the layers are Gemm_0..Gemm_3
    package = lower(str(export_bnn(name, tmp_path)[1]), name)
    path = ROOT / "hls" / "foldings" / f"{name}_bnn_pynq_fifos.json"
    folding = json.loads(path.read_text())
    df = build(package, folding)
    depths = {f.ident: f.depth for f in df.fifos}
    assert {k: depths[k] for k in folding["_fifo_depths"]} == folding["_fifo_depths"]
    mvu = next(p for p in df.processes if p.name == "Gemm_0.mvu")
    assert ("SIMD", 56) in mvu.targs and ("PE", 32) in mvu.targs
    save(package, tmp_path / "p")
    d = estimate(load_graph(tmp_path / "p"), path, None, C.CLOCK_MHZ, package=package)
    assert 512 <= d.ii <= 515
