"""Build the overlay (bitstream + hwh) of one model for a Zynq board with Vivado: `make overlay`.

    python overlay/build.py [--model ern_tiny] [--board pynq-z2] [--jobs 4]

Reads build/<m>/hls/interface.json (the core's IP VLNV, stream width, clock, the board it was
generated for) and the IP that vitis_hls exported under build/<m>/hls/ (a folder holding
component.xml), runs overlay/ern_overlay.tcl (with ps_zynq7.tcl or ps_zynqmp.tcl) in Vivado
batch mode for the board's part, board part, HP port width and address width (host/boards.py),
and leaves build/<m>/overlay/<m>.bit and <m>.hwh (plus utilization.rpt, timing_summary.rpt,
overlay_summary.txt, vivado.log).

Written for Vivado 2022.2 / Vitis HLS 2022.2 with the board's board files installed. Needs only
the standard library (the system python3 runs it). Without `vivado` on PATH it prints one line
saying what it needs and exits 2. Exit status (host/errors.py): 0 built, 1 Vivado failed, 2 an
input or Vivado is missing (or the board is unknown, or the core was generated for another
board), 3 the design missed timing (the bitstream is still written).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from host import boards  # noqa: E402  (standard library only)
from host.artifacts import Artifacts  # noqa: E402  (standard library only)
from host.errors import CHECK, NO_FIT, OK, ErnError, fail  # noqa: E402  (standard library only)
from host.names import model_name_arg  # noqa: E402  (standard library only)

TCL = Path(__file__).resolve().parent / "ern_overlay.tcl"
VIVADO_VERSION = "2022.2"
DEFAULT_VLNV = "ern:hls:ern_top:1.0"


def read_interface(path: Path, board: boards.Board) -> dict:
    """VLNV, AXI-Stream width and clock from interface.json (hls/codegen; the board's defaults
    without it); ValueError when the core was generated for another board."""
    doc = json.loads(path.read_text()) if path.is_file() else {}
    made_for = doc.get("board", board.name)
    if made_for != board.name:
        raise ValueError(f"{path}: the core was generated for {made_for}, not {board.name}: run "
                         f"`make hls MODEL=... BOARD={board.name}` first")
    in_bits = int(doc.get("input", {}).get("tdata_bits", 64))
    out_bits = int(doc.get("output", {}).get("tdata_bits", 64))
    if in_bits != out_bits:
        raise ValueError(f"{path}: input stream {in_bits} bits, output {out_bits} bits: this block "
                         "design gives both DMA streams one width")
    return {"vlnv": doc.get("vlnv", DEFAULT_VLNV), "axis_bits": in_bits,
            "clock_mhz": 1000.0 / float(doc.get("clock_period_ns", board.clock_period_ns))}


def component_vlnv(xml_path: Path) -> str:
    """vendor:library:name:version of an IP-XACT component.xml."""
    root = ET.parse(xml_path).getroot()
    parts = []
    for tag in ("vendor", "library", "name", "version"):
        node = next((n for n in root if n.tag.rsplit("}", 1)[-1] == tag), None)
        parts.append(node.text.strip() if node is not None and node.text else "")
    return ":".join(parts)


def find_ip_repo(hls_dir: Path, vlnv: str):
    """The folder under build/<m>/hls/ whose component.xml is the core `vlnv` (None if none)."""
    if not hls_dir.is_dir():
        return None
    for xml_path in sorted(hls_dir.rglob("component.xml")):
        try:
            if component_vlnv(xml_path) == vlnv:
                return xml_path.parent
        except ET.ParseError:
            continue
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python overlay/build.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ern_tiny", type=model_name_arg)
    p.add_argument("--board", default=boards.DEFAULT, help=f"one of {boards.names()}")
    p.add_argument("--build-dir", default=None, help="default: build/<model>")
    p.add_argument("--ip-repo", default=None, help="folder with the core's component.xml "
                                                   "(default: searched under build/<m>/hls)")
    p.add_argument("--jobs", type=int, default=max(1, min(8, os.cpu_count() or 1)))
    p.add_argument("--vivado", default=os.environ.get("VIVADO", "vivado"))
    args = p.parse_args(argv)
    try:
        board = boards.get(args.board)
    except boards.BoardError as e:
        return fail(e, "overlay")

    vivado = shutil.which(args.vivado)
    if vivado is None:
        return fail(ErnError(f"vivado not on PATH: building the {board.title} bitstream needs Vivado "
                             f"{VIVADO_VERSION} with the {board.title} board files ({board.board_part}) and "
                             f"the core exported by `make hls MODEL={args.model} BOARD={board.name}` with "
                             f"Vitis HLS {VIVADO_VERSION}; nothing built"), "overlay")

    build = Artifacts.find(args.model, args.build_dir).build_dir
    hls_dir, out_dir = build / "hls", build / "overlay"
    try:
        iface = read_interface(hls_dir / "interface.json", board)
    except (OSError, ValueError) as e:
        return fail(e, "overlay")
    ip_repo = Path(args.ip_repo) if args.ip_repo else find_ip_repo(hls_dir, iface["vlnv"])
    if ip_repo is None or not ip_repo.is_dir():
        return fail(ErnError(f"no exported IP {iface['vlnv']} (component.xml) under {hls_dir}: run "
                             f"`make hls MODEL={args.model}` with vitis_hls on PATH first"), "overlay")

    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "vivado"
    cmd = [vivado, "-mode", "batch", "-nojournal", "-log", str(out_dir / "vivado.log"),
           "-source", str(TCL), "-tclargs", args.model, str(ip_repo), iface["vlnv"], str(out_dir),
           str(work), board.part, board.board_part, str(args.jobs), f"{iface['clock_mhz']:g}",
           str(iface["axis_bits"]), board.ps, str(board.hp_bits),
           str(board.processing_system.addr_bits)]
    print("overlay: " + " ".join(cmd), flush=True)
    status = subprocess.run(cmd, check=False).returncode
    bit, hwh = out_dir / f"{args.model}.bit", out_dir / f"{args.model}.hwh"
    if status not in (0, 3) or not (bit.is_file() and hwh.is_file()):
        print(f"overlay: error: vivado failed (exit {status}): see {out_dir / 'vivado.log'}", file=sys.stderr)
        return CHECK
    summary = (out_dir / "overlay_summary.txt")
    first = summary.read_text().splitlines()[0] if summary.is_file() else ""
    print(f"overlay: wrote {bit} and {hwh} ({first})")
    return NO_FIT if status == 3 else OK   # Vivado's 3: the design missed timing


if __name__ == "__main__":
    sys.exit(main())
