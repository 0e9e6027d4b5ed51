"""The PYNQ driver of an ERN accelerator: an HLS dataflow core between the two channels of an
AXI DMA (no scatter-gather) on a Zynq board (PYNQ-Z1/Z2, and unchanged on Zynq UltraScale+:
KV260, Ultra96-V2, AUP-ZU3, ZCU104; host/boards.py), on pynq 3.1.x's API. Everything
board-specific (the DMA's memory width and address width, the addresses) comes from the
overlay's .hwh through pynq; tests/test_boards.py runs it on the emulated device as each board.

    from host.driver import ErnAccelerator
    accel = ErnAccelerator("overlay/ern_tiny.bit", "dataflow")     # Overlay(...) + model package
    labels, scores = accel.classify(images)     # uint8 N x H x W x C -> int64 (N,), float64 (N, classes)
    sums = accel.class_sums(images)             # the raw int32 class sums the accelerator emits
    accel.throughput_test()                     # runtime, images/s, DRAM in/out MB/s, fclk, batch

The same class runs off the board against host.emulation's fake pynq Device (the overlay's
MMIO, buffers and DMA channels are pynq's own objects there too): `device=` selects it.

Stream protocol (hls/lib/axi_stream.h, interface.json):
- in (MM2S -> core): each image's H*W*C uint8 bytes (C-contiguous), little-endian in AXI words
  (64-bit), every frame padded to whole words;
- out (core -> S2MM): each frame's class sums as two's-complement lanes (int32), two per 64-bit
  word, every frame padded to whole words; TLAST on the last word of the batch;
- control (s_axilite, ap_ctrl_hs): ap_start bit 0 / ap_done bit 1 / ap_idle bit 2 at 0x00, the
  number of frames of the call at 0x10;
- weights in UltraRAM (interface.json `load`; Zynq UltraScale+ with URAM, e.g. the KV260): URAM
  has no bitstream initialisation, so after the bitstream loads (and after every reload) the
  driver sends the weight image (host/weights.py, from the model package) once with the core's
  `mode` register (0x18) at 1, then sets it back to 0 for inference: `load_weights()`.

Every wait has a deadline: a DMA that never completes (finn #659) raises TimeoutError with one
line saying which channel, what it expected and what to check, then soft-resets the DMA.

Runs on the board: Python 3.10, numpy >= 1.21, pynq 3.1.2.
"""
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import pynq
from pynq import DefaultIP
from pynq.lib.dma import DMA

from host import boards
from host.errors import CHECK, ErnError
from host.package import Package, digest, fit_input, load
from host.weights import weight_image

DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
DEFAULT_VLNV = "ern:hls:ern_top:1.0"

# ap_ctrl_hs (Vitis HLS s_axilite control)
AP_START, AP_DONE, AP_IDLE, AP_READY = 0x1, 0x2, 0x4, 0x8

# AXI DMA (PG021) simple-mode registers, relative to each channel's base
MM2S, S2MM = 0x00, 0x30
DMA_CR, DMA_SR = 0x00, 0x04
DMA_CR_RUN, DMA_CR_RESET = 0x1, 0x4
DMA_SR_HALTED, DMA_SR_IDLE = 0x1, 0x2

DEFAULT_BATCH_SIZE = 1000
# A batch may take BASE_TIMEOUT_S plus PER_FRAME_TIMEOUT_S per frame: 50x the 0.2 ms per frame
# predicted for ern_tiny at 100 MHz (estimate.json), ~30x CNV-W1A2 (3,050 FPS).
BASE_TIMEOUT_S = 2.0
PER_FRAME_TIMEOUT_S = 0.01

ImagesLike = np.ndarray


class DriverError(ErnError, RuntimeError):
    """The accelerator or its DMA did something unexpected (one-line message)."""

    exit_code = CHECK


def on_board() -> bool:
    """True on a Zynq board running PYNQ (an FPGA manager and PYNQ's device-tree entry)."""
    return (os.path.isfile("/proc/device-tree/chosen/pynq_board")
            or os.path.exists("/sys/class/fpga_manager/fpga0/firmware"))


# ---------------------------------------------------------------------------------------------
# The interface: stream widths, words per frame, registers
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Interface:
    """How the host talks to one accelerator: what interface.json says (or what the model
    package implies when there is none)."""

    model: str
    input_shape: Tuple[int, int, int]  # H, W, C of the uint8 image
    classes: int
    in_bits: int = 64  # TDATA width of the input stream (MM2S), bits
    out_bits: int = 64  # TDATA width of the output stream (S2MM), bits
    lane_bits: int = 32  # width of one class sum in an output word (two's complement)
    vlnv: str = DEFAULT_VLNV  # the HLS core's IP VLNV (the driver binds to it)
    ctrl_offset: int = 0x00  # ap_ctrl_hs register
    frames_offset: int = 0x10  # the `frames` argument of the top function
    clock_mhz: float = boards.get().clock_mhz  # the clock the core was built for (the PL clock)
    # weights in UltraRAM (interface.json `load`): the mode register, the image's words and its
    # memories in load order; None / 0 / () when every weight is in the bitstream
    mode_offset: Optional[int] = None
    load_words: int = 0
    load_memories: Tuple[Dict[str, Any], ...] = field(default=(), compare=False, hash=False)

    def __post_init__(self):
        for name in ("in_bits", "out_bits"):
            bits = getattr(self, name)
            if bits % 8 or bits < 8:
                raise ValueError(f"interface: {name} must be a multiple of 8, got {bits}")
        if self.lane_bits not in (8, 16, 32, 64) or self.out_bits % self.lane_bits:
            raise ValueError(f"interface: lane_bits={self.lane_bits} must be 8/16/32/64 and "
                             f"divide out_bits={self.out_bits}")

    @property
    def in_bytes_per_frame(self) -> int:
        h, w, c = self.input_shape
        return h * w * c

    @property
    def in_word_bytes(self) -> int:
        return self.in_bits // 8

    @property
    def out_word_bytes(self) -> int:
        return self.out_bits // 8

    @property
    def in_words_per_frame(self) -> int:
        return -(-self.in_bytes_per_frame // self.in_word_bytes)

    @property
    def lanes_per_word(self) -> int:
        return self.out_bits // self.lane_bits

    @property
    def out_words_per_frame(self) -> int:
        return -(-self.classes // self.lanes_per_word)

    @property
    def in_frame_bytes(self) -> int:
        """Bytes the input DMA moves per frame (padding included)."""
        return self.in_words_per_frame * self.in_word_bytes

    @property
    def out_frame_bytes(self) -> int:
        return self.out_words_per_frame * self.out_word_bytes

    @classmethod
    def from_package(cls, package: Package, **overrides) -> "Interface":
        return cls(model=package.model, input_shape=tuple(package.input_shape),
                   classes=package.classes, **overrides)

    @classmethod
    def load(cls, path, package: Package, check_package: bool = True) -> "Interface":
        """interface.json (written by hls/codegen), checked against the model package: same
        shape, classes and words per frame, and (check_package) generated from the same package."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: cannot read the interface ({e})") from None
        try:
            return cls.from_json(doc, package, check_package)
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_json(cls, doc: Dict[str, Any], package: Package, check_package: bool = True) -> "Interface":
        inp, out = doc.get("input", {}), doc.get("output", {})
        registers = doc.get("control", {}).get("registers", {})
        fields: Dict[str, Any] = {}
        if "vlnv" in doc:
            fields["vlnv"] = str(doc["vlnv"])
        if "tdata_bits" in inp:
            fields["in_bits"] = int(inp["tdata_bits"])
        if "tdata_bits" in out:
            fields["out_bits"] = int(out["tdata_bits"])
        if "lanes_per_word" in out:
            fields["lane_bits"] = fields.get("out_bits", cls.out_bits) // int(out["lanes_per_word"])
        if "ap_ctrl" in registers:
            fields["ctrl_offset"] = int(registers["ap_ctrl"])
        if "frames" in registers:
            fields["frames_offset"] = int(registers["frames"])
        if "clock_period_ns" in doc:
            fields["clock_mhz"] = 1000.0 / float(doc["clock_period_ns"])
        if doc.get("load"):
            load_doc = doc["load"]
            fields["mode_offset"] = int(load_doc["offset"])
            fields["load_words"] = int(load_doc["words"])
            fields["load_memories"] = tuple(dict(m) for m in load_doc["memories"])
            if sum(int(m["words"]) for m in fields["load_memories"]) != fields["load_words"]:
                raise ValueError(f"load: the memories hold {sum(int(m['words']) for m in fields['load_memories'])} "
                                 f"words, not the {fields['load_words']} stated")
        iface = cls.from_package(package, **fields)
        stated = [("input shape", inp.get("shape"), list(iface.input_shape)),
                  ("input words_per_frame", inp.get("words_per_frame"), iface.in_words_per_frame),
                  ("input bytes_per_frame", inp.get("bytes_per_frame"), iface.in_bytes_per_frame),
                  ("output classes", out.get("classes"), iface.classes),
                  ("output words_per_frame", out.get("words_per_frame"), iface.out_words_per_frame)]
        for what, theirs, mine in stated:
            if theirs is not None and theirs != mine:
                raise ValueError(f"{what} is {theirs} but the model package {package.model!r} implies "
                                 f"{mine} (accelerator and package from different builds?)")
        digest = doc.get("package_sha256")
        if check_package and digest and digest != package_digest(package):
            raise ValueError(f"generated from another model package (package_sha256 {digest[:12]}... "
                             f"!= {package_digest(package)[:12]}...): rebuild with make hls, or use "
                             "the dataflow/ folder it was built from")
        return iface


package_digest = digest   # host.package.digest: computed in one place


# ---------------------------------------------------------------------------------------------
# Packing: images -> input words, output words -> class sums
# ---------------------------------------------------------------------------------------------

def check_images(images: Any, input_shape: Tuple[int, int, int]) -> np.ndarray:
    """uint8 N x H x W x C (a single H x W x C image is taken as N = 1); else one-line ValueError."""
    expected = f"(N, {', '.join(map(str, input_shape))})"
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images: expected a numpy uint8 array of shape {expected}, "
                         f"got {type(images).__name__}")
    if images.ndim == 3 and images.shape == tuple(input_shape):
        images = images[None]
    images = fit_input(images, input_shape)
    if images.dtype != np.uint8:
        hint = (" (raw pixels 0..255, no normalisation: convert with .astype(np.uint8) only if "
                "the values are already integers in 0..255)" if images.dtype.kind in "fiu" else "")
        raise ValueError(f"images: expected dtype uint8, got {images.dtype}{hint}")
    if images.ndim != 4 or images.shape[1:] != tuple(input_shape):
        raise ValueError(f"images: expected shape {expected} (channel-last), got {images.shape}")
    if len(images) == 0:
        raise ValueError("images: the batch is empty (N = 0)")
    return images


def pack_images(images: np.ndarray, iface: Interface, out: Optional[np.ndarray] = None) -> np.ndarray:
    """The input stream's words (uint64 when 64-bit) of N checked images, written into `out`
    (a buffer of at least N * in_words_per_frame words) when given."""
    n = len(images)
    frame, used = iface.in_frame_bytes, iface.in_bytes_per_frame
    if out is None:
        out = np.zeros(n * iface.in_words_per_frame, dtype=_word_dtype(iface.in_bits))
    raw = np.asarray(out).view(np.uint8)[:n * frame].reshape(n, frame)
    raw[:, :used] = images.reshape(n, used)
    if frame > used:
        raw[:, used:] = 0
    return out


def unpack_class_sums(words: np.ndarray, iface: Interface, n: int) -> np.ndarray:
    """int64 (n, classes) from the output stream's words."""
    lanes = np.asarray(words).view(np.uint8)[:n * iface.out_frame_bytes]
    lanes = lanes.view(f"<i{iface.lane_bits // 8}").reshape(n, -1)
    return lanes[:, :iface.classes].astype(np.int64)


def check_sums_in_range(sums: np.ndarray, package: Package, first: int = 0) -> None:
    """DriverError when a class sum lies outside the range the package declares for its output
    stream: the accelerator computed something else (a sign-extended unsigned sum, another
    bitstream), and its answer must not be returned as if it were right."""
    stream = package.streams[package.output]
    bad = np.argwhere((sums < stream.min) | (sums > stream.max))
    if len(bad):
        image, cls = (int(v) for v in bad[0])
        raise DriverError(f"{package.model}: class sum {int(sums[image, cls])} of image {first + image}, class "
                          f"{cls} is outside the package's range [{stream.min}, {stream.max}] "
                          f"({len(bad)} such sums): the accelerator and the model package disagree")


def _word_dtype(bits: int):
    return {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}.get(bits, np.uint8)


# ---------------------------------------------------------------------------------------------
# The HLS core's control interface
# ---------------------------------------------------------------------------------------------

class ErnCore(DefaultIP):
    """The accelerator's s_axilite control port (ap_ctrl_hs + the `frames` argument)."""

    bindto = [DEFAULT_VLNV]

    def __init__(self, description):
        super().__init__(description=description)
        self.ctrl_offset = 0x00
        self.frames_offset = 0x10
        self.mode_offset: Optional[int] = None   # a core with weights in UltraRAM: its `mode`

    @property
    def status(self) -> int:
        return self.read(self.ctrl_offset)

    @property
    def idle(self) -> bool:
        return bool(self.status & AP_IDLE)

    def start(self, frames: int, mode: int = 0) -> None:
        """ap_start for `frames` frames (mode 0), or for the weight load (mode 1, frames 0)."""
        self.write(self.frames_offset, int(frames))
        if self.mode_offset is not None:
            self.write(self.mode_offset, int(mode))
        self.write(self.ctrl_offset, AP_START)


# ---------------------------------------------------------------------------------------------
# The accelerator
# ---------------------------------------------------------------------------------------------

class ErnAccelerator:
    """An ERN accelerator on an overlay: batches of uint8 images in, labels and scores out.

    bitfile: path of the .bit (its .hwh beside it); package: a model package folder or Package;
    interface: interface.json path / Interface (default: interface.json found beside the
    bitfile or under hls/ next to the package, else what the package implies);
    device: a pynq Device (default: the board; host.emulation.EmulatedDevice off the board);
    timeout_s: the longest wait for one batch (default BASE + PER_FRAME * frames).
    """

    def __init__(self, bitfile, package: Union[str, Path, Package], interface=None,
                 batch_size: int = DEFAULT_BATCH_SIZE, timeout_s: Optional[float] = None,
                 device=None, download: bool = True, overlay=None):
        package_dir = None if isinstance(package, Package) else Path(package)
        self.package = package if isinstance(package, Package) else load(package)
        self.interface = _resolve_interface(interface, self.package, bitfile, package_dir)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.timeout_s = timeout_s
        self.bitfile = str(bitfile) if bitfile is not None else None
        if overlay is None:
            if self.bitfile is None:
                raise ValueError("ErnAccelerator needs a bitfile (or an overlay)")
            if not Path(self.bitfile).is_file():
                raise FileNotFoundError(f"{self.bitfile}: no bitstream (build it with make overlay, "
                                        "or use host.emulation off the board)")
            overlay = pynq.Overlay(os.path.abspath(self.bitfile), download=download, device=device)
        self.overlay = overlay
        self.device = overlay.device
        self._bind()
        self._in_buf = self._out_buf = None
        self.batch_size = 0
        self._allocate(batch_size)
        self.load_weights()
        self._scale = self.package.head_scale.astype(np.float64)
        self._divisor = self.package.head.divisor

    # -- what this is -----------------------------------------------------------------------
    @property
    def emulated(self) -> bool:
        return bool(getattr(self.device, "emulated", False))

    @property
    def backend(self) -> str:
        """'hardware' on a board, 'emulation' against host.emulation's device."""
        return "emulation" if self.emulated else "hardware"

    def describe(self) -> str:
        source = getattr(self.device, "core_source", None)
        where = (f"EMULATION ({getattr(self.device, 'core_kind', 'emulated core')}"
                 f"{f' from {source}' if source else ''}; not hardware)"
                 if self.emulated else f"hardware ({self.bitfile})")
        i = self.interface
        return (f"{i.model} on {where}: {i.input_shape} uint8 -> {i.classes} classes, "
                f"{i.in_words_per_frame} in / {i.out_words_per_frame} out words per frame, "
                f"batch {self.batch_size}")

    def __repr__(self) -> str:
        return f"<ErnAccelerator {self.describe()}>"

    # -- binding to the overlay ------------------------------------------------------------
    def _bind(self) -> None:
        ip_dict = self.overlay.ip_dict
        dmas = [n for n, d in ip_dict.items() if str(d.get("type", "")).startswith("xilinx.com:ip:axi_dma:")]
        cores = [n for n, d in ip_dict.items() if d.get("type") == self.interface.vlnv]
        found = ", ".join(f"{n} ({d.get('type')})" for n, d in ip_dict.items()) or "none"
        if len(dmas) != 1:
            raise DriverError(f"{self.bitfile}: expected one AXI DMA in the overlay, found {len(dmas)} "
                              f"(IP: {found})")
        if len(cores) != 1:
            raise DriverError(f"{self.bitfile}: expected one {self.interface.vlnv} core in the "
                              f"overlay, found {len(cores)} (IP: {found}); overlay and model "
                              "package from different builds?")
        self.dma_name, self.core_name = dmas[0], cores[0]
        self.dma = getattr(self.overlay, self.dma_name)
        if not isinstance(self.dma, DMA):
            raise DriverError(f"{self.dma_name}: pynq did not bind its DMA driver (got "
                              f"{type(self.dma).__name__})")
        for channel, name in ((self.dma.sendchannel, "MM2S"), (self.dma.recvchannel, "S2MM")):
            if channel is None:
                raise DriverError(f"{self.dma_name}: the {name} channel is not enabled in the overlay")
        core = getattr(self.overlay, self.core_name)
        if not isinstance(core, ErnCore):  # a VLNV other than ErnCore.bindto
            description = dict(ip_dict[self.core_name])
            description.setdefault("device", self.device)
            core = ErnCore(description)
        core.ctrl_offset = self.interface.ctrl_offset
        core.frames_offset = self.interface.frames_offset
        core.mode_offset = self.interface.mode_offset
        self.core = core
        self._broken: Optional[str] = None

    def _allocate(self, batch_size: int) -> None:
        i = self.interface
        limit = self.dma.buffer_max_size
        if batch_size * max(i.in_frame_bytes, i.out_frame_bytes) > limit:
            raise ValueError(f"batch_size {batch_size}: {batch_size * i.in_frame_bytes} bytes exceed "
                             f"the DMA's transfer limit of {limit} bytes (at most "
                             f"{limit // i.in_frame_bytes} images per batch)")
        self._in_buf = pynq.allocate((batch_size * i.in_words_per_frame,),
                                     dtype=_word_dtype(i.in_bits), target=self.device)
        self._out_buf = pynq.allocate((batch_size * i.out_words_per_frame,),
                                      dtype=_word_dtype(i.out_bits), target=self.device)
        self.batch_size = batch_size

    def reload(self) -> None:
        """Download the bitstream again (resets the programmable logic) and rebind."""
        self.overlay.download()
        self._bind()
        self._restart_dma()
        self.load_weights()   # a new bitstream leaves UltraRAM empty

    # -- the weight load -------------------------------------------------------------------
    def load_weights(self) -> int:
        """Send the weight image to a core whose weights are in UltraRAM (mode 1), in DMA
        transfers of at most the DMA's limit; returns the words sent (0: nothing to load)."""
        i = self.interface
        if not i.load_words:
            return 0
        if i.in_bits != 64:
            raise DriverError(f"{i.model}: the weight image is made of 64-bit words, the input stream "
                              f"is {i.in_bits} bits")
        image = weight_image(self.package, i.load_memories)
        if image.size != i.load_words:
            raise DriverError(f"{i.model}: the package gives a weight image of {image.size} words, "
                              f"interface.json says {i.load_words} (package and bitstream from different builds?)")
        if not self.core.idle:
            self._broken = "the core was busy before the weight load"
            raise DriverError(f"{i.model}: the accelerator core is not idle before the weight load; call reload()")
        send = self.dma.sendchannel
        chunk = max(1, self.dma.buffer_max_size // 8)
        buf = pynq.allocate((min(chunk, image.size),), dtype=np.uint64, target=self.device)
        deadline = time.monotonic() + BASE_TIMEOUT_S + image.size * 8 / 50e6   # >= 50 MB/s
        try:
            self.core.start(0, mode=1)
            for start in range(0, image.size, chunk):
                part = image[start:start + chunk]
                buf[:part.size] = part
                buf.flush()
                send.transfer(buf, nbytes=part.size * 8)
                self._wait(send, MM2S, "input DMA (MM2S) of the weight image", deadline, 0,
                           f"the core took fewer than the {image.size} weight words: is the bitstream "
                           f"built for {i.model} with these weights in UltraRAM?")
            while not self.core.idle:
                if time.monotonic() > deadline:
                    self._broken = "the core did not finish the weight load"
                    raise TimeoutError(f"{i.model}: the core did not return to idle after the weight "
                                       "image; call reload()")
        finally:
            buf.freebuffer()
        return int(image.size)

    # -- running ---------------------------------------------------------------------------
    def check_images(self, images) -> np.ndarray:
        return check_images(images, self.interface.input_shape)

    def _timeout(self, frames: int) -> float:
        if self.timeout_s is not None:
            return float(self.timeout_s)
        return BASE_TIMEOUT_S + PER_FRAME_TIMEOUT_S * frames

    def run_batch(self, frames: int) -> None:
        """Run the accelerator on the first `frames` images already packed into the input buffer;
        their words land in the output buffer. Raises TimeoutError / DriverError, never hangs."""
        if self._broken:
            raise DriverError(f"{self.interface.model}: the accelerator is stuck since an earlier "
                              f"failure ({self._broken}); call reload() to reset the logic")
        if not 1 <= frames <= self.batch_size:
            raise ValueError(f"frames must be in 1..{self.batch_size}, got {frames}")
        i = self.interface
        if not self.core.idle:
            self._broken = "the core was busy before a run"
            raise DriverError(f"{i.model}: the accelerator core is not idle before the run "
                              "(an earlier run did not finish); call reload()")
        send, recv = self.dma.sendchannel, self.dma.recvchannel
        in_bytes, out_bytes = frames * i.in_frame_bytes, frames * i.out_frame_bytes
        deadline = time.monotonic() + self._timeout(frames)
        # Receive first, so the output always has somewhere to go; then the core, then the input.
        recv.transfer(self._out_buf, nbytes=out_bytes)
        self.core.start(frames)
        send.transfer(self._in_buf, nbytes=in_bytes)
        self._wait(send, MM2S, "input DMA (MM2S)", deadline, frames,
                   f"the core took fewer than the {in_bytes} bytes sent ({frames} frames x "
                   f"{i.in_frame_bytes}): is the bitstream built for {i.model} {i.input_shape}?")
        self._wait(recv, S2MM, "output DMA (S2MM)", deadline, frames,
                   f"the core sent fewer than the {out_bytes} bytes expected ({frames} frames x "
                   f"{i.out_frame_bytes}) or never set TLAST (finn #659): do the bitstream and "
                   "interface.json come from the same build?")
        if recv.transferred != out_bytes:
            raise DriverError(f"{i.model}: the output DMA received {recv.transferred} bytes, expected "
                              f"{out_bytes} ({frames} frames x {i.out_frame_bytes}): TLAST came early; "
                              "the bitstream's interface differs from interface.json")
        while not self.core.idle:
            if time.monotonic() > deadline:
                self._broken = "the core did not return to idle"
                raise TimeoutError(f"{i.model}: the core did not return to idle after the DMA "
                                   f"finished ({frames} frames); call reload()")

    def _wait(self, channel, offset: int, name: str, deadline: float, frames: int, hint: str) -> None:
        """pynq's channel.wait() without its unbounded loop: poll idle/error until the deadline."""
        polls = 0
        while not channel.idle:
            if channel.error:
                status = self.dma.mmio.read(offset + DMA_SR)
                self._recover()
                raise DriverError(f"{self.interface.model}: {name} error, status 0x{status:08x} "
                                  "(0x10 internal: length 0?, 0x20 slave: memory access, "
                                  "0x40 decode: bad address)")
            if time.monotonic() > deadline:
                waited = self._timeout(frames)
                self._recover()
                raise TimeoutError(f"{self.interface.model}: timed out after {waited:.1f} s waiting "
                                   f"for the {name} ({frames} frames): {hint}; the DMA was reset")
            polls += 1
            if polls > 1000:
                time.sleep(50e-6)
        channel.wait()  # returns at once now: invalidates the buffer, reads `transferred`

    def _recover(self) -> None:
        """Soft-reset the AXI DMA (both channels) and restart it; a core that is still busy
        marks the accelerator stuck (only a reload resets the HLS core)."""
        mmio = self.dma.mmio
        mmio.write(MM2S + DMA_CR, DMA_CR_RESET)
        deadline = time.monotonic() + 1.0
        while mmio.read(MM2S + DMA_CR) & DMA_CR_RESET:
            if time.monotonic() > deadline:
                self._broken = "the DMA did not come out of reset"
                return
        self._restart_dma()
        if not self._broken and not self.core.idle:
            self._broken = "a timeout left the core busy"

    def _restart_dma(self) -> None:
        """Set both channels running (after a reset or a download), with a deadline."""
        mmio = self.dma.mmio
        deadline = time.monotonic() + 1.0
        for channel, offset in ((self.dma.sendchannel, MM2S), (self.dma.recvchannel, S2MM)):
            mmio.write(offset + DMA_CR, DMA_CR_RUN)
            while mmio.read(offset + DMA_SR) & DMA_SR_HALTED:
                if time.monotonic() > deadline:
                    self._broken = "the DMA did not start"
                    return
            channel.start()  # running already: returns at once, resets pynq's first-transfer flag

    def class_sums(self, images: ImagesLike, progress=None) -> np.ndarray:
        """int64 (N, classes): the accelerator's integer class sums. `progress(n)` is called
        after each batch with the number of images done in it (e.g. a tqdm's update)."""
        images = self.check_images(images)
        out = np.empty((len(images), self.interface.classes), dtype=np.int64)
        for start in range(0, len(images), self.batch_size):
            batch = images[start:start + self.batch_size]
            pack_images(batch, self.interface, self._in_buf)
            self.run_batch(len(batch))
            out[start:start + len(batch)] = unpack_class_sums(self._out_buf, self.interface, len(batch))
            check_sums_in_range(out[start:start + len(batch)], self.package, start)
            if progress is not None:
                progress(len(batch))
        return out

    def logits_from_sums(self, sums: np.ndarray) -> np.ndarray:
        """float64 (N, classes): scale[c] * sums[c] / divisor + bias[c] (as host.reference does)."""
        return self.package.logits_from_sums(sums)

    def classify(self, images: ImagesLike, progress=None) -> Tuple[np.ndarray, np.ndarray]:
        """(labels int64 (N,), scores float64 (N, classes)): the argmax of the scores, which are
        the class sums with the head's per-class scale and the average pool's division applied."""
        scores = self.logits_from_sums(self.class_sums(images, progress))
        return np.argmax(scores, axis=1), scores

    def predict(self, images: ImagesLike) -> np.ndarray:
        return self.classify(images)[0]

    execute = class_sums  # FINN's driver name for the raw accelerator output

    # -- throughput ------------------------------------------------------------------------
    def fclk_mhz(self) -> Optional[float]:
        """FCLK0 as the PS programs it (None in emulation: there is no clock)."""
        if self.emulated:
            return None
        try:
            return float(pynq.Clocks.fclk0_mhz)
        except Exception:  # no PS clock registers (not a Zynq)
            return None

    def throughput_test(self, images: Optional[np.ndarray] = None,
                        batch_size: Optional[int] = None, repeats: int = 3) -> Dict[str, Any]:
        """Like FINN's driver: the accelerator's runtime for one batch (best of `repeats`) and
        what it implies; random images when none are given. Keys as FINN's, plus `backend`
        ('hardware' or 'emulation': emulation speed is not hardware speed)."""
        n = batch_size or self.batch_size
        if n > self.batch_size:
            self._allocate(n)
        if images is None:
            images = np.random.default_rng(0).integers(0, 256, (n,) + tuple(self.interface.input_shape),
                                                       dtype=np.uint8)
        images = self.check_images(images)[:n]
        n = len(images)
        i = self.interface
        t0 = time.perf_counter()
        pack_images(images, i, self._in_buf)
        t1 = time.perf_counter()
        runtime = float("inf")
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            self.run_batch(n)
            runtime = min(runtime, time.perf_counter() - start)
        t2 = time.perf_counter()
        unpack_class_sums(self._out_buf, i, n)
        t3 = time.perf_counter()
        return {
            "backend": self.backend,
            "runtime[ms]": runtime * 1e3,
            "throughput[images/s]": n / runtime,
            "DRAM_in_bandwidth[MB/s]": n * i.in_frame_bytes / runtime * 1e-6,
            "DRAM_out_bandwidth[MB/s]": n * i.out_frame_bytes / runtime * 1e-6,
            "fclk[mhz]": self.fclk_mhz(),
            "batch_size": n,
            "pack_input[ms]": (t1 - t0) * 1e3,
            "unpack_output[ms]": (t3 - t2) * 1e3,
        }

    def close(self) -> None:
        """Free the DMA buffers."""
        for buf in (self._in_buf, self._out_buf):
            if buf is not None and hasattr(buf, "freebuffer"):
                buf.freebuffer()
        self._in_buf = self._out_buf = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _resolve_interface(interface, package: Package, bitfile, package_dir) -> Interface:
    """An Interface, interface.json's path, or None: look beside the bitfile, in the hls/ folder
    beside its overlay/ folder or beside the package (build/<m>/hls/), else derive from the package."""
    if isinstance(interface, Interface):
        return interface
    if interface is not None:
        return Interface.load(interface, package)
    candidates = []
    if bitfile is not None:  # beside the bitstream, or build/<m>/hls/ for build/<m>/overlay/<m>.bit
        candidates += [Path(bitfile).with_name("interface.json"),
                       Path(bitfile).resolve().parent.parent / "hls" / "interface.json"]
    if package_dir is not None:
        candidates.append(package_dir.parent / "hls" / "interface.json")
    for path in candidates:
        if path.is_file():
            return Interface.load(path, package)
    return Interface.from_package(package)


def interface_for(package: Package, path=None) -> Interface:
    """interface.json at `path` when it exists, else what the package implies."""
    if path is not None and Path(path).is_file():
        return Interface.load(path, package)
    return Interface.from_package(package)


def summary(report: Dict[str, Any]) -> str:
    """A throughput_test() report on one line."""
    parts = []
    for key, value in report.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        parts.append(f"{key}={value}")
    return " ".join(parts)


__all__ = ["ErnAccelerator", "ErnCore", "Interface", "DriverError", "check_images", "pack_images",
           "unpack_class_sums", "on_board", "interface_for", "summary", "DMA_VLNV", "DEFAULT_VLNV"]
