"""hls/codegen without a compiler: names, param layout, determinism, FIFO sizing, files, errors.

The generated C++ is compiled and run in tests/test_csim.py.
"""
import json
import re

import numpy as np
import pytest

from codegen_helpers import cnv_like, random_ern
from hls import codegen
from hls.codegen import (CodegenError, Namer, build, fold_rows, fold_weight_planes, fold_weights, generate,
                         pack_words, render, sanitize)
from hls.codegen.dataflow import need_width_convert, need_window
from hls.codegen.fifos import PIPELINE_SLACK
from host import ops

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# -- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, ident", [
    ("Conv_0", "Conv_0"),
    ("stage1.conv1", "stage1_conv1"),
    ("/layer1/0/Add_output_0", "layer1_0_Add_output_0"),
    ("a  -- b", "a_b"),
    ("__init__", "init"),          # no reserved leading underscores, no double underscores
    ("x__y", "x_y"),
    ("1st", "n1st"),               # no leading digit
    ("int", "int_"),               # no keyword
    ("frames", "frames_"),         # nor a name the generated code uses
    ("", "x"),
    ("...", "x"),
    ("Größe", "Gr_e"),
])
def test_sanitize(name, ident):
    assert sanitize(name) == ident
    assert IDENT.match(sanitize(name))


def test_namer_is_unique_and_stable():
    n = Namer()
    assert n.get("s_", "a.b") == "s_a_b"
    assert n.get("s_", "a_b") == "s_a_b_2"       # collides after sanitizing: numbered in order
    assert n.get("s_", "a.b") == "s_a_b"         # the same name again: the same identifier
    assert n.get("", "s_a_b") == "s_a_b_3"       # across prefixes too
    n.reserve("ern_top")
    assert n.get("", "ern_top") == "ern_top_2"


# -- param layout (hls/lib/README.md) -----------------------------------------------------------

def test_fold_layout_matches_the_library_readme():
    rng = np.random.default_rng(0)
    mh, mw, pe, simd = 12, 18, 4, 6
    w = rng.choice([-1, 1], (mh, mw))
    bits = fold_weights(w, pe, simd)
    nf, sf = mh // pe, mw // simd
    for p in range(pe):
        for n in range(nf):
            for s in range(sf):
                np.testing.assert_array_equal(bits[p, n * sf + s], w[n * pe + p, s * simd:(s + 1) * simd] > 0)
    t = rng.integers(-9, 9, (mh, 3))
    np.testing.assert_array_equal(fold_rows(t, pe), t.reshape(nf, pe, 3).transpose(1, 0, 2))
    d = rng.choice([-1, 1], mh)
    np.testing.assert_array_equal(fold_rows(d, pe), d.reshape(nf, pe).T)


@pytest.mark.parametrize("simd", [1, 5, 63, 64, 80])
def test_pack_words(simd):
    bits = np.random.default_rng(simd).integers(0, 2, (3, 4, simd))
    words = pack_words(bits)
    for p in range(3):
        for t in range(4):
            assert words[p][t] == sum(int(b) << s for s, b in enumerate(bits[p, t]))


def test_the_library_tests_use_the_same_layout():
    import test_hls_lib
    assert test_hls_lib.fold_weight_planes is fold_weight_planes and test_hls_lib.fold_rows is fold_rows


def test_weight_planes_and_masks_lie_side_by_side_in_a_word():
    """hls/lib/mvu.h: field k = bits [k*SIMD, (k+1)*SIMD): sign planes 0..B-1, then masks 1..B-1."""
    rng = np.random.default_rng(1)
    signs = rng.choice([-1, 1], (3, 4, 6))
    masks = rng.integers(0, 2, (3, 4, 6))
    bits = fold_weight_planes(signs, masks, 2, 3, masked=True)
    assert bits.shape == (2, 4, 3 * 5)
    fields = [fold_weights(f, 2, 3) for f in (*signs, masks[1], masks[2])]
    for k, f in enumerate(fields):
        np.testing.assert_array_equal(bits[:, :, 3 * k:3 * (k + 1)], f)
    np.testing.assert_array_equal(fold_weight_planes(signs[:1], masks[:1], 2, 3, masked=False),
                                  fold_weights(signs[0], 2, 3))


# -- determinism and files ----------------------------------------------------------------------

def test_generation_is_byte_identical(tmp_path):
    package, folding = random_ern(3)
    a = generate(package, tmp_path / "a", folding)
    b = generate(random_ern(3)[0], tmp_path / "b", dict(reversed(list(folding.items()))))
    assert a.files.keys() == b.files.keys()
    for rel in a.files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert render(build(package, folding)) == a.files
    expected = {"ern_top.h", "ern_top.cpp", "tb.cpp", "emu.cpp", "run_hls.tcl", "README.md", "interface.json",
                "lib/mvu.h", "lib/dataflow.h", "lib/clocked_stream.h", "params_b1_conv1.h"}
    assert expected <= set(a.files)
    text = b"".join(a.files.values()).decode()
    assert str(tmp_path) not in text     # nothing depends on where it was generated


def test_regenerating_removes_stale_files(tmp_path):
    package, folding = random_ern(0)
    generate(package, tmp_path, folding)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "images.bin").write_bytes(b"x")
    assert (tmp_path / "params_b2_conv2.h").is_file()
    package, folding = cnv_like(0)
    generate(package, tmp_path, folding)
    assert not (tmp_path / "params_b2_conv2.h").exists()
    assert (tmp_path / "params_fc4.h").is_file() and (tmp_path / "data" / "images.bin").is_file()


def test_graph_names_become_unique_identifiers(tmp_path):
    names = {"embed": "1st embed", "stem": "int", "b1.conv1": "b1/conv1:0", "b1.conv2": "b1.conv1",
             "b1.short": "b1_conv1", "head.sum": "frames"}
    package, folding = random_ern(1, names=names)
    result = generate(package, tmp_path, folding)
    top = result.files["ern_top.cpp"].decode()
    streams = re.findall(r"hls::stream<.*?> (\w+)\(\"(\w+)\"\);", top)
    params = re.findall(r"static const \S+ (\w+)\[", b"".join(v for k, v in result.files.items()
                                                             if k.startswith("params_")).decode())
    idents = [s for s, _ in streams] + params
    assert all(IDENT.match(i) for i in idents) and len(set(idents)) == len(idents)
    # "b1/conv1:0", "b1.conv1", "b1_conv1": three layers, three identifiers, numbered in layer order
    assert {"n1st_embed_thresholds", "int_weights", "b1_conv1_0_weights", "b1_conv1_weights",
            "b1_conv1_weights_2"} <= set(params)
    assert "frames_" not in params and all(s == n for s, n in streams)


def test_interface_json(tmp_path):
    package, folding = random_ern(0, size=6, channels=3)   # 108 bytes: 14 words, the last padded
    info = json.loads(generate(package, tmp_path, folding).files["interface.json"])
    assert info["vlnv"] == "ern:hls:ern_top:1.0" and info["top"] == "ern_top"
    assert info["input"]["bytes_per_frame"] == 108 and info["input"]["words_per_frame"] == 14
    assert info["input"]["tdata_bits"] == info["output"]["tdata_bits"] == 64
    assert info["output"]["classes"] == 4 and info["output"]["words_per_frame"] == 2
    assert info["control"]["registers"] == {"ap_ctrl": 0, "gie": 4, "ier": 8, "isr": 12, "frames": 16}
    assert "ern_run" in info["emulation"]["function"]
    header = (tmp_path / "ern_top.h").read_text()
    assert "constexpr unsigned ERN_IN_WORDS = 14;" in header and "constexpr unsigned ERN_OUT_WORDS = 2;" in header


def test_top_function_is_a_dataflow_region_with_one_call_per_process(tmp_path):
    package, folding = random_ern(0)
    result = generate(package, tmp_path, folding)
    top = result.files["ern_top.cpp"].decode()
    for pragma in ("#pragma HLS DATAFLOW", "#pragma HLS INTERFACE axis port=in_stream",
                   "#pragma HLS INTERFACE axis port=out_stream",
                   "#pragma HLS INTERFACE s_axilite port=frames bundle=control",
                   "#pragma HLS INTERFACE s_axilite port=return bundle=control",
                   "#pragma HLS INTERFACE ap_ctrl_hs port=return",
                   "#pragma HLS STABLE variable=frames",
                   "#pragma HLS ARRAY_RESHAPE variable=b1_conv1_weights complete dim=1",
                   "#pragma HLS BIND_STORAGE variable=b2_conv2_weights type=rom_1p impl=bram",
                   "#pragma HLS BIND_STORAGE variable=b2_conv1_weights type=rom_1p impl=lutram"):
        assert pragma in top, pragma
    # frames is stable for the whole call: declared before the region, not per process
    assert top.index("#pragma HLS STABLE variable=frames") < top.index("#pragma HLS DATAFLOW")
    assert top.count("ERN_PROCESS(") == len(result.dataflow.processes)
    assert top.count("#pragma HLS STREAM variable=") == len(result.dataflow.fifos)
    # width converters where a producer's PE differs from the consumer's SIMD (stem PE 4 -> SIMD 8)
    assert 'ERN_PROCESS("stem.width_convert"' in top
    tcl = result.files["run_hls.tcl"].decode()
    for step in ("open_project", "set_top ern_top", "add_files -tb", "-flow_target vivado",
                 "set_part xc7z020clg400-1", "create_clock -period 10", "csim_design", "csynth_design",
                 "cosim_design", "export_design -format ip_catalog"):
        assert step in tcl, step


# -- FIFO sizing --------------------------------------------------------------------------------

def test_skip_fifos_cover_the_main_branch():
    package, folding = random_ern(0)
    df = build(package, folding)
    skips = [r for r in df.fifo_records if r["rule"] == "skip"]
    joins = {r["join"] for r in skips}
    assert joins == {"b1.add", "b2.add"}
    for r in skips:
        assert r["depth"] == r["lead_beats"] + r["slack"] and r["slack"] >= PIPELINE_SLACK
    deep = {j: max(r["lead_beats"] for r in skips if r["join"] == j) for j in joins}
    # b1: the shortcut waits for two 3x3 windows (each reads up to K+S = 4 rows ahead) on 8x8:
    # more than a 2-row band of fork beats, less than a frame
    fork = next(f for f in df.fifos if f.label == "fork1_skip")
    assert 2 * 8 * fork.beats // 64 < deep["b1.add"] <= fork.beats
    fifo = {f.ident: f for f in df.fifos}
    assert all(fifo[r["fifo"]].depth == r["depth"] for r in skips)
    # a chain without joins keeps every FIFO at the default depth
    chain = build(*cnv_like(0))
    assert chain.fifo_records == [] and {f.depth for f in chain.fifos} == {2}


def test_fifo_depth_override_and_unknown_fifo():
    package, folding = random_ern(0)
    df = build(package, folding, {"s_fork1_skip": 2})
    assert next(f for f in df.fifos if f.ident == "s_fork1_skip").depth == 2
    with pytest.raises(CodegenError, match="no such FIFO"):
        build(package, folding, {"s_nothing": 2})


@pytest.mark.parametrize("k, s, p, h, w, cf", [(3, 1, 1, 6, 5, 2), (3, 2, 1, 7, 7, 1), (2, 2, 0, 6, 6, 3),
                                               (1, 2, 0, 5, 4, 2), (5, 1, 2, 4, 4, 1)])
def test_window_need_is_monotone_and_covers_the_windows(k, s, p, h, w, cf):
    need = need_window(k, s, p, h, w, cf)
    ho, wo = ops.conv_output_size(h, k, s, p), ops.conv_output_size(w, k, s, p)
    assert len(need) == ho * wo * k * k * cf
    assert np.all(np.diff(need) >= 0) and need[-1] <= h * w * cf
    # a window beat is written only once the pixel it shows has been read
    for t in range(len(need)):
        yo, xo, ky, kx, c = np.unravel_index(t, (ho, wo, k, k, cf))
        iy, ix = yo * s - p + ky, xo * s - p + kx
        if 0 <= iy < h and 0 <= ix < w:
            assert need[t] >= (iy * w + ix) * cf + c + 1
    pooled = need_window(k, s, 0, h, w, cf, reduce=True) if p == 0 else None
    if pooled is not None:
        assert len(pooled) == ho * wo * cf


def test_width_convert_need():
    np.testing.assert_array_equal(need_width_convert(4, 1, 3), [3, 6, 9, 12])
    np.testing.assert_array_equal(need_width_convert(6, 2, 1), [1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(need_width_convert(4, 2, 3), [2, 3, 5, 6])


# -- errors -------------------------------------------------------------------------------------

def test_errors_are_one_line_and_name_the_layer():
    package, folding = random_ern(0)
    bad = dict(folding, **{"b1.conv1": {"pe": 3, "simd": 8}})
    with pytest.raises(CodegenError, match=r"layer 'b1.conv1' \(Conv\): C_out % PE = 8 % 3 != 0; valid PE: 1, 2, 4, 8"):
        build(package, bad)
    with pytest.raises(CodegenError, match=r"C_in % SIMD = 8 % 3 != 0"):
        build(package, dict(folding, **{"b1.conv1": {"pe": 2, "simd": 3}}))
    with pytest.raises(CodegenError, match="folding names layer 'nope'"):
        build(package, dict(folding, nope={"pe": 1}))
    with pytest.raises(CodegenError, match="mem='fast'"):
        build(package, dict(folding, **{"b1.conv1": {"pe": 2, "simd": 8, "mem": "fast"}}))
    for f in (bad,):
        try:
            build(package, f)
        except CodegenError as e:
            assert "\n" not in str(e)


def test_ap_int_max_w_is_raised_for_words_above_1024_bits(tmp_path):
    """130 input channels read whole (the Thermometer's PE = C*K: IN = PE/K = C): the pixel beat
    is 1040 bits and the AXI lane buffer 1104, so ern_top.h raises AP_INT_MAX_W (in whole
    kilobits) before anything includes ap_int.h; a narrow design leaves the default alone."""
    package, folding = random_ern(3, size=4, channels=130)
    folding["embed"] = {"pe": 4 * 130}
    result = generate(package, tmp_path / "wide", folding)
    assert result.dataflow.widest == (1104, "axi_stream_in (lane buffer)")
    header = result.files["ern_top.h"].decode()
    assert "#define AP_INT_MAX_W 2048\n" in header
    assert header.index("#define AP_INT_MAX_W") < header.index("#include")
    assert "ap_uint<1040>" in result.files["ern_top.cpp"].decode()
    package, folding = random_ern(0)
    result = generate(package, tmp_path / "narrow", folding)
    assert result.dataflow.widest[0] <= 1024
    assert "AP_INT_MAX_W" not in result.files["ern_top.h"].decode()


def test_words_above_4096_bits_are_a_one_line_error():
    package, folding = random_ern(3, size=4, channels=520)   # 4160-bit pixels, a 4224-bit lane buffer
    folding["embed"] = {"pe": 4 * 520}                       # read whole (IN = PE/K = C)
    with pytest.raises(CodegenError, match=r"axi_stream_in \(lane buffer\) is a 4224-bit word; .* 4096 bits") as e:
        build(package, folding)
    assert "\n" not in str(e.value)


def test_output_serializer_folding():
    package, folding = random_ern(3)
    df = build(package, folding)
    call = next(c for c in df.processes if c.name == "b2.conv2.mvu")
    assert ("OUT_PE", 2) in call.targs and ("PE", 16) in call.targs
    assert df.ends("b2.conv2")[0].lanes == 2 and df.ends("b2.conv2")[0] is df.ends("b2.conv2")[1]
    plain = next(c for c in df.processes if c.name == "b1.conv1.mvu")
    assert not any(k == "OUT_PE" for k, _ in plain.targs)   # OUT_PE = PE: the default
    with pytest.raises(CodegenError, match=r"layer 'b2.conv2' \(Conv\): PE % OUT_PE = 16 % 3 != 0"):
        build(package, dict(folding, **{"b2.conv2": {"pe": 16, "simd": 16, "out_pe": 3}}))
    with pytest.raises(CodegenError, match=r"OUT_PE = 1 serializes PE = 16 lanes into 16 beats, more than the SF = 9 "
                                           r"cycles of a fold; use OUT_PE >= 2"):
        build(package, dict(folding, **{"b2.conv2": {"pe": 16, "simd": 16, "out_pe": 1}}))


def test_default_folding_is_fully_folded():
    package, _ = random_ern(0)
    df = build(package, {})
    assert all(f.lanes == 1 for f in df.fifos if f.label not in ("in0",))


def test_codegen_cli(tmp_path, capsys):
    from hls.codegen.__main__ import main
    from host.package import save
    package, folding = random_ern(0)
    save(package, tmp_path / "m" / "dataflow")
    (tmp_path / "f.json").write_text(json.dumps(folding))
    assert main(["--package", str(tmp_path / "m" / "dataflow"), "--folding", str(tmp_path / "f.json")]) == 0
    assert (tmp_path / "m" / "hls" / "ern_top.cpp").is_file()
    out = capsys.readouterr().out
    assert "skip, fork side of b1.add" in out or "skip, join side of b1.add" in out
    assert main(["--package", str(tmp_path / "missing")]) == 2
    assert "error:" in capsys.readouterr().err
    assert codegen.__all__
