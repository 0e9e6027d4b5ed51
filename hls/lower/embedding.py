"""LowerInputEmbedding: the subgraph from the uint8 input to the first quantizer becomes either a
`Thermometer` (integer thresholds on the pixel) or nothing (an 8-bit identity quantizer).

The subgraph is not matched op by op (Brevitas exports repeat_interleave as Unsqueeze/Expand/
Reshape or Tile/Reshape, the offsets as an Add, the step as a FLOOR Quant, and another export
may differ): it is *evaluated* with qonnx on images that hold every pixel value 0..255 in every
channel, and the result is read back as per-channel thresholds:

    T[o, j] = the smallest pixel value v with code_o(v) >= j    (256: no pixel reaches level j)

Checks, each a one-line error: the codes are integers of the quantizer; output channel o is a
non-decreasing function of input channel o // k alone (colour-major, docs/ern.md) and of nothing
else (not of the position, nor of other channels); the spatial size is unchanged. The
thresholds are then re-checked by running host.ops.thermometer on the same images and on a
random one.

Signed and bipolar first quantizers (bnn_pynq: `2x - 1`, then an 8-bit signed Quant or a
BipolarQuant) give unsigned codes q - qmin (bipolar: (q + 1) / 2) and a Scale with the offset;
a positive input scale (x / 255) is part of the evaluated subgraph, so it lands in the
thresholds. A flatten inside the subgraph (an MLP on 28 x 28 images: Reshape, then `2x - 1`, then
the Quant) of a one-channel image flattens the image itself: an ONNX Flatten of the graph input
(kept: the package's input is then the flattened pixel vector, 1 x 1 x H*W, the same bytes in
the same order), a Thermometer on its H*W channels (the thresholds repeated per pixel), and the
first FC reads that vector as a 1 x 1 conv, several pixels per beat. With several channels (or k
codes per channel) ONNX's (C, H, W) order is not the stream's: the Thermometer stays on the
H x W x C map, then a Scale and an ONNX Flatten, which LowerConv reads in Flatten's order as an
H x H conv.

When the quantizer saturates from a tiny pixel value on (every pixel >= 2 gives its top code),
the model was most likely built for inputs in [0, 1] while ours are raw 0..255: a warning says so
(InputRangeWarning), the lowering goes on.
"""
import json
import warnings

import numpy as np
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.base import Transformation

from . import ir
from onnx import helper

from .graph import (LoweringError, constant, consumers, fresh_name, indexed_name, insert_before,
                    is_graph_output, node_error, remove_dead, shape)
from .quantizers import act_quant

PIXEL_VALUES = 256
QUANT_OPS = ("Quant", "BipolarQuant")


class InputRangeWarning(UserWarning):
    """The first quantizer looks built for inputs in [0, 1], but the graph input is 0..255."""


def input_flatten(model):
    """The ONNX Flatten of the graph input that feeds the Thermometer (the package input is then
    the flattened pixel vector), or None."""
    image = graph_image_input(model)
    readers = consumers(model, image)
    if len(readers) == 1 and readers[0].op_type == "Flatten" and not ir.is_ir(readers[0]):
        after = consumers(model, readers[0].output[0])
        if len(after) == 1 and ir.is_ir(after[0], "Thermometer"):
            return readers[0]
    return None


def graph_image_input(model) -> str:
    """The one graph input that is not an initializer."""
    inits = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    if len(names) != 1:
        raise LoweringError(f"the graph must have exactly one input (the uint8 image), it has {len(names)}: {names}")
    return names[0]


def embedding_region(model, image: str):
    """(nodes from the image to the first Quant, that Quant). Every path from the image must
    reach one and the same Quant, through nodes that read only the image, constants and each
    other."""
    region, frontier, tensors = [], [], {image}
    changed = True
    while changed:
        changed = False
        for node in model.graph.node:
            if node in region or node in frontier or ir.is_ir(node):
                continue
            live = [t for t in node.input if t and constant(model, t) is None]
            if not live or not all(t in tensors for t in live):
                if any(t in tensors for t in live):
                    raise node_error(node, "mixes the input image with computed values before the "
                                           "first quantizer (supported: a per-pixel embedding, then a Quant)")
                continue
            if node.op_type in QUANT_OPS:
                frontier.append(node)
            else:
                region.append(node)
                tensors.update(node.output)
            changed = True
    if len(frontier) != 1:
        names = ", ".join(repr(n.name) for n in frontier) or "none"
        raise LoweringError(f"the input image must reach exactly one quantizer (Quant or BipolarQuant) first, "
                            f"found {names}")
    quant = frontier[0]
    for node in region:
        for out in node.output:
            outside = [c for c in consumers(model, out) if c is not quant and c not in region]
            if outside or is_graph_output(model, out):
                reader = outside[0].name if outside else "the graph output"
                raise node_error(node, f"its output is read by {reader!r} before the first quantizer "
                                       f"{quant.name!r} (supported: the input reaches the network only "
                                       "through that quantizer)")
    return region, quant


def sweep_images(channels: int, height: int, width: int, shift: int = 37) -> np.ndarray:
    """Images (n, C, H, W) in which every channel takes every value 0..255 (channel c shifted
    by shift*c, so channels differ at each position)."""
    per_image = height * width
    n = -(-PIXEL_VALUES // per_image)
    flat = np.arange(n * per_image).reshape(n, 1, per_image)
    values = (flat + shift * np.arange(channels).reshape(1, channels, 1)) % PIXEL_VALUES
    return values.reshape(n, channels, height, width).astype(np.float32)


def evaluate_embedding(model, image: str, quant, images: np.ndarray) -> np.ndarray:
    """The quantizer's output on each image (qonnx execution up to the quantizer)."""
    outs = []
    for one in images:
        context = execute_onnx(model, {image: one[None]}, return_full_exec_context=True, end_node=quant)
        outs.append(np.asarray(context[quant.output[0]]))
    return np.concatenate(outs)


def derive_thermometer(pixels: np.ndarray, codes: np.ndarray, k: int, levels: int, where_text: str):
    """Thresholds (C*k, levels) int32 from pixels (n, C, H, W) and codes (n, C*k, H, W)."""
    c = pixels.shape[1]
    pixel_values = pixels.astype(np.int64)
    thresholds = np.empty((c * k, levels), np.int64)
    for o in range(c * k):
        v = pixel_values[:, o // k].reshape(-1)
        q = codes[:, o].reshape(-1)
        table = np.full(PIXEL_VALUES, -1, np.int64)
        table[v] = q
        if np.any(table < 0):
            raise LoweringError(f"{where_text}: internal error: the sweep missed pixel values")
        if np.any(table[v] != q):
            raise LoweringError(f"{where_text}: output channel {o} is not a function of input channel "
                                f"{o // k} alone (supported: a per-channel thermometer, colour-major)")
        if np.any(np.diff(table) < 0):
            raise LoweringError(f"{where_text}: output channel {o} falls as the pixel grows "
                                "(supported: a thermometer, non-decreasing in the pixel)")
        for j in range(1, levels + 1):
            reached = np.nonzero(table >= j)[0]
            thresholds[o, j - 1] = reached[0] if reached.size else PIXEL_VALUES
    return thresholds.astype(np.int32)


class LowerInputEmbedding(Transformation):
    def apply(self, model):
        from host.ops import thermometer

        image = graph_image_input(model)
        if any(ir.is_ir(n) for n in consumers(model, image)) or input_flatten(model) is not None:
            return model, False
        region, quant = embedding_region(model, image)
        where_text = f"pixel embedding (input {image!r} to node {quant.name!r})"
        spec = act_quant(model, quant)
        in_shape, out_shape = shape(model, image), shape(model, quant.output[0])
        flatten = len(in_shape) == 4 and len(out_shape) == 2 and out_shape[1] == int(np.prod(in_shape[1:]))
        if flatten:   # the quantizer reads the flattened image: evaluate it on the map
            out_shape = list(in_shape)
        pad = _pixel_pad(model, image, region, where_text)
        if pad and (flatten or len(in_shape) != 4 or out_shape[2:] != [d + 2 * pad for d in in_shape[2:]]):
            raise LoweringError(f"{where_text}: pads the image by {pad} but maps {in_shape} to {out_shape}; "
                                "supported: a zero border of the image before a per-pixel quantizer")
        padded_shape = list(out_shape)
        if pad:
            out_shape = out_shape[:2] + in_shape[2:]
        if len(in_shape) != len(out_shape) or len(in_shape) not in (2, 4) or in_shape[0] != 1:
            raise LoweringError(f"{where_text}: expected 1 x C x H x W (or 1 x C) tensors, got "
                                f"{in_shape} -> {out_shape}")
        c, h, w = (in_shape[1:] + [1, 1])[:3]
        if out_shape[2:] != in_shape[2:] or out_shape[1] % c:
            raise LoweringError(f"{where_text}: maps {in_shape} to {out_shape}; supported: the same "
                                f"H x W and k codes per input channel")
        k = out_shape[1] // c
        images = np.concatenate([sweep_images(c, h, w), sweep_images(c, h, w, shift=101)[::-1]])
        rng = np.random.default_rng(0)
        images = np.concatenate([images, rng.integers(0, 256, (1, c, h, w)).astype(np.float32)])
        values = evaluate_embedding(model, image, quant, images.reshape((-1,) + tuple(in_shape[1:])))
        values = values.reshape(len(images), -1, h + 2 * pad, w + 2 * pad)
        border = None
        if pad:   # the border is what pixel 0 gives; the map inside is the per-pixel embedding
            border = values.copy()
            border[:, :, pad:pad + h, pad:pad + w] = np.nan
            values = values[:, :, pad:pad + h, pad:pad + w]
        codes = spec.codes(values)
        if np.any(np.abs(values - (codes - spec.code_offset) * spec.code_unit) > 1e-6 * max(1.0, spec.scale)) \
                or codes.min() < 0 or codes.max() > spec.code_max:
            raise LoweringError(f"{where_text}: the quantizer's output is not its integer codes times its scale")
        codes = codes.astype(np.int64)
        _warn_saturation(images, codes, spec, where_text)
        identity = k == 1 and spec.code_offset == 0 and spec.qmax >= PIXEL_VALUES - 1 \
            and np.array_equal(codes, images.astype(np.int64))
        out = quant.output[0]
        unit = np.full(k * c, spec.code_unit, np.float64)
        offset = np.float64(spec.code_offset)
        flat_input = flatten and k * c == 1 and not identity   # the image itself is flattened
        if flat_input:
            flatten, unit = False, np.full(h * w, spec.code_unit, np.float64)
        scaled = out
        if flatten or pad:
            scaled = fresh_name(model, f"{quant.name}_map")
            model.set_tensor_shape(scaled, out_shape)
        if pad:
            zero = (0 - spec.code_offset) * spec.code_unit    # the value of code 0
            level0 = codes.reshape(codes.shape[0], codes.shape[1], -1)
            pixel0 = images.reshape(images.shape[0], images.shape[1], -1) == 0
            at_zero = [np.unique(level0[:, o][np.repeat(pixel0, k, axis=1)[:, o]]) for o in range(k * c)]
            edge = border[~np.isnan(border)]
            if any(z.tolist() != [0] for z in at_zero) or np.any(edge != np.float32(zero)):
                raise LoweringError(f"{where_text}: pads the image by {pad}, but pixel 0 does not give code 0 "
                                    "in every channel (the sliding window pads code 0); supported: a zero "
                                    "border whose pixels quantize to the lowest code")
        if identity:
            # The quantizer passes the pixel through: the image itself is the integer stream.
            new = [ir.make_scale(model, fresh_name(model, f"{quant.name}_scale"), image, scaled, unit)]
        else:
            thresholds = derive_thermometer(images, codes, k, 2 ** spec.bits - 1, where_text)
            check = thermometer(images.transpose(0, 2, 3, 1).astype(np.uint8), thresholds, k)
            if not np.array_equal(check.transpose(0, 3, 1, 2), codes):
                raise LoweringError(f"{where_text}: thresholds do not reproduce the embedding "
                                    "(supported: a per-channel thermometer)")
            name = indexed_name(model, "Thermometer")
            codes_tensor = fresh_name(model, f"{name}_out")
            model.set_tensor_shape(codes_tensor, out_shape)
            source, new = image, []
            if flat_input:   # every pixel is a channel of the one input pixel, same thresholds
                source = fresh_name(model, f"{image}_flat")
                model.set_tensor_shape(source, [1, h * w])
                model.set_tensor_shape(codes_tensor, [1, h * w])
                thresholds = np.repeat(thresholds, h * w, axis=0)
                new.append(helper.make_node("Flatten", [image], [source], axis=1,
                                            name=fresh_name(model, f"{image}_flatten")))
            new += [ir.make_node(model, "Thermometer", name, [source], [codes_tensor],
                                 {"k": k, "out_bits": spec.bits}, {"thresholds": thresholds}),
                   ir.make_scale(model, fresh_name(model, f"{name}_scale"), codes_tensor, scaled, unit,
                                 offset=offset)]
        if pad:   # LowerConv merges this Pad of code 0 into the conv's window
            pads = fresh_name(model, f"{quant.name}_pads")
            model.set_initializer(pads, np.array([0, 0, pad, pad, 0, 0, pad, pad], np.int64))
            value = fresh_name(model, f"{quant.name}_pad_value")
            model.set_initializer(value, np.float32(zero))
            new.append(helper.make_node("Pad", [scaled, pads, value], [out], mode="constant",
                                        name=fresh_name(model, f"{quant.name}_pad")))
            model.set_tensor_shape(out, padded_shape)
            record = ir.provenance(model)   # the original tensor is the padded one: the map is its inside
            record[new[-2].input[0]].update(onnx=out, crop=int(pad))
            model.set_metadata_prop(ir.PROVENANCE_KEY, json.dumps(record))
        if flatten:
            new.append(helper.make_node("Flatten", [scaled], [out], name=fresh_name(model, f"{quant.name}_flatten"),
                                        axis=1))
            record = ir.provenance(model)   # the original tensor is the flattened one (C, H, W order)
            record[new[-2].input[0]]["onnx"] = out
            model.set_metadata_prop(ir.PROVENANCE_KEY, json.dumps(record))
        first = min((list(model.graph.node).index(n) for n in region + [quant]))
        insert_before(model, model.graph.node[first], new)
        model.graph.node.remove(quant)
        remove_dead(model)
        return model, True


def _pixel_pad(model, image, region, where_text):
    """p when the region starts with a constant-0 spatial Pad of the image itself, else 0."""
    from .pad import spatial_pad
    pads = [n for n in region if n.op_type == "Pad"]
    if not pads:
        return 0
    p = spatial_pad(model, pads[0])
    if len(pads) > 1 or pads[0].input[0] != image or p is None:
        raise node_error(pads[0], f"{where_text}: supported before the first quantizer: one zero border "
                                  "(the same on every side of H and W) of the image itself")
    return p


def _warn_saturation(images: np.ndarray, codes: np.ndarray, spec, where_text: str) -> None:
    """InputRangeWarning when every pixel >= 2 already gives the top code of its output channel
    while the quantizer has codes to spare: built for [0, 1], fed 0..255."""
    c = images.shape[1]
    k = codes.shape[1] // c
    pixels = np.repeat(images.astype(np.int64), k, axis=1)
    for o in range(codes.shape[1]):
        v, q = pixels[:, o].reshape(-1), codes[:, o].reshape(-1)
        top = q.max()
        if np.all(q[v >= 2] == top) and len(np.unique(q)) <= 2 and top > 0:
            first = int(v[q == top].min())
            warnings.warn(f"{where_text}: every pixel value >= {first} gives the quantizer's top code "
                          f"(channel {o}): the model looks built for inputs in [0, 1], but the graph input "
                          "is the raw 0..255 image; divide by 255 in the model (x / 255 is absorbed into "
                          "the thresholds)", InputRangeWarning, stacklevel=2)
            return
