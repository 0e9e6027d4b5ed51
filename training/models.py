"""The model zoo: ERNs (docs/ern.md) and the BNN-PYNQ CNV topology with w1a2, by name.

By default every conv and FC has binary weights and every activation is 2-bit; an ERN's
`bits` (and per-layer `layer_bits`) give other widths: 1..3 weight planes (or a heterogeneous
mix of 1..3 bits per weight with a target average) and 1..4-bit activations. The residual
stream is (unit) * integer: it is written only by shared-constant convs that read integer
codes, all of one weight width (so all share one unit).
"""
from dataclasses import asdict, dataclass, field, replace
from typing import List, Optional, Tuple

import torch
from torch import nn
import torch.nn.functional as F
from brevitas.nn import QuantIdentity

from .layers import (BitPlaneConv2d, CodeAct, PixelEmbedding, TwoBitAct, binary_conv_valid, binary_linear,
                     plane_conv)
from .quant import Uint8Pixel


@dataclass(frozen=True)
class Bits:
    """Bit widths of one layer (or the default of a model)."""
    weight: int = 1                  # sign planes of a conv's weights (1: binary, 2, 3)
    average: Optional[float] = None  # heterogeneous: target average bits per weight (1..weight)
    act: int = 2                     # activation bits (1..4)

    def __post_init__(self):
        if not 1 <= self.weight <= 3:
            raise ValueError(f"weight bits must be 1..3, not {self.weight}")
        if not 1 <= self.act <= 4:
            raise ValueError(f"activation bits must be 1..4, not {self.act}")
        if self.average is not None and not 1.0 <= self.average <= self.weight:
            raise ValueError(f"average weight bits {self.average} must lie within 1..{self.weight}")


@dataclass(frozen=True)
class ERNConfig:
    """One ERN. Stem: convs of `stem_widths` with `stem_strides` (3x3), then a 1x1
    shared-constant conv into the residual stream of width stages[0][0] (or its expansion)."""
    stem_widths: Tuple[int, ...]
    stem_strides: Tuple[int, ...]
    stages: Tuple[Tuple[int, int, int], ...]  # (width, blocks, stride)
    block: str = "basic"                       # "basic" | "bottleneck"
    embed_k: int = 10                          # thermometer channels per colour channel
    embed_bits: int = 2
    bits: Bits = Bits()                        # every conv and activation, unless overridden
    # (module name, Bits) overrides: a conv's name sets its weights ("stem.0", "blocks.1.conv1",
    # "classifier"), an activation's name its width ("stem.2", "blocks.0.act1", "head_act")
    layer_bits: Tuple[Tuple[str, Bits], ...] = ()

    def __post_init__(self):
        if len(self.stem_widths) != len(self.stem_strides):
            raise ValueError("stem_widths and stem_strides must have the same length")
        if self.block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be 'basic' or 'bottleneck', not {self.block!r}")

    def bits_of(self, name: str) -> Bits:
        return dict(self.layer_bits).get(name, self.bits)


class LayerFactory:
    """Builds the convs and activations of an ERN with the widths its config gives each name."""

    def __init__(self, config: ERNConfig, prefix: str = ""):
        self.config, self.prefix = config, prefix

    def sub(self, prefix: str) -> "LayerFactory":
        return LayerFactory(self.config, f"{self.prefix}{prefix}.")

    def conv(self, name, c_in, c_out, kernel, stride=1, shared_constant=False):
        b = self.config.bits_of(self.prefix + name)
        return plane_conv(c_in, c_out, kernel, stride, b.weight, b.average, shared_constant)

    def act(self, name, post_scale=True):
        return CodeAct(self.config.bits_of(self.prefix + name).act, post_scale)


class BasicBlock(nn.Module):
    """Pre-activation basic block: BN0 -> act0 -> [1x1 shortcut] ; conv3x3(stride) -> BN1 ->
    act1 (codes) -> conv3x3 (shared constant) -> + shortcut."""
    expansion = 1

    def __init__(self, c_in, width, stride, shortcut, make: LayerFactory):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(c_in)
        # act0 feeds the shared-constant shortcut when there is one: it must emit codes.
        self.act0 = make.act("act0", post_scale=not shortcut)
        self.shortcut = make.conv("shortcut", c_in, width, 1, stride, shared_constant=True) if shortcut else None
        self.conv1 = make.conv("conv1", c_in, width, 3, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.act1 = make.act("act1", post_scale=False)
        self.conv2 = make.conv("conv2", width, width, 3, shared_constant=True)

    def forward(self, x):
        h = self.act0(self.bn0(x))
        skip = self.shortcut(h) if self.shortcut is not None else x
        h = self.act1(self.bn1(self.conv1(h)))
        return self.conv2(h) + skip


class BottleneckBlock(nn.Module):
    """Pre-activation bottleneck: 1x1 / 3x3 (stride) / 1x1 (shared constant, x4 expansion)."""
    expansion = 4

    def __init__(self, c_in, width, stride, shortcut, make: LayerFactory):
        super().__init__()
        out = width * self.expansion
        self.bn0 = nn.BatchNorm2d(c_in)
        self.act0 = make.act("act0", post_scale=not shortcut)
        self.shortcut = make.conv("shortcut", c_in, out, 1, stride, shared_constant=True) if shortcut else None
        self.conv1 = make.conv("conv1", c_in, width, 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.act1 = make.act("act1")
        self.conv2 = make.conv("conv2", width, width, 3, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.act2 = make.act("act2", post_scale=False)
        self.conv3 = make.conv("conv3", width, out, 1, shared_constant=True)

    def forward(self, x):
        h = self.act0(self.bn0(x))
        skip = self.shortcut(h) if self.shortcut is not None else x
        h = self.act1(self.bn1(self.conv1(h)))
        h = self.act2(self.bn2(self.conv2(h)))
        return self.conv3(h) + skip


class ERN(nn.Module):
    """Efficiera Residual Network. Input: raw uint8 pixels as a float tensor N x C x H x W."""

    def __init__(self, config: ERNConfig, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        self.config = config
        make = LayerFactory(config)
        self.embed = PixelEmbedding(in_channels, config.embed_k, config.embed_bits)
        stem, c = [], self.embed.out_channels
        for i, (w, s) in enumerate(zip(config.stem_widths, config.stem_strides)):
            last = i == len(config.stem_widths) - 1
            stem += [make.sub("stem").conv(str(3 * i), c, w, 3, s), nn.BatchNorm2d(w),
                     make.sub("stem").act(str(3 * i + 2), post_scale=not last)]
            c = w
        self.stem = nn.Sequential(*stem)
        self.stem_out = make.conv("stem_out", c, config.stages[0][0], 1, shared_constant=True)
        block_cls = BasicBlock if config.block == "basic" else BottleneckBlock
        blocks, c = [], config.stages[0][0]
        for width, n, stride in config.stages:
            for b in range(n):
                blocks.append(block_cls(c, width, stride if b == 0 else 1, shortcut=b == 0,
                                        make=make.sub(f"blocks.{len(blocks)}")))
                c = width * block_cls.expansion
        self.blocks = nn.Sequential(*blocks)
        self.head_bn = nn.BatchNorm2d(c)
        self.head_act = make.act("head_act")
        self.classifier = make.conv("classifier", c, num_classes, 1)

    def forward(self, x):
        h = self.stem_out(self.stem(self.embed(x)))
        h = self.blocks(h)
        h = self.classifier(self.head_act(self.head_bn(h)))
        return h.mean(dim=(2, 3))  # conv before pool: integer class sums on the accelerator


class CNV(nn.Module):
    """BNN-PYNQ's CNV with 1-bit weights and 2-bit activations: 8-bit pixel input (28x28
    zero-padded to 32x32), unpadded 3x3 convs 64,64,pool,128,128,pool,256,256, FC 512,512,C.
    Not fully w1a2 in its input (8-bit), which is what ERNs change."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, pad_to: int = 32):
        super().__init__()
        self.pad_to = pad_to
        self.input_quant = QuantIdentity(act_quant=Uint8Pixel)
        layers, c = [], in_channels
        for w, pool in ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False)):
            layers += [binary_conv_valid(c, w, 3), nn.BatchNorm2d(w), TwoBitAct()]
            if pool:
                layers.append(nn.MaxPool2d(2))
            c = w
        self.features = nn.Sequential(*layers)
        fcs = []
        for w in (512, 512):
            fcs += [binary_linear(c, w), nn.BatchNorm1d(w), TwoBitAct()]
            c = w
        fcs.append(binary_linear(c, num_classes))
        self.classifier = nn.Sequential(*fcs)

    def forward(self, x):
        pad = (self.pad_to - x.shape[-1]) // 2
        if pad > 0:
            x = F.pad(x, (pad, pad, pad, pad))
        h = self.features(self.input_quant(x))
        return self.classifier(torch.flatten(h, 1))


ZOO = {
    # On-chip on a PYNQ-Z2: ~1.27 M binary weights.
    "ern_tiny": ERNConfig(stem_widths=(64, 64), stem_strides=(2, 1),
                          stages=((64, 1, 1), (128, 1, 2), (256, 1, 2))),
    "ern18_x075": ERNConfig((64, 64, 64), (2, 1, 2), ((64, 2, 1), (128, 2, 2), (256, 2, 2), (384, 2, 2))),
    "ern18": ERNConfig((64, 64, 64), (2, 1, 2), ((64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2))),
    "ern34": ERNConfig((64, 64, 64), (2, 1, 2), ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))),
    "ern50": ERNConfig((64, 64, 64), (2, 1, 2), ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)),
                       block="bottleneck"),
    "ern101": ERNConfig((64, 64, 64), (2, 1, 2), ((64, 3, 1), (128, 4, 2), (256, 23, 2), (512, 3, 2)),
                        block="bottleneck"),
}

def _ern_tiny(bits: Bits, layer_bits=()) -> ERNConfig:
    return replace(ZOO["ern_tiny"], bits=bits, layer_bits=tuple(layer_bits))


# The trade-off grid (tools/tradeoff.py): weights 1 / 1.4 (heterogeneous, 3 planes) / 2 bits x
# activations 1 / 2 / 3 bits ("p" for the decimal point; ern_tiny itself is w1a2).
for _w, _bits in (("1", Bits(1)), ("1p4", Bits(3, 1.4)), ("2", Bits(2))):
    for _a in (1, 2, 3):
        if (_w, _a) != ("1", 2):
            ZOO[f"ern_tiny_w{_w}a{_a}"] = _ern_tiny(replace(_bits, act=_a))
# Per-layer widths: 2-bit weights where the input is richest (the first conv, on the pixel
# embedding) and in the classifier, a 3-bit stem activation, 1-bit codes inside the first block.
ZOO["ern_tiny_mixed"] = _ern_tiny(Bits(), (("stem.0", Bits(2)), ("stem.2", Bits(act=3)),
                                           ("blocks.0.act1", Bits(act=1)), ("classifier", Bits(2))))
class BnnPynq(nn.Module):
    """One of brevitas_examples.bnn_pynq's configs (CNV, LFC, SFC, TFC x 1W1A / 1W2A / 2W2A),
    built with brevitas_examples' own factory (random init: pretrained weights cannot be
    downloaded here), behind a front that takes our raw 0..255 pixels: x / 255, the [0, 1]
    range those models were trained on (the lowering absorbs the division into the first
    thresholds). For CNV, a 1-channel image is repeated to its 3 channels and a smaller image
    zero-padded to 32 x 32 (pixel 0 gives CNV's lowest input code, so the lowering turns the
    border into the first conv's padding)."""

    def __init__(self, config: str, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        from brevitas_examples.bnn_pynq.models import get_model_cfg, model_impl
        cfg = get_model_cfg(config)
        cfg.set("MODEL", "NUM_CLASSES", str(num_classes))
        self.config, self.arch = config, cfg.get("MODEL", "ARCH")
        expected = cfg.getint("MODEL", "IN_CHANNELS")
        if in_channels not in (1, expected):
            raise ValueError(f"{config} takes {expected} input channels (or 1, repeated), not {in_channels}")
        self.repeat = expected if in_channels != expected else 1
        self.net = model_impl[self.arch](cfg)

    def clip_weights(self, lo: float = -1.0, hi: float = 1.0):
        """Clamp the float (latent) weights to [lo, hi], as brevitas_examples' trainer does after
        every step: the weight quantizers' straight-through gradient is not clipped, so without
        this the latent weights drift far from 0 and their signs stop flipping."""
        self.net.clip_weights(lo, hi)

    def forward(self, x):
        if self.arch == "CNV" and x.shape[-1] < 32:
            pad = (32 - x.shape[-1]) // 2
            x = F.pad(x, (pad, pad, pad, pad))
        x = x / 255.0
        if self.repeat > 1:
            x = x.repeat(1, self.repeat, 1, 1)
        return self.net(x)


def _bnn_name(config: str) -> str:
    """brevitas' `cnv_1w2a` -> our `bnn_cnv_w1a2`."""
    arch, widths = config.split("_")
    return f"bnn_{arch}_w{widths[0]}a{widths[2]}"


BNN_PYNQ_CONFIGS = ("cnv_1w1a", "cnv_1w2a", "cnv_2w2a", "lfc_1w1a", "lfc_1w2a", "sfc_1w1a", "sfc_1w2a",
                    "sfc_2w2a", "tfc_1w1a", "tfc_1w2a", "tfc_2w2a")
BNN_PYNQ = {_bnn_name(c): c for c in BNN_PYNQ_CONFIGS}   # bnn_cnv_w1a2 -> cnv_1w2a, ...
PEERS = {"cnv_w1a2": CNV}
MODEL_NAMES = tuple(ZOO) + tuple(PEERS) + tuple(BNN_PYNQ)


def train_defaults(name: str) -> dict:
    """The training recipe's per-model defaults (training.train's --lr and --augment when not
    given). The bnn_pynq models take brevitas_examples' own recipe: Adam at lr 0.02 (at our
    2e-3 they learn several times slower), and for the MLPs no shift/flip augmentation, as its
    MNIST trainer (a fully connected layer cannot follow a shifted image; on Fashion-MNIST
    augmentation cost TFC-W1A1 8 points of test top-1 after 3 epochs)."""
    if name in BNN_PYNQ:
        return {"lr": 0.02, "augment": not BNN_PYNQ[name].startswith(("lfc", "sfc", "tfc"))}
    return {"lr": 2e-3, "augment": True}


def build_model(name: str, in_channels: int = 1, num_classes: int = 10) -> nn.Module:
    """A zoo model by name; unknown names list what exists."""
    if name in ZOO:
        return ERN(ZOO[name], in_channels, num_classes)
    if name in PEERS:
        return PEERS[name](in_channels, num_classes)
    if name in BNN_PYNQ:
        return BnnPynq(BNN_PYNQ[name], in_channels, num_classes)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")


def average_weight_bits(model: nn.Module) -> float:
    """Mean bits per conv/FC weight: 1 for a binary weight, its planes for a bit-plane one
    (for a heterogeneous conv, of the bit map its current weights give)."""
    bits = sum(m.weight_bits() if isinstance(m, BitPlaneConv2d) else m.weight.numel()
               for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    return bits / binary_weight_count(model)


def binary_weight_count(model: nn.Module) -> int:
    """Number of binary weights (every conv/FC weight is one bit; BN is not counted)."""
    return sum(m.weight.numel() for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)))


def binary_weight_megabytes(model: nn.Module) -> float:
    """Model size as the paper's table matches it: one bit per conv/FC weight, in MiB (2^20
    bytes); BN parameters, thresholds and scales are not counted."""
    return binary_weight_count(model) / 8 / 2 ** 20
