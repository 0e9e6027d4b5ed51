"""model.json writers for given layer shapes: test and calibration packages for the estimator.

The estimator reads only ``model.json`` (host/FORMAT.md), so these builders write just that:
streams with shapes and worst-case integer bounds, layers with their attributes. No params.

    g = cnv_w1a2(channels=3)          # BNN-PYNQ's CNV topology (docs/platform.md), w1a2, 8-bit input
    g = ern_tiny()                    # the ern_tiny shapes (training/models.py)
    write(g_dict, "build/x/dataflow") # model.json for the CLI

The real packages come from the lowering (hls/lower); layer names there may differ.
"""
from __future__ import annotations

import json
from pathlib import Path

from hls.perf.resources import bits_for


class Builder:
    """Append layers to a model.json dict; stream shapes and bounds are derived as FORMAT.md
    says (Conv output size, accumulator bounds, Add bounds, ...)."""

    def __init__(self, model: str, shape, bits: int = 8):
        self.model = {"format_version": 1, "model": model, "input": "in0", "output": None,
                      "classes": None, "streams": {}, "layers": []}
        self._stream("in0", shape, 0, (1 << bits) - 1)
        self._n = 0

    def _stream(self, name, shape, lo, hi):
        self.model["streams"][name] = {"shape": [int(x) for x in shape], "signed": lo < 0,
                                       "bits": bits_for(lo, hi), "min": int(lo), "max": int(hi)}
        return name

    def _new(self, base):
        self._n += 1
        return f"{base}_out{self._n}"

    def s(self, name):
        return self.model["streams"][name]

    def _layer(self, **layer):
        self.model["layers"].append(layer)

    def thermometer(self, name, x, k=10, out_bits=2):
        h, w, c = self.s(x)["shape"]
        y = self._stream(self._new(name), (h, w, c * k), 0, (1 << out_bits) - 1)
        self._layer(name=name, op="Thermometer", inputs=[x], outputs=[y], k=k, out_bits=out_bits)
        return y

    def conv(self, name, x, c_out, kernel=3, stride=1, pad=0, output="threshold", out_bits=2,
             weight_bits=1, masked=False):
        h, w, c = self.s(x)["shape"]
        amax = self.s(x)["max"]
        ho, wo = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
        cols = kernel * kernel * c
        if output == "threshold":
            y = self._stream(self._new(name), (ho, wo, c_out), 0, (1 << out_bits) - 1)
            extra = {"out_bits": out_bits}
        else:
            wmax = 1 if masked else (1 << weight_bits) - 1   # ternary or +-1, +-3
            y = self._stream(self._new(name), (ho, wo, c_out), -cols * amax * wmax,
                             cols * amax * wmax)
            extra = {}
        if masked:
            extra["masked"] = True
        self._layer(name=name, op="Conv", inputs=[x], outputs=[y], kernel=kernel, stride=stride,
                    pad=pad, weight_bits=weight_bits, cols=cols, in_bits=self.s(x)["bits"],
                    output=output, **extra)
        return y

    def threshold(self, name, x, out_bits=2):
        y = self._stream(self._new(name), self.s(x)["shape"], 0, (1 << out_bits) - 1)
        self._layer(name=name, op="Threshold", inputs=[x], outputs=[y], out_bits=out_bits)
        return y

    def duplicate(self, name, x, n=2):
        ys = [self._stream(f"{name}_out{i}", self.s(x)["shape"], self.s(x)["min"],
                           self.s(x)["max"]) for i in range(n)]
        self._layer(name=name, op="Duplicate", inputs=[x], outputs=ys)
        return ys

    def add(self, name, a, b):
        y = self._stream(self._new(name), self.s(a)["shape"], self.s(a)["min"] + self.s(b)["min"],
                         self.s(a)["max"] + self.s(b)["max"])
        self._layer(name=name, op="Add", inputs=[a, b], outputs=[y])
        return y

    def maxpool(self, name, x, kernel=2, stride=2):
        h, w, c = self.s(x)["shape"]
        y = self._stream(self._new(name), ((h - kernel) // stride + 1, (w - kernel) // stride + 1,
                                           c), self.s(x)["min"], self.s(x)["max"])
        self._layer(name=name, op="MaxPool", inputs=[x], outputs=[y], kernel=kernel,
                    stride=stride)
        return y

    def global_sum(self, name, x):
        h, w, c = self.s(x)["shape"]
        y = self._stream(self._new(name), (1, 1, c), self.s(x)["min"] * h * w,
                         self.s(x)["max"] * h * w)
        self._layer(name=name, op="GlobalSum", inputs=[x], outputs=[y])
        return y

    def finish(self, y, classes=None):
        self.model["output"] = y
        self.model["classes"] = classes or self.s(y)["shape"][-1]
        return self.model


def write(model: dict, folder) -> Path:
    """Write ``model.json`` into ``folder`` (created); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps(model, indent=1) + "\n")
    return folder


def cnv_w1a2(channels: int = 3, size: int = 32, classes: int = 10, act_bits: int = 2) -> dict:
    """BNN-PYNQ's CNV (docs/platform.md): 8-bit size x size x channels input, 3x3 convs without
    padding 64, 64, maxpool 2, 128, 128, maxpool 2, 256, 256 (the last conv outputs 1 x 1), then
    FC 512, 512, classes as 1x1 convs on the 1x1 map; 2-bit activations, the last layer raw
    (accumulator). Layer names: Conv_0..Conv_5, MaxPool_0, MaxPool_1, Gemm_0, Gemm_1, Gemm_2. ``act_bits=1`` gives
    the CNV-W1A1 variant (BNN-PYNQ's other published CNV build, same folding)."""
    b = Builder("cnv_w1a2" if act_bits == 2 else f"cnv_w1a{act_bits}", (size, size, channels))
    a = act_bits
    x = b.conv("Conv_0", "in0", 64, out_bits=a)
    x = b.conv("Conv_1", x, 64, out_bits=a)
    x = b.maxpool("MaxPool_0", x)
    x = b.conv("Conv_2", x, 128, out_bits=a)
    x = b.conv("Conv_3", x, 128, out_bits=a)
    x = b.maxpool("MaxPool_1", x)
    x = b.conv("Conv_4", x, 256, out_bits=a)
    x = b.conv("Conv_5", x, 256, out_bits=a)
    x = b.conv("Gemm_0", x, 512, kernel=1, out_bits=a)
    x = b.conv("Gemm_1", x, 512, kernel=1, out_bits=a)
    x = b.conv("Gemm_2", x, classes, kernel=1, output="accumulator")
    return b.finish(x, classes)


def _block(b: Builder, name: str, r: str, c_out: int, stride: int) -> str:
    """Pre-activation basic block on residual stream ``r``: Threshold (BN0 + act0) ->
    [Duplicate -> 1x1 stride shortcut conv (accumulator)] -> conv3x3 (stride, thresholded) ->
    conv3x3 (accumulator) -> Add. Without a shortcut conv the residual stream itself is forked."""
    c_in = b.s(r)["shape"][-1]
    shortcut = stride != 1 or c_in != c_out
    if shortcut:
        a = b.threshold(f"{name}.act0", r)
        main, side = b.duplicate(f"{name}.fork", a)
        skip = b.conv(f"{name}.shortcut", side, c_out, kernel=1, stride=stride,
                      output="accumulator")
    else:
        main_r, skip = b.duplicate(f"{name}.fork", r)
        main = b.threshold(f"{name}.act0", main_r)
    y = b.conv(f"{name}.Conv_1", main, c_out, kernel=3, stride=stride, pad=1)
    y = b.conv(f"{name}.Conv_2", y, c_out, kernel=3, pad=1, output="accumulator")
    return b.add(f"{name}.add", y, skip)


def ern_tiny(size: int = 28, channels: int = 1, k: int = 10, classes: int = 10,
             widths=(64, 128, 256), stem: int = 64) -> dict:
    """ern_tiny's shapes: Thermometer k on size x size x channels; stem conv3x3 s2 p1 -> stem,
    conv3x3 p1, 1x1 shared-constant conv into the residual stream; one basic block per stage
    (widths, strides 1, 2, 2); classifier Threshold -> 1x1 conv to the classes -> GlobalSum."""
    b = Builder("ern_tiny", (size, size, channels))
    x = b.thermometer("embed", "in0", k=k)
    x = b.conv("stem.Conv_0", x, stem, kernel=3, stride=2, pad=1)
    x = b.conv("stem.Conv_1", x, stem, kernel=3, pad=1)
    r = b.conv("stem.Conv_2", x, widths[0], kernel=1, output="accumulator")
    for i, w in enumerate(widths):
        r = _block(b, f"stage{i + 1}", r, w, 1 if i == 0 else 2)
    a = b.threshold("head.act", r)
    y = b.conv("head.conv", a, classes, kernel=1, output="accumulator")
    y = b.global_sum("head.sum", y)
    return b.finish(y, classes)


def bnn_cnv(w: int, a: int, channels: int = 3, classes: int = 10) -> dict:
    """BNN-PYNQ's CNV-W<w>A<a> (bnn/src/network/cnvW<w>A<a>/hw/config.h in Xilinx/BNN-PYNQ) on
    its own CIFAR-10 shape: 8-bit 32x32x3 input, the cnv_w1a2 layers and names above, weights of
    ``w`` bits and activations of ``a`` bits. BNN-PYNQ's 2-bit weights are ternary {-1, 0, +1}
    (bnn/src/training/quantization.py QuantizationFixed(2, 0, narrow_range=True)), as Brevitas'
    narrow 2-bit weights: a sign plane and a mask plane here (``masked``), not two sign planes."""
    b = Builder(f"bnn_cnv_w{w}a{a}", (32, 32, channels))
    kw = {"out_bits": a, "weight_bits": w, "masked": w == 2}
    x = b.conv("Conv_0", "in0", 64, **kw)
    x = b.conv("Conv_1", x, 64, **kw)
    x = b.maxpool("MaxPool_0", x)
    x = b.conv("Conv_2", x, 128, **kw)
    x = b.conv("Conv_3", x, 128, **kw)
    x = b.maxpool("MaxPool_1", x)
    x = b.conv("Conv_4", x, 256, **kw)
    x = b.conv("Conv_5", x, 256, **kw)
    x = b.conv("Gemm_0", x, 512, kernel=1, **kw)
    x = b.conv("Gemm_1", x, 512, kernel=1, **kw)
    x = b.conv("Gemm_2", x, classes, kernel=1, output="accumulator", weight_bits=w,
               masked=w == 2)
    return b.finish(x, classes)


def bnn_lfc(w: int, a: int, pixels: int = 784, classes: int = 10) -> dict:
    """BNN-PYNQ's LFC-W<w>A<a> (bnn/src/network/lfcW<w>A<a>/hw/config.h): a 1-bit 28x28 input
    (binarized on the host, 784 bits; BNN-PYNQ pads it to 832 for SIMD 64), three FC 1024 layers
    with ``a``-bit activations and an FC to the classes, each as a 1x1 conv on a 1x1 map (the
    stream after Flatten). Names Gemm_0..Gemm_3. BNN-PYNQ's last layer is thresholded to 1 bit
    per class (L3_API 1); here it outputs the accumulator (class sums), as our lowering does."""
    b = Builder(f"bnn_lfc_w{w}a{a}", (1, 1, pixels), bits=1)
    kw = {"out_bits": a, "weight_bits": w, "masked": w == 2}
    x = b.conv("Gemm_0", "in0", 1024, kernel=1, **kw)
    x = b.conv("Gemm_1", x, 1024, kernel=1, **kw)
    x = b.conv("Gemm_2", x, 1024, kernel=1, **kw)
    x = b.conv("Gemm_3", x, classes, kernel=1, output="accumulator", weight_bits=w,
               masked=w == 2)
    return b.finish(x, classes)


TOPOLOGIES = {"cnv_w1a2": cnv_w1a2, "cnv_w1a1": lambda: cnv_w1a2(act_bits=1),
              "ern_tiny": ern_tiny,
              "bnn_cnv_w1a1": lambda: bnn_cnv(1, 1), "bnn_cnv_w1a2": lambda: bnn_cnv(1, 2),
              "bnn_cnv_w2a2": lambda: bnn_cnv(2, 2), "bnn_lfc_w1a1": lambda: bnn_lfc(1, 1),
              "bnn_lfc_w1a2": lambda: bnn_lfc(1, 2)}
