"""The model package (host/FORMAT.md): declared schema, load/save, validation, a builder.

    package = load("build/ern_tiny/dataflow")   # model.json + params.npz -> Package, validated
    save(package, folder)                      # deterministic bytes: same package, same files

A `Package` is validated when it is built (whether by `load`, by `PackageBuilder.build` or by
calling `Package(...)` directly), so a broken package fails here, with one line naming the file,
the layer, its op and what is wrong, not far downstream. Every failure raises `PackageError`.

Runs on the board: Python 3.10, numpy >= 1.21, nothing else.
"""
import dataclasses
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from host import ops
from host.errors import ErnError
from host.names import BadName, check_model_name

FORMAT_VERSION = 1
MODEL_FILE = "model.json"
PARAMS_FILE = "params.npz"
HEAD_SCALE_KEY = "head.scale"
HEAD_BIAS_KEY = "head.bias"


class PackageError(ErnError, ValueError):
    """A model package that breaks the format. The message is always a single line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


# ---------------------------------------------------------------------------------------------
# Stream widths
# ---------------------------------------------------------------------------------------------

def bits_for_range(lo: int, hi: int) -> Tuple[int, bool]:
    """The smallest integer width that holds every value in [lo, hi]: (bits, signed).

    Unsigned when lo >= 0 (0 .. 2^bits - 1), else two's complement (-2^(bits-1) .. 2^(bits-1)-1).
    At least 1 bit.
    """
    lo, hi = int(lo), int(hi)
    if lo > hi:
        raise ValueError(f"empty range [{lo}, {hi}]")
    if lo >= 0:
        return max(1, hi.bit_length()), False
    # -(2^(b-1)) <= lo needs b-1 >= bit_length(-lo - 1); hi <= 2^(b-1) - 1 needs b-1 >= bit_length(hi).
    return max((-lo - 1).bit_length(), max(hi, 0).bit_length()) + 1, True


def range_of_bits(bits: int, signed: bool) -> Tuple[int, int]:
    """Every value a `bits`-wide stream can hold."""
    if signed:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2 ** bits - 1


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Stream:
    """One stream between layers: a feature map H x W x C of integers of a fixed width."""

    shape: Tuple[int, int, int]  # H, W, C
    signed: bool  # two's complement when True
    bits: int  # the smallest width holding [min, max] (bits_for_range)
    min: int  # worst-case bounds the width was derived from
    max: int

    def __post_init__(self):
        shape = tuple(self.shape)
        if len(shape) != 3 or not all(_is_int(d) and d >= 1 for d in shape):
            raise PackageError(f"shape must be 3 positive integers [H, W, C], got {list(shape)}")
        object.__setattr__(self, "shape", tuple(int(d) for d in shape))
        for name in ("bits", "min", "max"):
            if not _is_int(getattr(self, name)):
                raise PackageError(f"{name} must be an integer, got {getattr(self, name)!r}")
            object.__setattr__(self, name, int(getattr(self, name)))
        if not isinstance(self.signed, (bool, np.bool_)):
            raise PackageError(f"signed must be true or false, got {self.signed!r}")
        object.__setattr__(self, "signed", bool(self.signed))
        if self.min > self.max:
            raise PackageError(f"min {self.min} > max {self.max}")
        expected = bits_for_range(self.min, self.max)
        if (self.bits, self.signed) != expected:
            raise PackageError(f"bits={self.bits} signed={self.signed} but [{self.min}, {self.max}] "
                               f"needs bits={expected[0]} signed={expected[1]}")

    @classmethod
    def for_bounds(cls, shape: Sequence[int], lo: int, hi: int) -> "Stream":
        """The narrowest stream holding [lo, hi]."""
        bits, signed = bits_for_range(lo, hi)
        return cls(tuple(shape), signed, bits, int(lo), int(hi))

    @property
    def bounds(self) -> ops.Bounds:
        return self.min, self.max

    def to_json(self) -> Dict[str, Any]:
        return {"shape": list(self.shape), "signed": self.signed, "bits": self.bits,
                "min": self.min, "max": self.max}


@dataclasses.dataclass(frozen=True)
class Head:
    """What the host applies to the class sums: logits[c] = scale[c] * sums[c] / divisor
    (+ bias[c] when the head has a bias: a folded affine head such as bnn_pynq's TensorNorm, or
    the offset of codes that travel unsigned)."""

    scale: str = HEAD_SCALE_KEY  # params.npz key of the per-class float scale, shape (classes,)
    divisor: int = 1  # H * W of the map the global sum ran over (the average pool's division)
    bias: Optional[str] = None  # params.npz key of the per-class float64 bias, or None

    def __post_init__(self):
        if not isinstance(self.scale, str):
            raise PackageError(f"head: scale must be a params key (a string), got {self.scale!r}")
        if self.bias is not None and not isinstance(self.bias, str):
            raise PackageError(f"head: bias must be a params key (a string), got {self.bias!r}")
        if not _is_int(self.divisor) or self.divisor < 1:
            raise PackageError(f"head: divisor must be a positive integer, got {self.divisor!r}")
        object.__setattr__(self, "divisor", int(self.divisor))


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer: an op (its class in host.ops gives the attributes' schema and the semantics)
    reading and writing named streams."""

    name: str
    op: str  # the op's name: a key of host.ops.OPS
    inputs: Tuple[str, ...]
    outputs: Tuple[str, ...]
    attrs: Dict[str, Any] = dataclasses.field(default_factory=dict)  # the op's attributes
    operator: ops.Op = dataclasses.field(init=False, repr=False, compare=False)  # built from op + attrs

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise PackageError(f"layer name must be a non-empty string, got {self.name!r}")
        for role in ("inputs", "outputs"):
            names = getattr(self, role)
            if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                raise PackageError(f"{_where(self)}: {role} must be a list of stream names, got {names!r}")
            object.__setattr__(self, role, tuple(names))
        try:
            operator = ops.op_class(self.op).from_layer(dict(self.attrs), len(self.inputs),
                                                        len(self.outputs))
        except (ops.OpError, TypeError) as e:
            raise PackageError(f"{_where(self)}: {e}") from None
        object.__setattr__(self, "operator", operator)
        object.__setattr__(self, "attrs", operator.attrs())  # normalised (plain ints)

    def param_key(self, param: str) -> str:
        """The params.npz key of one of this layer's params."""
        return f"{self.name}.{param}"

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "op": self.op, "inputs": list(self.inputs),
                "outputs": list(self.outputs), **self.attrs}


@dataclasses.dataclass(frozen=True, eq=False)  # params hold arrays: compare with to_json()
class Package:
    """A whole model package: model.json's content plus the arrays of params.npz."""

    model: str  # the model's name
    input: str  # the input stream: the uint8 image H x W x C
    output: str  # the output stream: 1 x 1 x classes class sums
    classes: int
    head: Head
    streams: Dict[str, Stream]  # every stream, by name
    layers: Tuple[Layer, ...]  # in topological order
    params: Dict[str, np.ndarray]  # params.npz: "<layer>.<param>" and the head's scale
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "params", {k: np.asarray(v) for k, v in self.params.items()})
        validate(self)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r} in package {self.model!r}")

    def layer_params(self, layer: Layer) -> Dict[str, np.ndarray]:
        """A layer's params by their short names ("weights", "thresholds", ...)."""
        return {p: self.params[layer.param_key(p)] for p in layer.operator.param_names()}

    @property
    def head_scale(self) -> np.ndarray:
        return self.params[self.head.scale]

    @property
    def head_bias(self) -> np.ndarray:
        """float64 (classes,): the head's bias (zeros when it has none)."""
        if self.head.bias is None:
            return np.zeros(self.classes, np.float64)
        return self.params[self.head.bias].astype(np.float64)

    def logits_from_sums(self, sums: np.ndarray) -> np.ndarray:
        """float64 (N, classes): scale[c] * sums[c] / divisor + bias[c]."""
        logits = np.asarray(sums).astype(np.float64) * self.head_scale.astype(np.float64) / self.head.divisor
        return logits + self.head_bias if self.head.bias is not None else logits

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        return self.streams[self.input].shape

    def to_json(self) -> Dict[str, Any]:
        return {"format_version": self.format_version, "model": self.model, "input": self.input,
                "output": self.output, "classes": self.classes,
                "head": {"scale": self.head.scale, "divisor": self.head.divisor,
                         **({"bias": self.head.bias} if self.head.bias is not None else {})},
                "streams": {name: s.to_json() for name, s in self.streams.items()},
                "layers": [layer.to_json() for layer in self.layers]}


def fit_input(images: Any, input_shape: Sequence[int]) -> Any:
    """N x H x W x 1 images as a flattened input (1 x 1 x H*W: a one-channel image's pixels in
    row order, the same bytes; host/FORMAT.md) takes them; anything else unchanged (the callers
    check the shape and name what they expected)."""
    if (isinstance(images, np.ndarray) and images.ndim == 4 and tuple(input_shape[:2]) == (1, 1)
            and images.shape[1:] != tuple(input_shape) and images.shape[3] == 1
            and images.shape[1] * images.shape[2] == input_shape[2]):
        return images.reshape(len(images), 1, 1, input_shape[2])
    return images


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _where(layer: Layer) -> str:
    return f"layer {layer.name!r} ({layer.op})"


# ---------------------------------------------------------------------------------------------
# Validation (FORMAT.md, "Invariants the loader checks")
# ---------------------------------------------------------------------------------------------

def validate(package: Package) -> None:
    """Raise PackageError at the first broken invariant; the message names the layer."""
    _check_header(package)
    _check_wiring(package)
    for layer in package.layers:
        _check_layer(package, layer)
    _check_params_all_used(package)


def _check_head_vector(package: "Package", name: str) -> None:
    """The head's per-class float param `name` (scale or bias): present, (classes,), finite."""
    value = package.params.get(name)
    if value is None:
        raise PackageError(f"head: param {name!r} missing from {PARAMS_FILE}")
    if value.shape != (package.classes,) or value.dtype.kind != "f":
        raise PackageError(f"head: param {name!r} must be float ({package.classes},), "
                           f"got {value.dtype} {value.shape}")
    if not np.isfinite(value).all():
        raise PackageError(f"head: param {name!r} holds a non-finite value "
                           f"({value[~np.isfinite(value)][0]}) at class {int(np.argmin(np.isfinite(value)))}")


def _check_header(package: Package) -> None:
    try:
        check_model_name(package.model)
    except BadName as e:
        raise PackageError(str(e)) from None
    if package.format_version != FORMAT_VERSION:
        raise PackageError(f"format_version {package.format_version!r} is not supported "
                           f"(this reader knows {FORMAT_VERSION})")
    for name in (package.input, package.output):
        if name not in package.streams:
            raise PackageError(f"stream {name!r} (graph input/output) is not declared in streams")
    image = package.streams[package.input]
    if (image.min, image.max, image.signed) != (0, 255, False):
        raise PackageError(f"input stream {package.input!r} must be uint8 [0, 255], got "
                           f"[{image.min}, {image.max}]")
    if not _is_int(package.classes) or package.classes < 1:
        raise PackageError(f"classes must be a positive integer, got {package.classes!r}")
    if package.streams[package.output].shape != (1, 1, package.classes):
        raise PackageError(f"output stream {package.output!r} has shape "
                           f"{list(package.streams[package.output].shape)}, expected "
                           f"[1, 1, {package.classes}] (classes={package.classes})")
    _check_head_vector(package, package.head.scale)
    if package.head.bias is not None:
        _check_head_vector(package, package.head.bias)


def _check_wiring(package: Package) -> None:
    """One producer and one consumer per stream, producers before consumers (topological)."""
    produced = {package.input: "the graph input"}
    consumed = {package.output: "the graph output"}
    names = set()
    for layer in package.layers:
        if layer.name in names:
            raise PackageError(f"{_where(layer)}: a layer of that name already exists")
        names.add(layer.name)
        for stream in layer.inputs:
            if stream not in package.streams:
                raise PackageError(f"{_where(layer)}: input stream {stream!r} is not declared in streams")
            if stream not in produced:
                raise PackageError(f"{_where(layer)}: input stream {stream!r} is not produced by an "
                                   "earlier layer (layers must be in topological order)")
            if stream in consumed:
                raise PackageError(f"{_where(layer)}: input stream {stream!r} is already consumed by "
                                   f"{consumed[stream]} (fork it with a Duplicate layer)")
            consumed[stream] = f"layer {layer.name!r}"
        for stream in layer.outputs:
            if stream not in package.streams:
                raise PackageError(f"{_where(layer)}: output stream {stream!r} is not declared in streams")
            if stream in produced:
                raise PackageError(f"{_where(layer)}: output stream {stream!r} is already produced by "
                                   f"{produced[stream]}")
            produced[stream] = f"layer {layer.name!r}"
    for stream in package.streams:
        if stream not in produced:
            raise PackageError(f"stream {stream!r} has no producer")
        if stream not in consumed:
            raise PackageError(f"stream {stream!r} (produced by {produced[stream]}) has no consumer")


def _check_layer(package: Package, layer: Layer) -> None:
    """Params present with their declared shapes, the shape rule, value rules and bounds."""
    op = layer.operator
    where = _where(layer)
    params = {}
    for name in op.param_names():
        key = layer.param_key(name)
        if key not in package.params:
            raise PackageError(f"{where}: param {key!r} missing from {PARAMS_FILE}")
        params[name] = package.params[key]
    in_streams = [package.streams[s] for s in layer.inputs]
    in_shapes = [s.shape for s in in_streams]
    try:
        out_shapes = op.output_shapes(in_shapes, params)
        for name, spec in op.param_specs(in_shapes, out_shapes).items():
            array = params[name]
            if array.shape != spec.shape or array.dtype != spec.dtype:
                raise ops.OpError(f"param {layer.param_key(name)!r} is {array.dtype} "
                                  f"{list(array.shape)}, expected {np.dtype(spec.dtype)} "
                                  f"{list(spec.shape)}")
        for stream, shape in zip(layer.outputs, out_shapes):
            if package.streams[stream].shape != tuple(shape):
                raise ops.OpError(f"output stream {stream!r} has shape "
                                  f"{list(package.streams[stream].shape)}, the op gives {list(shape)}")
        op.check_params(params)
        in_bounds = [s.bounds for s in in_streams]
        op.check_input_bounds(in_bounds)
        for stream, (lo, hi) in zip(layer.outputs, op.output_bounds(in_shapes, in_bounds, params)):
            declared = package.streams[stream]
            if lo < declared.min or hi > declared.max:
                raise ops.OpError(f"output stream {stream!r} may hold [{lo}, {hi}] but declares "
                                  f"[{declared.min}, {declared.max}] ({declared.bits} bits): "
                                  "it could overflow")
    except ops.OpError as e:
        raise PackageError(f"{where}: {e}") from None


def _check_params_all_used(package: Package) -> None:
    """A params entry no layer reads is most likely a misspelt name."""
    used = {package.head.scale} | ({package.head.bias} if package.head.bias is not None else set())
    for layer in package.layers:
        used.update(layer.param_key(p) for p in layer.operator.param_names())
    unused = sorted(set(package.params) - used)
    if unused:
        raise PackageError(f"{PARAMS_FILE}: entry {unused[0]!r} belongs to no layer param")


# ---------------------------------------------------------------------------------------------
# Reading and writing
# ---------------------------------------------------------------------------------------------

_TOP_LEVEL_KEYS = ("format_version", "model", "input", "output", "classes", "head", "streams", "layers")
DIGEST_KEY = "sha256"  # written by save(), checked by load(): sha256 of the rest (digest())
_STREAM_KEYS = ("shape", "signed", "bits", "min", "max")
_LAYER_KEYS = ("name", "op", "inputs", "outputs")


def _get(obj: Dict[str, Any], key: str, kind, where: str) -> Any:
    if key not in obj:
        raise PackageError(f"{where}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise PackageError(f"{where}: {key!r} must be {names}, got {value!r}")
    return value


def _no_unknown_keys(obj: Dict[str, Any], known: Sequence[str], where: str) -> None:
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise PackageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(known)})")


def from_json(doc: Any, params: Dict[str, np.ndarray]) -> Package:
    """A Package from model.json's parsed content and the params arrays."""
    if not isinstance(doc, dict):
        raise PackageError(f"{MODEL_FILE}: expected a JSON object at the top level")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise PackageError(f"{MODEL_FILE}: format_version {version!r} is not supported "
                           f"(this reader knows {FORMAT_VERSION})")
    _no_unknown_keys(doc, _TOP_LEVEL_KEYS + (DIGEST_KEY,), MODEL_FILE)
    head = _get(doc, "head", dict, MODEL_FILE)
    _no_unknown_keys(head, ("scale", "divisor", "bias"), f"{MODEL_FILE}: head")
    streams = {}
    for name, stream in _get(doc, "streams", dict, MODEL_FILE).items():
        where = f"{MODEL_FILE}: stream {name!r}"
        if not isinstance(stream, dict):
            raise PackageError(f"{where}: expected an object")
        _no_unknown_keys(stream, _STREAM_KEYS, where)
        try:
            streams[name] = Stream(tuple(_get(stream, "shape", list, where)),
                                   _get(stream, "signed", bool, where), _get(stream, "bits", int, where),
                                   _get(stream, "min", int, where), _get(stream, "max", int, where))
        except PackageError as e:
            raise PackageError(f"{where}: {e}") from None
    layers = []
    for index, layer in enumerate(_get(doc, "layers", list, MODEL_FILE)):
        where = f"{MODEL_FILE}: layers[{index}]"
        if not isinstance(layer, dict):
            raise PackageError(f"{where}: expected an object")
        name = _get(layer, "name", str, where)
        attrs = {k: v for k, v in layer.items() if k not in _LAYER_KEYS}
        layers.append(Layer(name, _get(layer, "op", str, f"{where} ({name!r})"),
                            tuple(_get(layer, "inputs", list, f"{where} ({name!r})")),
                            tuple(_get(layer, "outputs", list, f"{where} ({name!r})")), attrs))
    return Package(model=_get(doc, "model", str, MODEL_FILE), input=_get(doc, "input", str, MODEL_FILE),
                   output=_get(doc, "output", str, MODEL_FILE),
                   classes=_get(doc, "classes", int, MODEL_FILE),
                   head=Head(_get(head, "scale", str, f"{MODEL_FILE}: head"),
                             _get(head, "divisor", int, f"{MODEL_FILE}: head"),
                             _get(head, "bias", str, f"{MODEL_FILE}: head") if "bias" in head else None),
                   streams=streams, layers=tuple(layers), params=params, format_version=version)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PackageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PackageError(f"{path}: cannot read: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise PackageError(f"{path}: not valid JSON (truncated?): {e}") from None


def _read_npz(path: Path) -> Dict[str, np.ndarray]:
    """Every array of the .npz, loaded now (the file is closed on return)."""
    if not path.is_file():
        raise PackageError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except Exception as e:  # zipfile, zlib, numpy's format reader: all mean a damaged file
        raise PackageError(f"{path}: not a readable .npz (truncated or damaged?): "
                           f"{type(e).__name__}: {e}") from None


def load(folder) -> Package:
    """Read and validate `folder/model.json` and `folder/params.npz`."""
    folder = Path(folder)
    doc = _read_json(folder / MODEL_FILE)
    params = _read_npz(folder / PARAMS_FILE)
    try:
        package = from_json(doc, params)
    except PackageError as e:
        raise PackageError(f"{folder}: {e}") from None
    if DIGEST_KEY in doc:   # packages written before the digest have none
        want = doc[DIGEST_KEY]
        if not isinstance(want, str) or want != digest(package):
            raise PackageError(f"{folder}: {MODEL_FILE}'s {DIGEST_KEY} does not match the package's content "
                               f"(model.json or params.npz edited or damaged after it was written)")
    return package


def _npz_bytes(arrays: Dict[str, np.ndarray]) -> bytes:
    """An .npz that np.load reads, byte-identical for identical arrays: sorted entries and a
    fixed timestamp (np.savez stamps the current time, so its files differ on every run)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            archive.writestr(info, data.getvalue())
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target and rename: a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def model_json_text(package: Package, with_digest: bool = False) -> str:
    """model.json's text: sorted keys, 2-space indent, a final newline (diff-friendly); with
    the package's digest() under DIGEST_KEY when `with_digest` (what save() writes)."""
    doc = package.to_json()
    if with_digest:
        doc[DIGEST_KEY] = digest(package)
    return json.dumps(doc, sort_keys=True, indent=2) + "\n"


def digest(package: Package) -> str:
    """sha256 of the package's content (model.json's text without the digest, and every param
    array with its key, dtype and shape). The one place it is computed."""
    h = hashlib.sha256(model_json_text(package).encode())
    for key in sorted(package.params):
        a = np.ascontiguousarray(package.params[key])
        h.update(f"\0{key}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(package: Package, folder) -> Path:
    """Write `folder/model.json` and `folder/params.npz` (deterministically); returns folder."""
    validate(package)  # the params dict is mutable: check again what goes to disk
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / PARAMS_FILE, _npz_bytes(package.params))
    _write_atomically(folder / MODEL_FILE, model_json_text(package, with_digest=True).encode("utf-8"))
    return folder


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------

class PackageBuilder:
    """Builds a Package layer by layer: each output stream's shape, worst-case bounds and width
    come from the op itself, so a builder never writes a width by hand.

        b = PackageBuilder("tiny", input_shape=(8, 8, 1))
        b.add("embed", "Thermometer", ["in0"], {"k": 4, "out_bits": 2}, {"thresholds": t})
        ...
        package = b.build(output="sums", head_scale=scale, divisor=16)
    """

    def __init__(self, model: str, input_shape: Sequence[int], input_name: str = "in0"):
        self.model = model
        self.input = input_name
        self.streams: Dict[str, Stream] = {input_name: Stream.for_bounds(input_shape, 0, 255)}
        self.layers: List[Layer] = []
        self.params: Dict[str, np.ndarray] = {}

    def add(self, name: str, op: str, inputs: Sequence[str], attrs: Optional[Dict[str, Any]] = None,
            params: Optional[Dict[str, np.ndarray]] = None,
            outputs: Optional[Sequence[str]] = None) -> List[str]:
        """Append a layer; returns its output stream names (default: the layer's name)."""
        outputs = list(outputs) if outputs is not None else [name]
        params = dict(params or {})
        layer = Layer(name, op, tuple(inputs), tuple(outputs), dict(attrs or {}))
        missing = [s for s in inputs if s not in self.streams]
        if missing:
            raise PackageError(f"{_where(layer)}: input stream {missing[0]!r} does not exist yet")
        in_shapes = [self.streams[s].shape for s in inputs]
        in_bounds = [self.streams[s].bounds for s in inputs]
        try:
            shapes = layer.operator.output_shapes(in_shapes, params)
            bounds = layer.operator.output_bounds(in_shapes, in_bounds, params)
        except (ops.OpError, KeyError) as e:
            raise PackageError(f"{_where(layer)}: {e}") from None
        for stream, shape, (lo, hi) in zip(outputs, shapes, bounds):
            self.streams[stream] = Stream.for_bounds(shape, lo, hi)
        self.layers.append(layer)
        self.params.update({layer.param_key(k): v for k, v in params.items()})
        return outputs

    def build(self, output: str, head_scale: np.ndarray, divisor: int,
              head_bias: Optional[np.ndarray] = None) -> Package:
        """The validated Package; divisor is H*W of the map the global sum ran over; head_bias
        (float64, per class) only where the head has one."""
        classes = self.streams[output].shape[2]
        params = dict(self.params)
        params[HEAD_SCALE_KEY] = np.asarray(head_scale, dtype=np.float32)
        bias_key = None
        if head_bias is not None:
            bias_key = HEAD_BIAS_KEY
            params[bias_key] = np.asarray(head_bias, dtype=np.float64)
        return Package(self.model, self.input, output, classes, Head(HEAD_SCALE_KEY, divisor, bias_key),
                       dict(self.streams), tuple(self.layers), params)
