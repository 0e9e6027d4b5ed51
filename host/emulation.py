"""Off-board emulation: the generated HLS top, compiled natively, behind a fake pynq Device, so
that host.driver's very own code (pynq.Overlay, pynq.allocate, pynq's DMA channels, MMIO)
runs end to end on a machine without a board. Emulation speed is never hardware speed: every
object here says EMULATION.

    from host import emulation
    accel = emulation.open_emulated("ern_tiny")      # ErnAccelerator on an EmulatedDevice
    labels, scores = accel.classify(images)

The core behind the device is one of
- `CompiledCore`: build/<m>/hls/emu.cpp (the HLS generator's C-ABI wrapper
  `int ern_run(const uint64_t* in, size_t in_words, uint64_t* out, size_t out_words, unsigned frames)`)
  with its headers, as a shared library loaded with ctypes: the build/<m>/hls/libern_emu.so that
  `make hls` built, when it names this package's digest (`ern_package_sha256()`), else compiled
  by host/cxx.py (the one C++ builder, cached by content under build/csim_cache/);
- `ReferenceCore`: a stand-in with the same byte protocol computed by host.reference (for tests,
  and until the generator has run).

`EmulatedDevice` is a `pynq.Device` with MEMORY_MAPPED capability: `mmap()` returns register
files whose writes drive a model of the AXI DMA (PG021 simple mode: run/stop, soft reset,
idle/halted/IOC/error bits, LENGTH starts a transfer and reads back what was transferred) and of
the core's ap_ctrl_hs port; `allocate()` returns PynqBuffers at fake physical addresses that the
emulated DMA reads and writes. Data moves when both ends are ready, as on the board: a core
started for more frames than it is sent, or whose output has no S2MM transfer, waits forever
(and the driver's deadline fires), exactly the hangs a real overlay shows (finn #659).

Needs g++ and the Xilinx ap_types headers (from the hls4ml wheel, or $ERN_AP_TYPES) only for
CompiledCore. Not needed on the board.
"""
import ctypes
import json
import tempfile
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pynq
from pynq.buffer import PynqBuffer

from host import boards, cxx
from host.artifacts import EMU_LIBRARY, Artifacts
from host.driver import DMA_VLNV, ErnAccelerator, Interface, interface_for
from host.errors import CHECK, ErnError
from host.package import Package, digest, load
from host.reference import Reference
from host.weights import weight_image

DMA_BASE = 0x4040_0000  # where Vivado's address editor puts axi_dma_0 on a Zynq-7000
CORE_BASE = 0x43C0_0000  # and the first AXI-Lite slave (the HLS core)
REGION = 0x1_0000
MEMORY_BASE = boards.PS["zynq7"].ddr_base  # fake physical addresses of allocated buffers
# The emulation library's flags (host.cxx adds -I the folders and -isystem the ap_types headers);
# `make hls` (hls_flow.build_emu) builds with these same flags through build_emulator.
EMULATION_FLAGS = ("-std=c++14", "-O2", "-shared", "-fPIC", "-pthread", "-DERN_NO_AP_AXI_SDATA",
                   "-Wno-unknown-pragmas", "-Wno-maybe-uninitialized", "-Wno-uninitialized")
INSTALLED_LIBRARY = EMU_LIBRARY   # make hls's copy in build/<m>/hls/ (host/artifacts.py)


def address_map(board: boards.Board):
    """(DMA base, core base, first buffer address) of the emulated overlay on `board`: on a
    Zynq-7000 where Vivado puts them behind M_AXI_GP0; on Zynq UltraScale+ the first two 64 KiB
    slots of the M_AXI_HPM0_FPD window, and buffers in the DDR above 4 GB (40-bit addresses)."""
    ps = board.processing_system
    if ps.name == "zynq7":
        return DMA_BASE, CORE_BASE, ps.ddr_base
    return ps.peripheral_base, ps.peripheral_base + REGION, ps.ddr_base


CoreFn = Callable[[np.ndarray, int], np.ndarray]  # (input words, frames) -> output words


class EmulationError(ErnError, RuntimeError):
    """Building or running the emulated accelerator failed (the message says why)."""

    exit_code = CHECK


# ---------------------------------------------------------------------------------------------
# The cores: (input words, frames) -> output words
# ---------------------------------------------------------------------------------------------

class ReferenceCore:
    """A stand-in accelerator: unpacks the input words into images, runs host.reference and packs
    the class sums as the HLS top does (hls/lib/axi_stream.h)."""

    kind = "numpy reference stand-in behind the fake device"

    def __init__(self, package: Package, iface: Interface):
        self.reference = Reference(package)
        self.package = package
        self.iface = iface
        self.loaded = not iface.load_words   # UltraRAM weights: empty until the load

    def load(self, words: np.ndarray) -> None:
        """The weight load (mode 1): the image must be the package's (host/weights.py)."""
        want = weight_image(self.package, self.iface.load_memories)
        words = np.asarray(words, np.uint64)
        if words.shape != want.shape or not np.array_equal(words, want):
            differ = int(np.sum(words != want)) if words.shape == want.shape else None
            raise EmulationError(f"the weight image differs from the package's ({words.size} words sent, "
                                 f"{want.size} expected" + (f", {differ} differ" if differ is not None else "") + ")")
        self.loaded = True

    def __call__(self, words: np.ndarray, frames: int) -> np.ndarray:
        i = self.iface
        if not self.loaded:
            raise EmulationError("the core ran before its UltraRAM weights were loaded (mode 1, "
                                 "ErnAccelerator.load_weights)")
        raw = np.asarray(words).view(np.uint8).reshape(frames, i.in_frame_bytes)
        images = raw[:, :i.in_bytes_per_frame].reshape((frames,) + tuple(i.input_shape))
        sums = self.reference.class_sums(np.ascontiguousarray(images))
        lanes = np.zeros((frames, i.out_words_per_frame * i.lanes_per_word), f"<i{i.lane_bits // 8}")
        lanes[:, :i.classes] = sums
        return lanes.view(np.uint64).reshape(-1)


class CompiledCore:
    """The generated HLS top compiled natively: ern_run() from a shared library."""

    def __init__(self, library: Path, iface: Interface, source: Optional[Path] = None):
        self.library = Path(library)
        self.iface = iface
        self.source = Path(source) if source is not None else None
        self.kind = "compiled HLS C++ (emu.cpp, g++ -O2)"
        try:
            self._lib = ctypes.CDLL(str(self.library))
            self._run = self._lib.ern_run
        except (OSError, AttributeError) as e:
            raise EmulationError(f"{self.library}: cannot load ern_run ({e})") from None
        u64p = ctypes.POINTER(ctypes.c_uint64)
        self._run.argtypes = [u64p, ctypes.c_size_t, u64p, ctypes.c_size_t, ctypes.c_uint]
        self._run.restype = ctypes.c_int
        self._load = getattr(self._lib, "ern_load", None)
        if self._load is not None:
            self._load.argtypes = [u64p, ctypes.c_size_t]
            self._load.restype = ctypes.c_int

    def load(self, words: np.ndarray) -> None:
        """The weight load (mode 1) through ern_load (emu.cpp)."""
        if self._load is None:
            raise EmulationError(f"{self.library.name}: no ern_load (built before the weight loader?)")
        words = np.ascontiguousarray(words, dtype=np.uint64)
        rc = self._load(words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), words.size)
        if rc != 0:
            raise EmulationError(f"{self.library.name}: ern_load returned {rc} for {words.size} words")

    def __call__(self, words: np.ndarray, frames: int) -> np.ndarray:
        words = np.ascontiguousarray(words, dtype=np.uint64)
        out = np.zeros(frames * self.iface.out_words_per_frame, dtype=np.uint64)
        u64p = ctypes.POINTER(ctypes.c_uint64)
        rc = self._run(words.ctypes.data_as(u64p), words.size, out.ctypes.data_as(u64p), out.size,
                       frames)
        if rc != 0:
            raise EmulationError(f"{self.library.name}: ern_run returned {rc} for {frames} frames "
                                 f"({words.size} words in, {out.size} out)")
        return out


# ---------------------------------------------------------------------------------------------
# Building the shared library
# ---------------------------------------------------------------------------------------------

def build_library(sources: Sequence[Path], include_dirs: Sequence[Path] = (), name: str = "emu",
                  cache_dir: Optional[Path] = None, extra_flags: Sequence[str] = ()) -> Path:
    """Compile `sources` into a shared library with the emulation's flags (host.cxx: cached by
    content, CxxError in one line on failure); returns its path."""
    return cxx.build(sources, [*EMULATION_FLAGS, *extra_flags], include_dirs=include_dirs, name=name,
                     cache_dir=cache_dir)


def build_emulator(hls_dir: Path, cache_dir: Optional[Path] = None) -> Path:
    """build/<m>/hls/ -> a cached .so: the sources and include folders interface.json's
    "emulation" entry names (default: ern_top.cpp + emu.cpp with hls_dir and its lib/). `make hls`
    builds this same library and leaves a copy as hls/libern_emu.so (see `library_for`)."""
    hls_dir = Path(hls_dir)
    if not (hls_dir / "emu.cpp").is_file():
        raise EmulationError(f"{hls_dir / 'emu.cpp'}: not generated yet (run make hls MODEL=...)")
    spec: Dict[str, list] = {}
    if (hls_dir / "interface.json").is_file():
        try:
            spec = json.loads((hls_dir / "interface.json").read_text()).get("emulation", {})
        except ValueError as e:
            raise EmulationError(f"{hls_dir / 'interface.json'}: not valid JSON ({e})") from None
    sources = [hls_dir / s for s in spec.get("sources", [])] or \
        [p for p in (hls_dir / "ern_top.cpp", hls_dir / "emu.cpp") if p.is_file()]
    includes = [hls_dir] + [hls_dir / d for d in spec.get("include_dirs", ["lib"]) if (hls_dir / d).is_dir()]
    return build_library(sources, includes, name=f"libemu_{hls_dir.parent.name}.so", cache_dir=cache_dir)


def library_package(library: Path) -> Optional[str]:
    """The package digest a built emulation library names (ern_package_sha256()), None when it
    cannot be loaded or names none (built before the generator wrote it)."""
    try:
        lib = ctypes.CDLL(str(library))
        fn = lib.ern_package_sha256
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_char_p
    value = fn()
    return value.decode() if value else None


def library_for(hls_dir: Path, package: Package, cache_dir: Optional[Path] = None) -> Path:
    """The emulation library of `package`: what `make hls` left (hls/libern_emu.so) when it names
    this package's digest (host.package.digest), else built (and cached) from hls/'s sources.

    Both the file (its bytes hold the digest) and what this process gets when it loads that path
    (the dynamic loader hands back a library already loaded from it, even if the file was
    replaced since) must name the package."""
    installed = Path(hls_dir) / INSTALLED_LIBRARY
    want = digest(package)
    if installed.is_file() and want.encode() in installed.read_bytes() and library_package(installed) == want:
        return installed
    return build_emulator(hls_dir, cache_dir)


# ---------------------------------------------------------------------------------------------
# The emulated hardware: AXI DMA + HLS core + memory
# ---------------------------------------------------------------------------------------------

class _Registers(np.ndarray):
    """A uint32 register file whose element writes call a hook (pynq's MMIO writes elements)."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        hook = self.__dict__.get("hook")
        if hook is not None and isinstance(key, (int, np.integer)):
            hook(int(key), int(np.uint32(value)))

    def poke(self, index: int, value: int) -> None:
        """Set a register without calling the hook (the hardware's own update)."""
        np.ndarray.__setitem__(self, index, np.uint32(value & 0xFFFFFFFF))


def _register_file(length: int, hook) -> _Registers:
    regs = np.zeros(length // 4, dtype=np.uint32).view(_Registers)
    regs.__dict__["hook"] = hook
    return regs


class _Channel:
    """One AXI DMA channel (simple mode)."""

    def __init__(self, name: str, offset: int):
        self.name, self.offset = name, offset
        self.reset()

    def reset(self) -> None:
        self.running = False
        self.status = 0x1  # halted
        self.address = 0
        self.length = 0  # bytes asked for
        self.done = 0  # bytes moved so far
        self.active = False


class EmulatedHardware:
    """What the overlay would do: an AXI DMA whose MM2S feeds the core and whose S2MM takes its
    output, and the core's ap_ctrl_hs port. Driven by register writes (see EmulatedDevice)."""

    def __init__(self, core: CoreFn, iface: Interface, memory, addr_bits: int = 32):
        self.core, self.iface, self.memory = core, iface, memory
        self.addr_bits = addr_bits  # the DMA's c_addr_width: above 32 it has the MSB registers
        self.dma_regs = _register_file(REGION, self._dma_write)
        self.core_regs = _register_file(REGION, self._core_write)
        self.stall: Optional[str] = None  # fault injection: "input" or "output" never moves
        self.runs = 0
        self.reset()

    def reset(self) -> None:
        self.mm2s, self.s2mm = _Channel("MM2S", 0x00), _Channel("S2MM", 0x30)
        self.dma_regs[:] = 0
        self.core_regs[:] = 0
        self._core_idle()
        self.busy = False
        self.frames = 0
        self.loading = False   # this call is the weight load (mode 1)
        self.collected: List[np.ndarray] = []
        self.collected_bytes = 0
        self.pending: Optional[np.ndarray] = None  # output bytes not yet written to memory
        for ch in (self.mm2s, self.s2mm):
            self._publish(ch)

    # -- registers ---------------------------------------------------------------------------
    def _publish(self, ch: _Channel) -> None:
        regs, base = self.dma_regs, ch.offset // 4
        regs.poke(base + 0, 0x1 if ch.running else 0x0)
        regs.poke(base + 1, ch.status)
        regs.poke(base + 10, ch.done if not ch.active else ch.length)

    def _core_idle(self) -> None:
        self.core_regs.poke(self.iface.ctrl_offset // 4, 0x4)  # ap_idle

    def _dma_write(self, index: int, value: int) -> None:
        offset = index * 4
        ch = self.mm2s if offset < 0x30 else self.s2mm
        reg = offset - ch.offset
        if reg == 0x00:  # DMACR
            if value & 0x4:  # soft reset: both channels, the reset bit clears itself
                for c in (self.mm2s, self.s2mm):
                    c.reset()
                    self._publish(c)
                self.dma_regs.poke(index, 0)
                return
            if value & 0x1 and not ch.running:
                ch.running, ch.status = True, 0x0  # running, not idle until a transfer completes
            elif not value & 0x1:
                ch.running, ch.active, ch.status = False, False, 0x1
            self._publish(ch)
            self.dma_regs.poke(index, value)
        elif reg == 0x04:  # DMASR: the interrupt bits are write-1-to-clear
            ch.status &= ~(value & 0x7000)
            self._publish(ch)
        elif reg == 0x18:  # MM2S_SA / S2MM_DA, low word
            ch.address = (ch.address & ~0xFFFFFFFF) | value
        elif reg == 0x1C:  # high word: only a DMA built with more than 32 address bits has it
            if self.addr_bits > 32:
                high = value & ((1 << (self.addr_bits - 32)) - 1)
                ch.address = (ch.address & 0xFFFFFFFF) | (high << 32)
        elif reg == 0x28:  # LENGTH: starts the transfer
            self._start_transfer(ch, value)
        # other registers: plain storage

    def _start_transfer(self, ch: _Channel, length: int) -> None:
        if not ch.running:
            self._publish(ch)
            return
        if length == 0:
            ch.status |= 0x10 | 0x1  # DMAIntErr, halted
            ch.running = False
        elif self.memory.view(ch.address, length) is None:
            ch.status |= 0x40 | 0x1  # DMADecErr: no memory there
            ch.running = False
        else:
            ch.length, ch.done, ch.active = length, 0, True
            ch.status &= ~0x2  # busy
        self._publish(ch)
        self._advance()

    def _core_write(self, index: int, value: int) -> None:
        if index * 4 != self.iface.ctrl_offset:
            return  # plain storage (frames, ...)
        if value & 0x1 and not self.busy:
            self.busy = True
            self.frames = int(self.core_regs[self.iface.frames_offset // 4])
            mode = self.iface.mode_offset
            self.loading = mode is not None and int(self.core_regs[mode // 4]) == 1
            self.collected, self.collected_bytes, self.pending = [], 0, None
            self.core_regs.poke(index, 0x1)  # ap_start, not idle
            self._advance()
        else:
            self.core_regs.poke(index, (0x1 if self.busy else 0x4))

    # -- data movement -----------------------------------------------------------------------
    def _complete(self, ch: _Channel) -> None:
        ch.active = False
        ch.status |= 0x2 | 0x1000  # idle, IOC_Irq
        self._publish(ch)

    def _advance(self) -> None:
        """Move whatever can move: input into the core, the core's output into S2MM."""
        if self.busy and self.pending is None:
            need = self.iface.load_words * 8 if self.loading else self.frames * self.iface.in_frame_bytes
            if self.mm2s.active and self.collected_bytes < need and self.stall != "input":
                take = min(self.mm2s.length - self.mm2s.done, need - self.collected_bytes)
                src = self.memory.view(self.mm2s.address + self.mm2s.done, take)
                self.collected.append(src.copy())
                self.collected_bytes += take
                self.mm2s.done += take
                if self.mm2s.done == self.mm2s.length:
                    self._complete(self.mm2s)
            if self.collected_bytes == need and self.stall != "output":
                words = (np.concatenate(self.collected) if self.collected
                         else np.zeros(0, np.uint8)).view(np.uint64)
                self.runs += 1
                if self.loading:
                    self.core.load(words)
                    out = np.zeros(0, np.uint64)
                else:
                    out = self.core(words, self.frames) if self.frames else np.zeros(0, np.uint64)
                expected = 0 if self.loading else self.frames * self.iface.out_words_per_frame
                if out.size != expected:
                    raise EmulationError(f"the core returned {out.size} words for {self.frames} "
                                         f"frames, expected {expected}")
                self.pending = np.ascontiguousarray(out).view(np.uint8)
        if self.pending is not None and len(self.pending) and self.s2mm.active:
            take = min(self.s2mm.length - self.s2mm.done, len(self.pending))
            self.memory.view(self.s2mm.address + self.s2mm.done, take)[:] = self.pending[:take]
            self.s2mm.done += take
            self.pending = self.pending[take:]
            if len(self.pending) == 0 or self.s2mm.done == self.s2mm.length:  # TLAST or full
                self._complete(self.s2mm)
        if self.busy and self.pending is not None and len(self.pending) == 0:
            self.busy, self.pending = False, None
            self.core_regs.poke(self.iface.ctrl_offset // 4, 0x2 | 0x4 | 0x8)  # done, idle, ready


class _Memory:
    """Fake physical memory: the buffers EmulatedDevice.allocate handed out, by address."""

    def __init__(self, base: int = MEMORY_BASE):
        self.next = base
        self.buffers: Dict[int, "weakref.ref"] = {}

    def add(self, buffer: np.ndarray) -> int:
        address = self.next
        self.next += (buffer.nbytes + 0xFFF) & ~0xFFF or 0x1000
        self.buffers[address] = weakref.ref(buffer)
        return address

    def view(self, address: int, length: int) -> Optional[np.ndarray]:
        """uint8 view of [address, address + length) inside one live buffer, else None."""
        for base, ref in list(self.buffers.items()):
            buf = ref()
            if buf is None:
                del self.buffers[base]
                continue
            if base <= address and address + length <= base + buf.nbytes:
                flat = np.asarray(buf).reshape(-1).view(np.uint8)
                return flat[address - base:address - base + length]
        return None


class EmulatedDevice(pynq.Device):
    """A pynq Device whose overlay is an emulated ERN accelerator (ALWAYS emulation)."""

    emulated = True

    def __init__(self, core: CoreFn, iface: Interface, tag: str = "ern-emulation", board=None):
        super().__init__(tag)
        self.board = board if isinstance(board, boards.Board) else boards.get(board)
        self.name = f"EMULATION of {iface.model} on a {self.board.title}"
        self.capabilities = {"MEMORY_MAPPED": True}
        self.iface = iface
        self.core_kind = getattr(core, "kind", "emulated core")
        self.core_source = getattr(core, "source", None)
        self.dma_base, self.core_base, memory_base = address_map(self.board)
        self.addr_bits = self.board.processing_system.addr_bits
        self.memory = _Memory(memory_base)
        self.hardware = EmulatedHardware(core, iface, self.memory, self.addr_bits)
        self.timestamp = ""
        self.bitfile_name = None

    def __repr__(self) -> str:
        return f"<EmulatedDevice {self.iface.model}: {self.core_kind}>"

    # -- pynq.Device API -------------------------------------------------------------------
    def mmap(self, base_addr: int, length: int):
        if base_addr == self.dma_base and length <= REGION:
            return self.hardware.dma_regs
        if base_addr == self.core_base and length <= REGION:
            return self.hardware.core_regs
        raise EmulationError(f"no emulated IP at 0x{base_addr:08x}")

    def allocate(self, shape, dtype, **kwargs):
        buffer = PynqBuffer(shape, dtype, device=self, bo=None, coherent=True, device_address=0)
        buffer.device_address = self.memory.add(buffer)
        buffer[...] = 0
        return buffer

    def get_bitfile_metadata(self, bitfile_name):
        return SimpleNamespace(ip_dict=self.ip_descriptions(), gpio_dict={}, mem_dict={},
                               interrupt_pins={}, interrupt_controllers={}, hierarchy_dict={},
                               clock_dict={}, systemgraph=None)

    def download(self, bitstream, parser=None):
        """'Program' the emulated logic: every register and transfer back to reset."""
        self.hardware.reset()
        self.post_download(bitstream, parser or self.get_bitfile_metadata(None))

    def flush(self, *args):  # buffers are coherent: nothing to do
        pass

    invalidate = flush

    def ip_descriptions(self) -> Dict[str, dict]:
        """What the .hwh of the real overlay gives pynq: the DMA and the core."""
        # as overlay/ern_overlay.tcl builds it: the memory side as wide as the board's HP port,
        # the streams as wide as the core's, the address as wide as the PS's
        memory_width = str(self.board.hp_bits)
        dma_params = {"c_include_sg": "0", "c_sg_length_width": "26", "c_micro_dma": "0",
                      "c_include_mm2s": "1", "c_include_s2mm": "1",
                      "c_m_axi_mm2s_data_width": memory_width,
                      "c_m_axis_mm2s_tdata_width": str(self.iface.in_bits),
                      "c_m_axi_s2mm_data_width": memory_width,
                      "c_s_axis_s2mm_tdata_width": str(self.iface.out_bits),
                      "c_include_mm2s_dre": "0", "c_include_s2mm_dre": "0",
                      "c_addr_width": str(self.addr_bits)}
        common = {"addr_range": REGION, "interrupts": {}, "gpio": {}, "state": None,
                  "mem_id": "S_AXI_LITE", "memtype": "REGISTER", "registers": {}}
        return {
            "axi_dma_0": dict(common, type=DMA_VLNV, fullpath="axi_dma_0", phys_addr=self.dma_base,
                              parameters=dma_params),
            "ern_top_0": dict(common, type=self.iface.vlnv, fullpath="ern_top_0",
                              phys_addr=self.core_base, parameters={}, mem_id="s_axi_control"),
        }

    def placeholder_bitfile(self, folder: Optional[Path] = None) -> Path:
        """pynq.Overlay wants a .bit file that exists: an empty stand-in, named as emulation."""
        folder = Path(folder or Path(tempfile.gettempdir()) / "ern_emulation")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.iface.model}-EMULATION.bit"
        if not path.is_file():
            path.write_bytes(b"")
        return path


# ---------------------------------------------------------------------------------------------
# One call: an emulated accelerator
# ---------------------------------------------------------------------------------------------

def make_core(kind: str, package: Package, iface: Interface, hls_dir: Optional[Path]):
    """'compiled' (emu.cpp must exist), 'reference' (stand-in) or 'auto' (compiled when
    emu.cpp exists, else the stand-in)."""
    if kind not in ("auto", "compiled", "reference"):
        raise ValueError(f"core must be auto, compiled or reference, got {kind!r}")
    emu = Path(hls_dir) / "emu.cpp" if hls_dir is not None else None
    if kind == "compiled" or (kind == "auto" and emu is not None and emu.is_file()):
        if emu is None:
            raise EmulationError("a compiled core needs the HLS folder (build/<m>/hls)")
        return CompiledCore(library_for(emu.parent, package), iface, source=emu)
    return ReferenceCore(package, iface)


def open_emulated(model: Optional[str] = None, package=None, hls_dir=None, core: str = "auto",
                  interface=None, build_dir=None, board=None, **driver_args) -> ErnAccelerator:
    """An ErnAccelerator on an EmulatedDevice, through pynq.Overlay like on the board.

    model/build_dir locate build/<m>/{dataflow,hls} (host.artifacts); package, hls_dir and
    interface override them; core: 'auto', 'compiled' or 'reference' (see make_core);
    board: the host.boards name the device is configured as (default the PYNQ-Z2: its HP
    width, address map and address width); driver_args go to ErnAccelerator (batch_size,
    timeout_s)."""
    files = Artifacts.find(model, build_dir)
    if package is None:
        package = files.package_dir
    if not isinstance(package, Package):
        package = load(package)
    hls_dir = Path(hls_dir) if hls_dir is not None else files.hls_dir
    if isinstance(interface, Interface):
        iface = interface
    else:
        iface = interface_for(package, interface or hls_dir / "interface.json")
    device = EmulatedDevice(make_core(core, package, iface, hls_dir), iface, board=board)
    bitfile = device.placeholder_bitfile()
    return ErnAccelerator(str(bitfile), package, interface=iface, device=device, **driver_args)


__all__ = ["EmulatedDevice", "EmulatedHardware", "CompiledCore", "ReferenceCore", "EmulationError",
           "build_library", "build_emulator", "library_for", "library_package", "make_core",
           "open_emulated", "EMULATION_FLAGS", "INSTALLED_LIBRARY"]
