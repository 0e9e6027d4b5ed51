"""The boards this toolchain targets, and their parts, as data: the one place that knows them.

    from host import boards
    b = boards.get("kv260")          # one-line BoardError naming the known boards otherwise
    b.part, b.lut, b.bram36, b.uram, b.clock_mhz, b.ps, b.hp_bits

Standard library only: hls/ (the estimate, run_hls.tcl), overlay/build.py (run by the system
python3) and host/ (the driver's emulation, bench, deploy) all import it.

Sources of the figures (docs/platform.md has the table with the same citations):
- part names: FINN's `finn.util.basic.pynq_part_map` (github.com/Xilinx/finn) and the issue's
  table (AMD product tables); HP port widths: FINN's `pynq_native_port_width` (64 on
  Zynq-7000, 128 on Zynq UltraScale+);
- LUT / FF / BRAM36 / URAM / DSP: AMD DS190 (Zynq-7000) and DS891 (Zynq UltraScale+ MPSoC)
  product tables as the issue quotes them; cross-checked against FINN's
  `finn.util.platforms` (Zynq7020: 53,200 LUT / 280 BRAM18 / 220 DSP; ZU3EG ~71,000 LUT /
  360 DSP / 0 URAM; ZU7EV ~230,000 LUT / 92 URAM / 1,728 DSP: FINN rounds and keeps a margin)
  and a ZU3EG project note (70,560 LUT, 216 BRAM36, 360 DSP, no URAM). The K26's figures
  (xck26 = a ZU5EV-class die) were not found in the search store: they are the issue's,
  unverified here;
- board parts: PYNQ-Z2 `tul.com.tw:pynq-z2:part0:1.0` (TUL board files), PYNQ-Z1
  `www.digilentinc.com:pynq-z1:part0:1.0` and ZCU104 `xilinx.com:zcu104:part0:1.1` (FINN's
  Zynq template), KV260 `xilinx.com:kv260_som:part0:1.4`, Ultra96-V2
  `avnet.com:ultra96v2:part0:1.2` (Vivado projects for those boards), AUP-ZU3
  `realdigital.org:aup-zu3-8gb:part0:1.0` (FINN's Zynq template; the 8 GB board);
- LUTRAM (LUTs usable as distributed RAM): 17,400 on the xc7z020 (DS190: 1,100 Kb of
  distributed RAM = 17,400 x 64 bits); None on the UltraScale+ parts (not looked up: the fit
  check then does not bound distributed RAM on its own).

Clocks are plans, not measurements: the PYNQ-Z2 runs at 100 MHz (PYNQ's base overlay FCLK0,
and BNN-PYNQ's measured designs on the same chip); no faster clock has been shown for our HLS
there. On Zynq UltraScale+ the default is 200 MHz and the maximum 250 MHz: FracBNN closed
250 MHz on an Ultra96 (xczu3eg -1) and FINN builds ZU+ designs at 100-250 MHz; 200 MHz leaves
margin because our HLS has not been synthesized yet.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Optional

from host.errors import ErnError, fail

DEFAULT = "pynq-z2"


class BoardError(ErnError, ValueError):
    """An unknown board name (one line that lists the known ones)."""


@dataclass(frozen=True)
class ProcessingSystem:
    """What differs between the two Zynq processing systems for the block design and the
    emulation (Vivado IP names and ports; address map from AMD UG585 / UG1085)."""

    name: str                # "zynq7" or "zynqmp"
    ip: str                  # Vivado IP name (its VLNV is looked up in the catalog)
    tcl: str                 # overlay/ps_<name>.tcl
    control_port: str        # PS master for the AXI-Lite control of the DMA and the core
    memory_port: str         # PS slave the DMA's memory-mapped side reaches DDR through
    clock_pin: str           # the PL clock the whole design runs on
    peripheral_base: int     # where the control master's address window starts
    ddr_base: int            # a DDR address range the buffers come from (emulation)
    addr_bits: int           # physical address width the DMA must drive


PS: Dict[str, ProcessingSystem] = {
    # Zynq-7000: M_AXI_GP0 window 0x4000_0000-0x7FFF_FFFF, DDR from 0 (UG585 memory map).
    "zynq7": ProcessingSystem("zynq7", "processing_system7", "ps_zynq7.tcl", "M_AXI_GP0",
                              "S_AXI_HP0", "FCLK_CLK0", 0x4000_0000, 0x1000_0000, 32),
    # Zynq UltraScale+: M_AXI_HPM0_FPD window from 0xA000_0000; DDR "high" from
    # 0x8_0000_0000 (UG1085 address map), above 4 GB: the DMA needs more than 32 address bits.
    "zynqmp": ProcessingSystem("zynqmp", "zynq_ultra_ps_e", "ps_zynqmp.tcl", "M_AXI_HPM0_FPD",
                               "S_AXI_HP0_FPD", "pl_clk0", 0xA000_0000, 0x8_0000_0000, 40),
}


@dataclass(frozen=True)
class Board:
    name: str                # the BOARD= key
    title: str               # how people write it
    part: str                # Vivado part
    board_part: str          # Vivado board part (board files)
    ps: str                  # key of PS
    lut: int
    ff: int
    bram36: int
    uram: int                # UltraRAM blocks (288 Kb: 4,096 x 72)
    dsp: int
    lutram: Optional[int]    # LUTs usable as distributed RAM; None: not looked up
    hp_bits: int             # data width of the PS's high-performance (HP) slave port
    clock_mhz: float         # the clock we plan for by default
    max_clock_mhz: float     # the fastest clock we accept
    source: str              # where the figures come from

    @property
    def processing_system(self) -> ProcessingSystem:
        return PS[self.ps]

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def check_clock(self, mhz: float) -> float:
        """`mhz` when in (0, max_clock_mhz], else BoardError (one line)."""
        if not 0 < mhz <= self.max_clock_mhz:
            raise BoardError(f"{mhz:g} MHz is outside (0, {self.max_clock_mhz:g}] MHz planned for "
                             f"{self.title} (host/boards.py)")
        return float(mhz)

    def as_dict(self) -> dict:
        return asdict(self)


_ZYNQ7 = "AMD DS190 (xc7z020); FINN pynq_part_map / pynq_native_port_width"
_ZU3 = ("AMD DS891 (ZU3EG), as the issue quotes it; FINN pynq_part_map / pynq_native_port_width; "
        "FINN ZU3EG_Platform (rounded)")

BOARDS: Dict[str, Board] = {b.name: b for b in (
    Board("pynq-z2", "PYNQ-Z2", "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0", "zynq7",
          53_200, 106_400, 140, 0, 220, 17_400, 64, 100.0, 100.0, _ZYNQ7),
    Board("pynq-z1", "PYNQ-Z1", "xc7z020clg400-1", "www.digilentinc.com:pynq-z1:part0:1.0", "zynq7",
          53_200, 106_400, 140, 0, 220, 17_400, 64, 100.0, 100.0, _ZYNQ7),
    Board("kv260", "KV260", "xck26-sfvc784-2LV-c", "xilinx.com:kv260_som:part0:1.4", "zynqmp",
          117_120, 234_240, 144, 64, 1_248, None, 128, 200.0, 250.0,
          "the issue's table (AMD DS987 K26 SOM; not found in the search store); FINN pynq_part_map "
          "KV260_SOM / pynq_native_port_width"),
    # FINN maps Ultra96-V2 to the industrial-grade xczu3eg-sbva484-1-i (the same die and figures as
    # the issue's -1-e); Ultra96-V2 projects use -1-i with board part avnet.com:ultra96v2.
    Board("ultra96-v2", "Ultra96-V2", "xczu3eg-sbva484-1-i", "avnet.com:ultra96v2:part0:1.2", "zynqmp",
          70_560, 141_120, 216, 0, 360, None, 128, 200.0, 250.0, _ZU3),
    Board("aup-zu3", "AUP-ZU3", "xczu3eg-sfvc784-2-e", "realdigital.org:aup-zu3-8gb:part0:1.0", "zynqmp",
          70_560, 141_120, 216, 0, 360, None, 128, 200.0, 250.0, _ZU3 + " (AUP-ZU3_8GB)"),
    Board("zcu104", "ZCU104", "xczu7ev-ffvc1156-2-e", "xilinx.com:zcu104:part0:1.1", "zynqmp",
          230_400, 460_800, 312, 96, 1_728, None, 128, 200.0, 250.0,
          "AMD DS891 (ZU7EV), as the issue quotes it; FINN pynq_part_map / pynq_native_port_width; "
          "FINN ZU7EV_Platform (rounded)"),
)}


def names() -> str:
    return ", ".join(BOARDS)


def get(name: Optional[str] = None) -> Board:
    """The board called `name` (case-insensitive; None: the default), else BoardError."""
    key = (name or DEFAULT).strip().lower()
    if key not in BOARDS:
        raise BoardError(f"unknown board {name!r}: known boards are {names()}")
    return BOARDS[key]


def main(argv=None) -> int:
    """python -m host.boards [NAME]: check a board name (exit 2 with one line if unknown), or
    print the table."""
    import sys
    args = sys.argv[1:] if argv is None else argv
    if args:
        try:
            b = get(args[0])
        except BoardError as e:
            return fail(e, "boards")
        print(f"{b.name}: {b.title}, {b.part}, {b.lut:,} LUT, {b.bram36} BRAM36, {b.uram} URAM, "
              f"{b.dsp:,} DSP, {b.clock_mhz:g} MHz (max {b.max_clock_mhz:g})")
        return 0
    for b in BOARDS.values():
        print(f"{b.name:11} {b.part:22} {b.lut:>8,} LUT {b.ff:>8,} FF {b.bram36:>4} BRAM36 "
              f"{b.uram:>3} URAM {b.dsp:>5,} DSP  {b.ps:6}  HP {b.hp_bits}  {b.clock_mhz:g}/{b.max_clock_mhz:g} MHz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
