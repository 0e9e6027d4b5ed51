"""The `make hls` flow's steps that need no compiler (hls/hls_flow.py; the images come from host/datasets.py).

The whole flow on a small package runs in tests/test_csim.py (slow tier).
"""
import gzip
import json

import numpy as np
import pytest

from codegen_helpers import random_ern
from hls import hls_flow
from host import datasets
from host.package import save


def write_idx(path, array: np.ndarray, code: int = 0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def test_flow_reads_fashion_mnist_through_host_datasets(tmp_path, monkeypatch):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)      # plain and gzipped both work
    monkeypatch.setenv(datasets.FASHION_MNIST_ENV, str(tmp_path))
    x, y, _ = datasets.fashion_mnist("test", limit=3)
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[..., 0], images[:3])
    np.testing.assert_array_equal(y, labels[:3])
    (tmp_path / "bad").write_bytes(b"\x01\x02")
    with pytest.raises(datasets.DatasetError, match="bad magic number"):
        datasets.read_idx(tmp_path / "bad")
    with pytest.raises(datasets.DatasetError, match="t10k-images-idx3-ubyte.*file not found"):
        datasets.fashion_mnist("test", root=tmp_path / "nothing")


def test_fit_images_pads_like_training():
    images = np.full((2, 28, 28, 1), 7, np.uint8)
    padded = hls_flow.fit_images(images, (32, 32, 1))
    assert padded.shape == (2, 32, 32, 1)
    assert padded[:, 2:30, 2:30].min() == 7 and padded.sum() == 7 * 2 * 28 * 28
    assert hls_flow.fit_images(images, (28, 28, 1)) is images
    with pytest.raises(hls_flow.FlowError, match="takes 32x32x3 images"):
        hls_flow.fit_images(images, (32, 32, 3))


def test_parse_csynth_report(tmp_path):
    xml = tmp_path / "ern_top_csynth.xml"
    xml.write_text("""<profile><UserAssignments><Part>xc7z020-clg400-1</Part>
<TargetClockPeriod>10.00</TargetClockPeriod></UserAssignments>
<PerformanceEstimates><SummaryOfTimingAnalysis><EstimatedClockPeriod>7.30</EstimatedClockPeriod>
</SummaryOfTimingAnalysis><SummaryOfOverallLatency><Best-caseLatency>19000</Best-caseLatency>
<Worst-caseLatency>undef</Worst-caseLatency><Interval-min>18433</Interval-min><Interval-max>18433</Interval-max>
</SummaryOfOverallLatency></PerformanceEstimates>
<AreaEstimates><Resources><BRAM_18K>150</BRAM_18K><DSP>0</DSP><FF>25000</FF><LUT>35000</LUT><URAM>0</URAM>
</Resources><AvailableResources><BRAM_18K>280</BRAM_18K><DSP>220</DSP><FF>106400</FF><LUT>53200</LUT>
<URAM>0</URAM></AvailableResources></AreaEstimates></profile>""")
    r = hls_flow.parse_csynth(xml)
    assert r["latency_cycles"] == {"best": 19000, "worst": "undef"}
    assert r["interval_cycles"]["min"] == 18433 and r["estimated_clock_ns"] == 7.3
    assert r["resources"] == {"lut": 35000, "ff": 25000, "bram_18k": 150, "dsp": 0, "uram": 0}


def test_no_vitis_hls_means_null(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert hls_flow.vitis(tmp_path) is None


def test_folding_choice(tmp_path):
    from hls.perf.folding import Budget
    package, folding = random_ern(0)
    build = tmp_path / "m"
    save(package, build / "dataflow")
    (tmp_path / "f.json").write_text(json.dumps(folding))
    chosen, source = hls_flow.choose_folding(package, build / "dataflow", str(tmp_path / "f.json"), None, Budget())
    assert source.startswith("folding file") and chosen["b1.conv1"]["pe"] == folding["b1.conv1"]["pe"]
    # every layer, and the exchange rate the estimate placed memories at (the generator uses it)
    assert set(chosen) == {layer.name for layer in package.layers} | {"_lut_per_bram"}
    searched, source = hls_flow.choose_folding(package, build / "dataflow", None, None, Budget())
    assert "automatic" in source and set(searched) == set(chosen)
    # an unreachable target falls back to the fastest design within the budget
    fast, source = hls_flow.choose_folding(package, build / "dataflow", None, 1e9, Budget())
    assert "not reachable" in source


def test_the_committed_folding_is_the_default_on_its_part(tmp_path):
    from host import boards
    assert hls_flow.default_folding("ern_tiny", boards.get("pynq-z1")) == hls_flow.FOLDINGS / "ern_tiny.json"
    assert hls_flow.default_folding("ern_tiny", boards.get("kv260")) in (
        None, hls_flow.FOLDINGS / "ern_tiny_kv260.json")
    assert hls_flow.default_folding("no_such_model", boards.get()) is None


def test_a_compiler_that_runs_too_long_is_one_clear_error(tmp_path, monkeypatch):
    from hls import csim
    src = tmp_path / "main.cpp"
    src.write_text("int main() { return 0; }\n")
    monkeypatch.setenv("ERN_CSIM_TIMEOUT", "0.001")
    with pytest.raises(csim.CsimError, match=r"g\+\+ did not finish main.cpp within 0 s .*ERN_CSIM_TIMEOUT"):
        csim.build([src], name="too_slow", cache_dir=tmp_path / "cache", nice=False)
