"""overlay/ (`make overlay`): without Vivado one line and exit 2; with a stand-in `vivado` the
arguments build.py passes; and the block-design Tcl run through tclsh with every Vivado command
stubbed (checks its syntax, control flow and the commands it issues — not Vivado itself)."""
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_PY = ROOT / "overlay" / "build.py"
TCL = ROOT / "overlay" / "ern_overlay.tcl"

COMPONENT = """<?xml version="1.0" encoding="UTF-8"?>
<spirit:component xmlns:spirit="http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009">
  <spirit:vendor>ern</spirit:vendor><spirit:library>hls</spirit:library>
  <spirit:name>ern_top</spirit:name><spirit:version>1.0</spirit:version>
</spirit:component>
"""


def run_build(args, path_dirs=(), cwd=ROOT):
    env = {"PATH": os.pathsep.join([*map(str, path_dirs), "/usr/bin", "/bin"]), "HOME": "/tmp"}
    return subprocess.run([sys.executable, str(BUILD_PY), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_without_vivado_one_line_says_what_is_needed_and_exits_2():
    if shutil.which("vivado", path="/usr/bin:/bin"):
        pytest.skip("vivado is installed here")
    result = run_build(["--model", "ern_tiny"])
    assert result.returncode == 2 and not result.stdout.strip()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("overlay: error: vivado not on PATH") and "Vivado 2022.2" in lines[0]
    assert "make hls MODEL=ern_tiny" in lines[0]


def fake_vivado(folder: Path) -> Path:
    """A `vivado` that records its arguments and writes what the Tcl would."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "vivado"
    script.write_text(f"""#!{sys.executable}
import json, sys, pathlib
args = sys.argv[1:]
pathlib.Path({str(folder / 'args.json')!r}).write_text(json.dumps(args))
tcl = args[args.index("-tclargs") + 1:]
model, out = tcl[0], pathlib.Path(tcl[3])
(out / (model + ".bit")).write_bytes(b"bit")
(out / (model + ".hwh")).write_text("<hwh/>")
(out / "overlay_summary.txt").write_text("timing=PASS wns_ns=0.412 fclk_mhz=100\\n")
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def build_dir_with_ip(folder: Path) -> Path:
    ip = folder / "hls" / "vitis" / "solution" / "impl" / "ip"
    ip.mkdir(parents=True)
    (ip / "component.xml").write_text(COMPONENT)
    (folder / "hls" / "interface.json").write_text(json.dumps(
        {"vlnv": "ern:hls:ern_top:1.0", "clock_period_ns": 10, "input": {"tdata_bits": 64},
         "output": {"tdata_bits": 64}}))
    return folder


def test_build_py_finds_the_exported_ip_and_passes_the_model_to_vivado(tmp_path):
    tools = fake_vivado(tmp_path / "tools")
    build = build_dir_with_ip(tmp_path / "build" / "m")
    result = run_build(["--model", "m", "--build-dir", str(build), "--jobs", "2"], [tools])
    assert result.returncode == 0, result.stdout + result.stderr
    args = json.loads((tools / "args.json").read_text())
    assert args[:2] == ["-mode", "batch"] and str(TCL) in args
    tcl = args[args.index("-tclargs") + 1:]
    assert tcl == ["m", str(build / "hls" / "vitis" / "solution" / "impl" / "ip"), "ern:hls:ern_top:1.0",
                   str(build / "overlay"), str(build / "overlay" / "vivado"), "xc7z020clg400-1",
                   "tul.com.tw:pynq-z2:part0:1.0", "2", "100", "64", "zynq7", "64", "32"]
    assert f"wrote {build / 'overlay' / 'm.bit'}" in result.stdout and "timing=PASS" in result.stdout


def test_with_vivado_but_no_exported_ip_it_says_run_make_hls(tmp_path):
    tools = fake_vivado(tmp_path / "tools")
    (tmp_path / "build" / "m" / "hls").mkdir(parents=True)
    result = run_build(["--model", "m", "--build-dir", str(tmp_path / "build" / "m")], [tools])
    assert result.returncode == 2
    assert "no exported IP ern:hls:ern_top:1.0" in result.stderr and "make hls MODEL=m" in result.stderr


# Every Vivado command the script uses, stubbed: calls are logged, queries answer plausibly.
STUBS = r"""
set ::calls {}
proc log {args} { lappend ::calls [join $args " "] }
foreach cmd {create_project set_property update_ip_catalog create_bd_design apply_bd_automation
             connect_bd_intf_net connect_bd_net assign_bd_address validate_bd_design save_bd_design
             add_files update_compile_order launch_runs wait_on_run open_run report_utilization
             report_timing_summary} {
    proc $cmd {args} "log $cmd {*}\$args; return {}"
}
proc get_board_parts {args} { return tul.com.tw:pynq-z2:part0:1.0 }
proc get_ipdefs {args} { return [lindex $args end] }
proc create_bd_cell {args} { log create_bd_cell {*}$args; return /[lindex $args end] }
proc get_bd_intf_pins {args} {
    set filter [expr {[lsearch $args -filter] >= 0 ? [lindex $args [expr {[lsearch $args -filter] + 1}]] : ""}]
    if {[string match *aximm* $filter]} { return /ern_top_0/s_axi_control }
    if {[string match *Slave*axis* $filter]} { return /ern_top_0/in_stream }
    if {[string match *Master*axis* $filter]} { return /ern_top_0/out_stream }
    return /[lindex $args end]
}
proc get_bd_pins {args} { if {[lsearch $args -of_objects] >= 0} { return {} }; return /[lindex $args end] }
proc get_bd_cells {args} { return /rst_ps7_0_100M }
proc get_bd_nets {args} { return {} }
proc get_files {args} { return [lindex $args end] }
proc get_runs {args} { return [lindex $args end] }
proc get_timing_paths {args} { return path0 }
proc current_project {} { return proj }
proc current_fileset {} { return sources_1 }
proc version {args} { return 2022.2 }
proc make_wrapper {args} { log make_wrapper {*}$args; return $::work/ern_bd_wrapper.v }
proc get_property {name obj} {
    switch -- $name {
        CONFIG.TDATA_NUM_BYTES { return 8 }
        PROGRESS { return 100% }
        SLACK { return 0.412 }
        DIRECTORY { file mkdir $::work/runs; close [open $::work/runs/ern_bd_wrapper.bit w]; return $::work/runs }
    }
    return {}
}
rename exit real_exit
proc exit {{code 0}} {
    set f [open $::work/calls.txt w]; puts $f [join $::calls \n]; close $f
    real_exit $code
}
"""


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="no tclsh")
def test_block_design_tcl_runs_with_stubbed_vivado_commands(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    hwh = work / "ern_ern_tiny.gen" / "sources_1" / "bd" / "ern_bd" / "hw_handoff"
    hwh.mkdir(parents=True)
    (hwh / "ern_bd.hwh").write_text("<hwh/>")
    driver = tmp_path / "run.tcl"
    driver.write_text(f"set ::work {{{work}}}\n{STUBS}\n"
                      f"set argv [list ern_tiny {tmp_path}/ip ern:hls:ern_top:1.0 {out} {work}]\n"
                      f"set argc 5\nsource {{{TCL}}}\n")
    result = subprocess.run(["tclsh", str(driver)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "ern_tiny.bit").is_file() and (out / "ern_tiny.hwh").is_file()
    assert "timing=PASS" in (out / "overlay_summary.txt").read_text()
    calls = (work / "calls.txt").read_text()
    for expected in ("create_project -force ern_ern_tiny", "xilinx.com:ip:processing_system7:5.5",
                     "apply_board_preset", "CONFIG.PCW_USE_S_AXI_HP0 1", "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100",
                     "xilinx.com:ip:axi_dma:7.1 axi_dma_0", "CONFIG.c_include_sg 0", "CONFIG.c_sg_length_width 26",
                     "create_bd_cell -type ip -vlnv ern:hls:ern_top:1.0 ern_top_0",
                     "Slave /ern_top_0/s_axi_control",
                     "connect_bd_intf_net /axi_dma_0/M_AXIS_MM2S /ern_top_0/in_stream",
                     "connect_bd_intf_net /ern_top_0/out_stream /axi_dma_0/S_AXIS_S2MM",
                     "validate_bd_design", "launch_runs impl_1 -to_step write_bitstream"):
        assert expected in calls, expected
