"""Boards as data (host/boards.py) and BOARD= through the flow: the table, the estimate's part and
clock, run_hls.tcl's set_part / create_clock (run through tclsh with the Vitis HLS commands
stubbed), the overlay's block-design Tcl per processing system (tclsh, Vivado commands stubbed),
overlay/build.py's arguments, and the unchanged driver on the emulated device configured as
each board (128-bit HP port, 40-bit DMA addresses and buffers above 4 GB on UltraScale+)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from host import boards
from host.package import save
from test_driver_overlay import BUILD_PY, STUBS, TCL, build_dir_with_ip, fake_vivado, run_build
from test_host_package import tiny_package

ROOT = Path(__file__).resolve().parents[1]
ZYNQMP = [b.name for b in boards.BOARDS.values() if b.ps == "zynqmp"]

# The table (AMD product tables), which host/boards.py must hold.
EXPECTED = {  # part, LUT, FF, BRAM36, URAM, DSP
    "pynq-z2": ("xc7z020clg400-1", 53_200, 106_400, 140, 0, 220),
    "pynq-z1": ("xc7z020clg400-1", 53_200, 106_400, 140, 0, 220),
    "kv260": ("xck26-sfvc784-2LV-c", 117_120, 234_240, 144, 64, 1_248),
    "ultra96-v2": ("xczu3eg-sbva484-1-i", 70_560, 141_120, 216, 0, 360),
    "aup-zu3": ("xczu3eg-sfvc784-2-e", 70_560, 141_120, 216, 0, 360),
    "zcu104": ("xczu7ev-ffvc1156-2-e", 230_400, 460_800, 312, 96, 1_728),
}


# -- the table ----------------------------------------------------------------------------------

def test_every_board_has_every_field_with_the_data_sheet_figures():
    assert set(boards.BOARDS) == set(EXPECTED) and boards.DEFAULT == "pynq-z2"
    for name, b in boards.BOARDS.items():
        assert (b.part, b.lut, b.ff, b.bram36, b.uram, b.dsp) == EXPECTED[name], name
        for field, value in b.as_dict().items():
            if field == "lutram" and b.ps == "zynqmp":
                assert value is None  # not looked up: the fit check does not bound it
                continue
            assert value not in (None, ""), (name, field)
            if isinstance(value, (int, float)) and field != "uram":
                assert value > 0, (name, field)
        assert b.ps in boards.PS and b.board_part.count(":") == 3 and b.source
        assert b.hp_bits == (64 if b.ps == "zynq7" else 128)
        assert 0 < b.clock_mhz <= b.max_clock_mhz
    assert boards.get("pynq-z2").lutram == 17_400
    assert boards.PS["zynqmp"].addr_bits == 40 and boards.PS["zynqmp"].ddr_base >= 1 << 32


def test_an_unknown_board_is_one_line_listing_the_known_ones():
    with pytest.raises(boards.BoardError) as e:
        boards.get("zedboard")
    msg = str(e.value)
    assert "\n" not in msg and all(name in msg for name in boards.BOARDS)
    assert boards.get("KV260") is boards.get("kv260") and boards.get(None).name == "pynq-z2"
    with pytest.raises(boards.BoardError, match="outside"):
        boards.get("pynq-z2").check_clock(150)
    result = subprocess.run([sys.executable, "-m", "host.boards", "zedboard"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_the_perf_model_part_and_the_board_agree():
    from hls.perf import resources as R
    for b in boards.BOARDS.values():
        p = R.part_of(b)
        assert (p.name, p.lut, p.ff, p.bram36, p.uram, p.dsp, p.lutram) == \
            (b.part, b.lut, b.ff, b.bram36, b.uram, b.dsp, b.lutram)
        assert p.family == ("7series" if b.ps == "zynq7" else "ultrascale+")
    assert R.XC7Z020 == R.part_of("pynq-z2") and R.DEFAULT_CLOCK_MHZ == 100.0


# -- BOARD= through the estimate -----------------------------------------------------------------

def run_estimate(tmp_path, *args, out="e.json"):
    return subprocess.run([sys.executable, "-m", "hls.estimate", "--topology", "ern_tiny", "--quiet",
                           "--out", str(tmp_path / out), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_estimate_on_the_kv260_uses_its_part_clock_and_reports_uram(tmp_path):
    result = run_estimate(tmp_path, out="z2.json")   # the search on the default board
    assert result.returncode == 0, result.stderr
    z2 = json.loads((tmp_path / "z2.json").read_text())
    assert (z2["board"], z2["part"], z2["clock_mhz"]) == ("pynq-z2", "xc7z020clg400-1", 100.0)
    result = run_estimate(tmp_path, "--board", "kv260", "--folding", str(tmp_path / "z2_folding.json"))
    assert result.returncode == 0, result.stderr
    kv = json.loads((tmp_path / "e.json").read_text())
    assert (kv["board"], kv["part"], kv["clock_mhz"]) == ("kv260", "xck26-sfvc784-2LV-c", 200.0)
    assert kv["part_resources"]["uram"] == 64 and kv["uram"] == 0 and kv["fits"] is True
    assert "lutram" not in kv["utilization"]  # unknown on the K26: not bounded on its own
    # the same folding: the same cycles and resources, twice the clock, a bigger part
    assert z2["cycles_per_frame"] == kv["cycles_per_frame"] and z2["lut"] == kv["lut"]
    assert kv["fps"] == pytest.approx(2 * z2["fps"], rel=1e-3)
    assert kv["utilization"]["lut"] < z2["utilization"]["lut"]


def test_estimate_rejects_an_unknown_board_and_a_clock_above_the_plan(tmp_path):
    bad = run_estimate(tmp_path, "--board", "zedboard")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "known boards are pynq-z2" in bad.stderr
    fast = run_estimate(tmp_path, "--board", "pynq-z2", "--clock-mhz", "300")
    assert fast.returncode == 2 and "outside (0, 100] MHz" in fast.stderr


def test_make_estimate_passes_board(tmp_path):
    out = subprocess.run(["make", "-n", "estimate", "hls", "deploy", "bench", "overlay", "BOARD=kv260"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    for tool in ("--step estimate", "-m hls ", "host.deploy", "host/bench.py", "overlay/build.py"):
        line = next(l for l in out.splitlines() if tool in l)
        assert "--board kv260" in line, line


# -- BOARD= through codegen: run_hls.tcl -----------------------------------------------------------

HLS_STUBS = r"""
set ::calls {}
foreach cmd {open_project set_top add_files open_solution set_part create_clock csim_design
             csynth_design cosim_design export_design} {
    proc $cmd {args} "lappend ::calls \"$cmd \$args\""
}
rename exit real_exit
proc exit {{code 0}} { puts [join $::calls \n]; real_exit $code }
"""


@pytest.mark.parametrize("board", ["pynq-z2", "kv260", "zcu104"])
def test_run_hls_tcl_sets_the_boards_part_and_clock(tmp_path, board):
    from hls.codegen import generate
    from codegen_helpers import random_ern
    package, folding = random_ern(0)
    result = generate(package, tmp_path / "hls", folding, board=board)
    b = boards.get(board)
    iface = json.loads(result.files["interface.json"])
    assert (iface["board"], iface["part"], iface["clock_period_ns"]) == (b.name, b.part, 1000 / b.clock_mhz)
    if shutil.which("tclsh") is None:
        pytest.skip("no tclsh")
    driver = tmp_path / "run.tcl"
    driver.write_text(f"{HLS_STUBS}\nsource {{{tmp_path / 'hls' / 'run_hls.tcl'}}}\n")
    run = subprocess.run(["tclsh", str(driver)], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, ERN_HLS_STEPS="csynth export"))
    assert run.returncode == 0, run.stdout + run.stderr
    calls = run.stdout.splitlines()
    assert f"set_part {b.part}" in calls
    assert f"create_clock -period {1000 / b.clock_mhz:g} -name default" in calls
    assert any(c.startswith("csynth_design") for c in calls) and not any(c.startswith("csim") for c in calls)


# -- the overlay per processing system -------------------------------------------------------------

PS_STUBS = r"""
proc get_ipdefs {args} {
    if {[lsearch $args -filter] >= 0} { return {xilinx.com:ip:zynq_ultra_ps_e:3.4 xilinx.com:ip:zynq_ultra_ps_e:3.5} }
    return [lindex $args end]
}
proc get_board_parts {args} { return [lindex $args end] }
"""


def stub_run_overlay(tmp_path, board):
    work, out = tmp_path / "work", tmp_path / "out"
    hwh = work / "ern_m.gen" / "sources_1" / "bd" / "ern_bd" / "hw_handoff"
    hwh.mkdir(parents=True)
    (hwh / "ern_bd.hwh").write_text("<hwh/>")
    b = boards.get(board)
    argv = ["m", f"{tmp_path}/ip", "ern:hls:ern_top:1.0", str(out), str(work), b.part, b.board_part,
            "2", f"{b.clock_mhz:g}", "64", b.ps, str(b.hp_bits), str(b.processing_system.addr_bits)]
    driver = tmp_path / "run.tcl"
    driver.write_text(f"set ::work {{{work}}}\n{STUBS}\n{PS_STUBS}\n"
                      f"set argv [list {' '.join(argv)}]\nset argc {len(argv)}\nsource {{{TCL}}}\n")
    result = subprocess.run(["tclsh", str(driver)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "m.bit").is_file() and (out / "m.hwh").is_file()
    return (work / "calls.txt").read_text()


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="no tclsh")
def test_overlay_tcl_zynqmp_block_design(tmp_path):
    calls = stub_run_overlay(tmp_path, "kv260")
    for expected in ("create_project -force ern_m", "-part xck26-sfvc784-2LV-c",
                     "board_part xilinx.com:kv260_som:part0:1.4",
                     "create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e:3.5 zynq_ultra_ps_e_0",
                     "xilinx.com:bd_rule:zynq_ultra_ps_e -config apply_board_preset",
                     "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ 200", "CONFIG.PSU__USE__M_AXI_GP0 1",
                     "CONFIG.PSU__USE__S_AXI_GP2 1", "CONFIG.PSU__SAXIGP2__DATA_WIDTH 128",
                     "CONFIG.c_m_axi_mm2s_data_width 128", "CONFIG.c_m_axi_s2mm_data_width 128",
                     "CONFIG.c_m_axis_mm2s_tdata_width 64", "CONFIG.c_addr_width 40",
                     "Master /zynq_ultra_ps_e_0/M_AXI_HPM0_FPD Slave /axi_dma_0/S_AXI_LITE",
                     "Master /zynq_ultra_ps_e_0/M_AXI_HPM0_FPD Slave /ern_top_0/s_axi_control",
                     "Master /axi_dma_0/M_AXI_MM2S Slave /zynq_ultra_ps_e_0/S_AXI_HP0_FPD",
                     "Master /axi_dma_0/M_AXI_S2MM Slave /zynq_ultra_ps_e_0/S_AXI_HP0_FPD",
                     "connect_bd_intf_net /axi_dma_0/M_AXIS_MM2S /ern_top_0/in_stream",
                     "launch_runs impl_1 -to_step write_bitstream"):
        assert expected in calls, expected
    assert "processing_system7" not in calls and "/M_AXI_GP0" not in calls


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="no tclsh")
def test_overlay_tcl_zynq7_block_design(tmp_path):
    calls = stub_run_overlay(tmp_path, "pynq-z2")
    for expected in ("xilinx.com:ip:processing_system7:5.5 processing_system7_0",
                     "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100", "CONFIG.PCW_S_AXI_HP0_DATA_WIDTH 64",
                     "CONFIG.c_m_axi_mm2s_data_width 64", "CONFIG.c_addr_width 32",
                     "Master /processing_system7_0/M_AXI_GP0 Slave /axi_dma_0/S_AXI_LITE",
                     "Master /axi_dma_0/M_AXI_MM2S Slave /processing_system7_0/S_AXI_HP0"):
        assert expected in calls, expected
    assert "zynq_ultra_ps_e" not in calls


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="no tclsh")
def test_overlay_tcl_rejects_an_unknown_ps(tmp_path):
    driver = tmp_path / "run.tcl"
    driver.write_text(f"set ::work {{{tmp_path}}}\n{STUBS}\nset argv [list m ip v {tmp_path}/o {tmp_path}/w "
                      f"p bp 1 100 64 versal 128 40]\nset argc 13\nsource {{{TCL}}}\n")
    result = subprocess.run(["tclsh", str(driver)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "ps must be zynq7 or zynqmp" in result.stdout


def test_overlay_build_py_passes_the_boards_figures(tmp_path):
    tools = fake_vivado(tmp_path / "tools")
    build = build_dir_with_ip(tmp_path / "build" / "m")
    iface = build / "hls" / "interface.json"
    doc = json.loads(iface.read_text())
    iface.write_text(json.dumps(dict(doc, board="kv260", clock_period_ns=5)))
    result = run_build(["--model", "m", "--board", "kv260", "--build-dir", str(build), "--jobs", "2"], [tools])
    assert result.returncode == 0, result.stdout + result.stderr
    args = json.loads((tools / "args.json").read_text())
    tcl = args[args.index("-tclargs") + 1:]
    assert tcl[5:] == ["xck26-sfvc784-2LV-c", "xilinx.com:kv260_som:part0:1.4", "2", "200", "64",
                       "zynqmp", "128", "40"]
    wrong = run_build(["--model", "m", "--board", "zcu104", "--build-dir", str(build)], [tools])
    assert wrong.returncode == 2 and "generated for kv260, not zcu104" in wrong.stderr


def test_overlay_without_vivado_says_what_the_kv260_needs_in_one_line():
    if shutil.which("vivado", path="/usr/bin:/bin"):
        pytest.skip("vivado is installed here")
    result = run_build(["--model", "ern_tiny", "--board", "kv260"])
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("overlay: error: ")
    assert "KV260" in lines[0] and "xilinx.com:kv260_som:part0:1.4" in lines[0] and "BOARD=kv260" in lines[0]
    bad = run_build(["--board", "zedboard"])
    assert bad.returncode == 2 and "known boards are" in bad.stderr
    assert BUILD_PY.is_file()


# -- the driver on each emulated board -------------------------------------------------------------

@pytest.mark.parametrize("board", list(boards.BOARDS))
def test_driver_runs_unchanged_on_each_emulated_board(tmp_path, board):
    from host import emulation
    from host.reference import Reference
    package = tiny_package(4)
    folder = save(package, tmp_path / "dataflow")
    b = boards.get(board)
    with emulation.open_emulated(package=str(folder), hls_dir="/nonexistent", core="reference",
                                 batch_size=4, board=board) as accel:
        params = accel.overlay.ip_dict[accel.dma_name]["parameters"]
        assert params["c_m_axi_mm2s_data_width"] == str(b.hp_bits)
        assert accel.dma.sendchannel._align == b.hp_bits // 8  # pynq's alignment check: 16 B on ZU+
        addresses = [accel._in_buf.physical_address, accel._out_buf.physical_address]
        if b.ps == "zynqmp":
            assert all(a >= 1 << 32 for a in addresses) and params["c_addr_width"] == "40"
        else:
            assert all(a < 1 << 32 for a in addresses)
        images = np.random.default_rng(1).integers(0, 256, (10, 8, 8, 2), dtype=np.uint8)
        sums = accel.class_sums(images)  # three batches: 4 + 4 + 2
        assert np.array_equal(sums, Reference(package).class_sums(images))
        assert accel.emulated and b.title in accel.device.name


def test_a_32_bit_dma_cannot_reach_buffers_above_4_gb(tmp_path):
    """Why the UltraScale+ overlay builds the DMA with 40 address bits: with 32 the high word
    does not exist, the transfer goes to the wrong address and the DMA reports a decode error."""
    from host import emulation
    from host.driver import DriverError
    folder = save(tiny_package(4), tmp_path / "dataflow")
    with emulation.open_emulated(package=str(folder), hls_dir="/nonexistent", core="reference",
                                 batch_size=2, board="kv260", timeout_s=2) as accel:
        accel.device.hardware.addr_bits = 32
        with pytest.raises(DriverError, match="decode"):
            accel.class_sums(np.zeros((2, 8, 8, 2), np.uint8))


def test_docs_platform_table_is_host_boards():
    """docs/platform.md's board table says what host/boards.py holds (one fact, two renderings)."""
    text = (ROOT / "docs" / "platform.md").read_text()
    for b in boards.BOARDS.values():
        row = next(line for line in text.splitlines() if f"(`{b.name}`)" in line)
        cells = [c.strip().replace("*", "") for c in row.strip("|").split("|")]
        assert cells[1] == b.part, row
        assert [int(c.replace(",", "")) for c in cells[2:7]] == [b.lut, b.ff, b.bram36, b.uram, b.dsp], row
        assert cells[8] == b.ps and int(cells[9]) == b.hp_bits, row
        assert cells[10] == f"{b.clock_mhz:g} / {b.max_clock_mhz:g}", row


def test_bench_and_deploy_follow_the_board(tmp_path):
    from host import bench, deploy
    from host.artifacts import Artifacts
    assert "--board kv260" in " ".join(bench.step_command("ern_tiny", ["estimate"], "kv260"))
    build = tmp_path / "m"
    save(tiny_package(4), build / "dataflow")
    (build / "estimate.json").write_text(json.dumps({"fps": 1000.0, "clock_mhz": 200.0, "board": "kv260"}))
    files = Artifacts.find("m", build)
    assert bench.predicted_row(files, 10, "pynq-z2") is None  # made for another board: no row
    assert "KV260" in bench.predicted_row(files, 10, "kv260")["backend"]
    (build / "hls").mkdir()
    (build / "hls" / "interface.json").write_text(json.dumps({"board": "kv260"}))
    with pytest.raises(ValueError, match="generated for kv260, not pynq-z2"):
        deploy.deploy("m", build, tmp_path / "out", samples=2)
    assert bench.main(["--board", "zedboard", "--build-dir", str(build)]) == 2
