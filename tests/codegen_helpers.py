"""Small random model packages for the code generator's tests (tests/test_codegen*.py, test_csim*.py).

    package, folding = random_ern(seed)     # thermometer -> conv -> 2 residual blocks -> classifier
    package, folding = cnv_like(seed)       # 8-bit input conv, max pool, FC layers (1x1 convs)

Thresholds are drawn from the values each layer actually produces on random images (so every
code occurs and the comparison is not vacuous); weights and directions are random. The foldings
mix PE and SIMD so that width converters appear on several streams, and two residual convs
serialize their outputs (out_pe < pe: hls/lib/mvu.h's output serializer).
"""
from typing import Dict, List, Tuple

import numpy as np

from host import ops
from host.package import Package, PackageBuilder


def conv_attrs(kernel: int, stride: int, pad: int, c_in: int, in_bits: int = 2, out_bits=None,
               weight_bits: int = 1, masked: bool = False) -> dict:
    attrs = dict(kernel=kernel, stride=stride, pad=pad, in_bits=in_bits, weight_bits=weight_bits,
                 cols=kernel * kernel * c_in, output="threshold" if out_bits else "accumulator")
    if out_bits:
        attrs["out_bits"] = out_bits
    if masked:
        attrs["masked"] = 1
    return attrs


def plane_weights(rng, weight_bits: int, masked: bool, shape) -> np.ndarray:
    """Random integer weights of `weight_bits` planes: the odd values within +-(2^B - 1), or
    with per-weight bit counts (masked) every nonzero one."""
    top = 2 ** weight_bits - 1
    values = np.array([v for v in range(-top, top + 1) if v and (masked or v % 2)], np.int8)
    return rng.choice(values, shape)


class _Net:
    """A PackageBuilder that also runs each layer on sample images (to pick thresholds)."""

    def __init__(self, name: str, shape: Tuple[int, int, int], seed: int, samples: int = 16):
        self.rng = np.random.default_rng(seed)
        self.b = PackageBuilder(name, shape)
        self.values: Dict[str, np.ndarray] = {"in0": self.rng.integers(0, 256, (samples,) + tuple(shape),
                                                                         dtype=np.uint8)}

    def thresholds(self, values: np.ndarray, n: int) -> np.ndarray:
        """Ascending per channel, from the channel's own values (quantiles), a few repeated."""
        flat = values.reshape(-1, values.shape[-1]).astype(np.int64)
        qs = np.linspace(0.15, 0.85, n)
        t = np.quantile(flat, qs, axis=0, method="nearest").T
        return np.sort(t + self.rng.integers(-1, 2, t.shape), axis=1).astype(np.int32)

    def add(self, name: str, op: str, inputs: List[str], attrs=None, params=None, outputs=None) -> List[str]:
        outs = self.b.add(name, op, inputs, attrs or {}, params or {}, outputs)
        layer = self.b.layers[-1]
        p = {k: self.b.params[layer.param_key(k)] for k in layer.operator.param_names()}
        results = layer.operator.execute([self.values[s] for s in inputs], p)
        self.values.update(zip(outs, results))
        return outs

    def thermometer(self, name, x, k, out_bits=2):
        c = self.values[x].shape[-1]
        t = np.sort(self.rng.integers(0, 256, (c * k, 2 ** out_bits - 1)), axis=1).astype(np.int32)
        return self.add(name, "Thermometer", [x], {"k": k, "out_bits": out_bits}, {"thresholds": t})[0]

    def conv(self, name, x, c_out, kernel=3, stride=1, pad=1, out_bits=None, weight_bits=1, masked=False):
        v = self.values[x]
        c_in = v.shape[-1]
        in_bits = self.b.streams[x].bits
        w = plane_weights(self.rng, weight_bits, masked, (c_out, kernel * kernel * c_in))
        params = ops.conv_weight_params(w, weight_bits, masked)[1]
        if out_bits:
            direction = self.rng.choice(np.array([-1, 1], np.int8), c_out)
            acc = ops.conv_accumulate(v, w, kernel, stride, pad) * direction
            params.update(thresholds=self.thresholds(acc, 2 ** out_bits - 1), direction=direction)
        return self.add(name, "Conv", [x], conv_attrs(kernel, stride, pad, c_in, in_bits, out_bits, weight_bits,
                                                      masked), params)[0]

    def threshold(self, name, x, out_bits=2):
        c = self.values[x].shape[-1]
        direction = self.rng.choice(np.array([-1, 1], np.int8), c)
        t = self.thresholds(self.values[x].astype(np.int64) * direction, 2 ** out_bits - 1)
        return self.add(name, "Threshold", [x], {"out_bits": out_bits},
                        {"thresholds": t, "direction": direction})[0]

    def build(self, output: str) -> Package:
        classes = self.b.streams[output].shape[2]
        h, w, _ = self.b.streams[self.b.layers[-1].inputs[0]].shape
        return self.b.build(output, self.rng.uniform(0.5, 2.0, classes), divisor=h * w)


def random_ern(seed: int = 0, size: int = 8, channels: int = 1, names: Dict[str, str] = None,
               widths: Dict[str, dict] = None) -> Tuple[Package, dict]:
    """thermometer (k=4) -> conv 3x3 -> block (3x3, 3x3 | 1x1 shortcut) -> threshold -> block with
    stride 2 -> threshold -> 1x1 conv (4 classes) -> global sum, on size x size x channels images.
    `names` renames layers (to test name sanitizing); `widths` gives layers other bit widths
    (conv: weight_bits, masked, out_bits; threshold: out_bits), by their un-renamed names."""
    n = dict(names or {})
    nm = lambda s: n.get(s, s)   # noqa: E731
    wd = lambda s, **default: {**default, **(widths or {}).get(s, {})}   # noqa: E731
    net = _Net("random_ern", (size, size, channels), seed)
    x = net.thermometer(nm("embed"), "in0", k=4)
    x = net.conv(nm("stem"), x, 8, **wd("stem", out_bits=2))
    a, b = net.add(nm("fork1"), "Duplicate", [x], outputs=[nm("fork1") + "_main", nm("fork1") + "_skip"])
    y = net.conv(nm("b1.conv1"), a, 8, **wd("b1.conv1", out_bits=2))
    y = net.conv(nm("b1.conv2"), y, 8, **wd("b1.conv2"))
    s = net.conv(nm("b1.short"), b, 8, kernel=1, pad=0, **wd("b1.short"))
    r = net.add(nm("b1.add"), "Add", [y, s])[0]
    x = net.threshold(nm("b1.act"), r, **wd("b1.act"))
    a, b = net.add(nm("fork2"), "Duplicate", [x], outputs=[nm("fork2") + "_main", nm("fork2") + "_skip"])
    y = net.conv(nm("b2.conv1"), a, 16, stride=2, **wd("b2.conv1", out_bits=2))
    y = net.conv(nm("b2.conv2"), y, 16, **wd("b2.conv2"))
    s = net.conv(nm("b2.short"), b, 16, kernel=1, stride=2, pad=0, **wd("b2.short"))
    r = net.add(nm("b2.add"), "Add", [y, s])[0]
    x = net.threshold(nm("head.act"), r, **wd("head.act"))
    y = net.conv(nm("head.conv"), x, 4, kernel=1, pad=0, **wd("head.conv"))
    y = net.add(nm("head.sum"), "GlobalSum", [y])[0]
    package = net.build(y)
    folding = {nm("embed"): {"pe": 2}, nm("stem"): {"pe": 4, "simd": 4}, nm("fork1"): {"pe": 2},
               nm("b1.conv1"): {"pe": 2, "simd": 8}, nm("b1.conv2"): {"pe": 8, "simd": 2, "out_pe": 1},
               nm("b1.short"): {"pe": 1, "simd": 2}, nm("b1.add"): {"pe": 1}, nm("b1.act"): {"pe": 4},
               nm("fork2"): {"pe": 4}, nm("b2.conv1"): {"pe": 4, "simd": 4, "mem": "lut"},
               nm("b2.conv2"): {"pe": 16, "simd": 16, "mem": "bram", "out_pe": 2}, nm("b2.short"): {"pe": 2, "simd": 8},
               nm("b2.add"): {"pe": 2}, nm("head.act"): {"pe": 2}, nm("head.conv"): {"pe": 2, "simd": 16},
               nm("head.sum"): {"pe": 1}}
    return package, folding


def cnv_like(seed: int = 0, size: int = 10, channels: int = 3) -> Tuple[Package, dict]:
    """CNV's structure in small: 8-bit pixel conv 3x3 (no padding) -> conv 3x3 -> max pool 2 ->
    conv 3x3 (to 1x1) -> FC (1x1 conv) 16 -> FC 5 classes (accumulator, the class sums)."""
    net = _Net("cnv_like", (size, size, channels), seed)
    x = net.conv("conv0", "in0", 8, pad=0, out_bits=2)
    x = net.conv("conv1", x, 8, pad=0, out_bits=2)
    x = net.add("pool0", "MaxPool", [x], {"kernel": 2, "stride": 2})[0]
    x = net.conv("conv2", x, 16, pad=0, out_bits=2)
    x = net.conv("fc3", x, 16, kernel=1, pad=0, out_bits=2)
    x = net.conv("fc4", x, 5, kernel=1, pad=0)
    package = net.build(x)
    folding = {"conv0": {"pe": 4, "simd": 1}, "conv1": {"pe": 2, "simd": 4}, "pool0": {"pe": 8},
               "conv2": {"pe": 4, "simd": 8}, "fc3": {"pe": 2, "simd": 16}, "fc4": {"pe": 5, "simd": 2}}
    return package, folding


def random_images(package: Package, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n,) + package.input_shape, dtype=np.uint8)
    images[0] = 0
    if n > 1:
        images[1] = 255
    return images
