"""Weights in UltraRAM: the storage rule and its block count, the one-line error on a part
without URAM, the generated loader (load the weight image, then run: bit-exact in plain and
clocked C-simulation), the estimate's uram memories against the generated code, and the
driver's load step on an emulated KV260.

UltraRAM has no bitstream initialisation, so a weight memory in URAM is written at run time by
the loader (hls/lib/weight_load.h) from the weight image (host/weights.py)."""
import re

import numpy as np
import pytest

from codegen_helpers import random_ern, random_images
from hls.codegen import CodegenError, build, generate
from hls.perf import resources as R
from host.weights import weight_image
from test_csim import GEN, compile_tb, got, run_tb, write_data

URAM_LAYERS = ("b1.conv1", "b2.conv2")   # a 3x3 conv with a 2-bit output, the widest MVU


def uram_ern():
    package, folding = random_ern(11)
    for name in URAM_LAYERS:
        folding[name] = dict(folding[name], mem="uram")
    return package, folding


@pytest.fixture(scope="module")
def kv260_design():
    package, folding = uram_ern()
    return package, folding, generate(package, GEN / "uram", folding, board="kv260")


def test_uram_block_count_tiles_width_and_depth():
    assert R.URAM_DEPTH == 4096 and R.URAM_WIDTH == 72
    assert R.uram_for(4096, 72) == 1
    assert R.uram_for(4097, 72) == 2          # deeper: the cascade
    assert R.uram_for(100, 73) == 2           # wider: a second column, mostly empty
    assert R.uram_for(10368, 128) == 2 * 3
    assert R.uram_for(0, 64) == 0


def test_storage_rule_puts_a_uram_pin_in_uram_with_its_loader():
    m = R.rom(512, 256, "uram", element_bits=32)
    assert (m.style, m.impl, m.uram, m.bram36, m.loaded) == ("uram", "uram", 4, 0.0, True)
    assert m.lut > 0 and m.ff >= 256          # the loader: counters, and the word in registers
    # 'auto' never chooses URAM: only the folding (or the search, when BRAM runs out) does
    assert R.rom(512, 256, "auto").style in ("bram", "lut")


def test_uram_on_a_part_without_it_is_one_line():
    package, folding = uram_ern()
    with pytest.raises(CodegenError) as e:
        build(package, folding)               # the default part: the PYNQ-Z2's xc7z020
    msg = str(e.value)
    assert "\n" not in msg and "'b1.conv1'" in msg and "mem='uram'" in msg and "xc7z020" in msg
    with pytest.raises(CodegenError, match="xczu3eg"):
        build(package, folding, part=R.part_of("ultra96-v2"))


def test_generated_loader_and_interface(kv260_design):
    package, folding, result = kv260_design
    df, out = result.dataflow, result.out_dir
    assert [q.layer for q in df.loaded] == list(URAM_LAYERS)
    load = result.interface["load"]
    assert result.interface["control"]["registers"]["mode"] == load["offset"] == 0x18
    assert [m["layer"] for m in load["memories"]] == list(URAM_LAYERS)
    image = weight_image(package, load["memories"])
    assert image.dtype == np.uint64 and image.size == load["words"]
    top = (out / "ern_top.cpp").read_text()
    for q in df.loaded:
        assert f"BIND_STORAGE variable={q.ident} type=ram_s2p impl=uram" in top
        assert re.search(rf"static ap_uint<\d+> {re.escape(q.ident)}\[\d+\]\[\d+\];",
                         (out / f"params_{q.ident[:-len('_weights')]}.h").read_text())
    assert "if (mode == ERN_MODE_LOAD) ern_load(in_stream);" in top
    assert "ern::load_weights<" in top and '#include "weight_load.h"' in top


def test_load_then_run_is_bit_exact(kv260_design, tmp_path):
    package, _, result = kv260_design
    images = random_images(package, 6)
    expected = write_data(tmp_path, package, images)
    weight_image(package, result.interface["load"]["memories"]).astype("<u8").tofile(tmp_path / "weights.bin")
    exe = compile_tb(result.out_dir, "test_uram_tb")
    proc, out = run_tb(exe, tmp_path)
    assert proc.returncode == 0 and "images=6 mismatches=0 protocol_errors=0" in out, out
    np.testing.assert_array_equal(got(tmp_path, 6), expected)
    # the clocked simulation loads the same way, then runs at the generated depths
    clocked = compile_tb(result.out_dir, "test_uram_tb_clocked", clocked=True)
    proc, out = run_tb(clocked, tmp_path, 0, 2)
    assert proc.returncode == 0 and "mismatches=0" in out and "CLOCKED STALL" not in out, out
    # another image (every weight negated) gives other sums: the weights come from the load
    (~np.fromfile(tmp_path / "weights.bin", "<u8")).tofile(tmp_path / "weights.bin")
    proc, out = run_tb(exe, tmp_path, 0, 6)
    assert proc.returncode == 1 and "mismatches=0" not in out, out


@pytest.mark.parametrize("core", ["reference", "compiled"])
def test_driver_loads_the_weights_on_an_emulated_kv260(kv260_design, tmp_path, core):
    """ErnAccelerator sends the weight image after the bitstream (mode 1), then runs frames
    (mode 0): the compiled core computes with what it was sent, the reference stand-in checks the
    image is the package's. Without the load the stand-in refuses to run."""
    from host import emulation
    from host.driver import Interface
    from host.package import save
    from host.reference import Reference
    package, _, result = kv260_design
    folder = save(package, tmp_path / "dataflow")
    images = random_images(package, 5)
    with emulation.open_emulated(package=str(folder), hls_dir=result.out_dir, core=core, batch_size=2,
                                 board="kv260") as accel:
        iface = accel.interface
        assert iface.mode_offset == 0x18 and iface.load_words == result.interface["load"]["words"]
        assert accel.device.hardware.runs == 1            # the load, at construction
        np.testing.assert_array_equal(accel.class_sums(images), Reference(package).class_sums(images))
        accel.reload()                                    # a new bitstream: loaded again
        assert accel.device.hardware.runs == 5
        np.testing.assert_array_equal(accel.class_sums(images[:2]), Reference(package).class_sums(images[:2]))
    # a core never loaded: the stand-in says so in one line
    stand_in = emulation.ReferenceCore(package, Interface.load(result.out_dir / "interface.json", package))
    with pytest.raises(emulation.EmulationError, match="before its UltraRAM weights were loaded"):
        stand_in(np.zeros(5, np.uint64), 1)


def test_the_search_moves_weights_to_uram_when_bram_runs_out():
    """ern_tiny's shapes on the KV260 with a BRAM budget its weights exceed: the search places
    the weight memories that free the most BRAM per block in URAM, and only on a part with URAM."""
    from hls.perf import folding as F
    from hls.perf.cost import evaluate
    from hls.perf.opmodels import Ctx, Graph
    from hls.perf.topologies import TOPOLOGIES
    g = Graph(TOPOLOGIES["ern_tiny"](), "ern_tiny")
    kv260 = R.part_of("kv260")
    tight = F.Budget(1.0, 0.85, 0, part=kv260, bram_max=30)
    d = F.search(g, 200.0, None, tight)
    assert tight.allows(d) and d.totals.uram > 0
    assert any(f.get("mem") == "uram" for f in d.folding.values())
    # the placement pass alone: nothing moves where BRAM suffices, or on a part without URAM
    space = F._Space(g)
    fold = space.pick(space.candidate_iis()[len(space.candidate_iis()) // 2], 0.0)
    F._pin_weight_memories(g, fold, 0.0)
    before = evaluate(g, fold, part=kv260, ctx=Ctx(lut_per_bram=1e-9)).totals.bram36
    roomy = F.Budget(1.0, 1.0, 0, part=kv260, bram_max=before)
    same = {k: dict(v) for k, v in fold.items()}
    F._place_in_uram(space, same, 0.0, roomy)
    assert same == fold
    F._place_in_uram(space, same, 0.0, F.Budget(1.0, 1.0, 0, part=R.part_of("pynq-z2"), bram_max=1))
    assert same == fold


def test_test_data_of_a_large_input_is_seeded_random_with_the_weight_image(kv260_design, tmp_path):
    """No data set stands in for 256 x 256 x 3 here: write_test_data uses seeded random uint8
    images above 64 x 64 pixels (the same ones every run), and writes the weight image of a design
    with weights in UltraRAM beside them."""
    from hls.hls_flow import RANDOM_IMAGES_ABOVE, write_test_data
    package, _, result = kv260_design
    assert package.input_shape[0] * package.input_shape[1] <= RANDOM_IMAGES_ABOVE
    big, _ = random_ern(3, size=72)
    a = write_test_data(big, tmp_path / "a", 2)
    b = write_test_data(big, tmp_path / "b", 2)
    assert a["labels"] is None and "seeded random" in a["source"]
    assert (tmp_path / "a" / "data" / "images.bin").read_bytes() == (tmp_path / "b" / "data" / "images.bin").read_bytes()
    load = result.interface["load"]
    np.save(tmp_path / "images.npy", random_images(package, 2))
    write_test_data(package, tmp_path / "c", 2, str(tmp_path / "images.npy"), load=load)
    words = np.fromfile(tmp_path / "c" / "data" / "weights.bin", "<u8")
    np.testing.assert_array_equal(words, weight_image(package, load["memories"]))


def test_the_estimate_refuses_uram_on_a_part_without_it(tmp_path, capsys):
    """The same one line from `python -m hls.estimate` (exit 2), with or without params."""
    from hls.perf.estimate import main as estimate_main
    from host.package import save
    package, folding = uram_ern()
    pkg = save(package, tmp_path / "dataflow")
    fold = tmp_path / "fold.json"
    fold.write_text(__import__("json").dumps(folding))
    for board, code in (("pynq-z2", 2), ("kv260", 0)):
        rc = estimate_main(["--package", str(pkg), "--folding", str(fold), "--board", board, "--quiet",
                            "--out", str(tmp_path / f"{board}.json")])
        assert rc == code, capsys.readouterr().err
    err = [l for l in capsys.readouterr().err.splitlines() if "error" in l]
    assert len(err) == 1 and "mem='uram'" in err[0] and "xc7z020" in err[0], err
