"""Builders shared by the tests/test_lower_*.py files: tiny hand-built QONNX graphs, and small
Brevitas models exported quickly (TorchScript exporter + the same qonnx cleanup as
training/export.py, ~10x faster than the dynamo exporter that `make export` uses)."""
import copy
from typing import Dict, List, Sequence, Tuple

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

QONNX_DOMAIN = "qonnx.custom_op.general"


class GraphBuilder:
    """Append ONNX/QONNX nodes; `build()` gives a shape-inferred ModelWrapper (batch 1)."""

    def __init__(self, input_shape: Sequence[int], input_name: str = "x"):
        self.input = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))
        self.nodes: List = []
        self.inits: Dict[str, np.ndarray] = {}
        self.count = 0

    def const(self, value, dtype=np.float32) -> str:
        self.count += 1
        name = f"c{self.count}"
        self.inits[name] = np.asarray(value, dtype=dtype)
        return name

    def node(self, op: str, inputs: Sequence[str], name: str = None, domain: str = "", **attrs) -> str:
        self.count += 1
        name = name or f"{op}_{self.count}"
        out = f"{name}_out"
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=name, domain=domain, **attrs))
        return out

    def quant(self, x: str, scale: float, bits: int, rounding: str = "ROUND", signed: int = 0,
              narrow: int = 0, zero_point: float = 0.0, name: str = None) -> str:
        return self.node("Quant", [x, self.const(scale), self.const(zero_point), self.const(bits)], name=name,
                         domain=QONNX_DOMAIN, rounding_mode=rounding, signed=signed, narrow=narrow)

    def binary_weights(self, weights: np.ndarray, scale: np.ndarray, name: str = None) -> str:
        return self.node("BipolarQuant", [self.const(weights), self.const(scale)], name=name,
                         domain=QONNX_DOMAIN)

    def conv(self, x: str, weights: str, kernel: int, stride: int = 1, pad: int = 0, name: str = None) -> str:
        return self.node("Conv", [x, weights], name=name, kernel_shape=[kernel, kernel],
                         strides=[stride, stride], pads=[pad] * 4, group=1, dilations=[1, 1])

    def batch_norm(self, x: str, gamma, beta, mean, var, eps: float = 1e-5, name: str = None) -> str:
        return self.node("BatchNormalization", [x, self.const(gamma), self.const(beta), self.const(mean),
                                                self.const(var)], name=name, epsilon=eps)

    def build(self, output: str) -> ModelWrapper:
        graph = helper.make_graph(self.nodes, "tiny", [self.input],
                                  [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
                                  initializer=[helper.make_tensor(k, _onnx_type(v), v.shape, v.reshape(-1).tolist())
                                               for k, v in self.inits.items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid(QONNX_DOMAIN, 1)])
        return ModelWrapper(model).transform(InferShapes())


def _onnx_type(value: np.ndarray) -> int:
    return {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}[value.dtype]


def run(model: ModelWrapper, x: np.ndarray, full: bool = False):
    """The graph output (or every tensor) on one batch-1 input."""
    name = [i.name for i in model.graph.input if model.get_initializer(i.name) is None][0]
    result = execute_onnx(model, {name: np.asarray(x, np.float32)}, return_full_exec_context=full)
    return result if full else result[model.graph.output[0].name]


def codes_input(builder: GraphBuilder, bits: int = 2, scale: float = 1.0):
    """x -> Quant(ROUND, bits, scale): an activation the lowering sees as integer codes."""
    return builder.quant(builder.input.name, scale, bits, name="Quant_in")


def random_codes(rng, shape, bits=2) -> np.ndarray:
    return rng.integers(0, 2 ** bits, shape).astype(np.float32)


# -- Brevitas models ---------------------------------------------------------------------------

def randomize_batch_norms(model, seed: int, negative: float = 0.3) -> None:
    """Random running statistics and affine parameters (a fraction `negative` of the BN scales
    negative), so that thresholds are non-trivial and directions of both signs appear: the
    random init `make` uses for models without a trained checkpoint."""
    from training.random_init import randomize_norms
    randomize_norms(model, seed, negative)


def export_fast(model, channels: int, height: int, width: int, path) -> ModelWrapper:
    """Brevitas -> QONNX through the TorchScript exporter, cleaned like training/export.py."""
    import torch
    from brevitas.export import export_qonnx
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.util.cleanup import cleanup_model

    example = torch.randint(0, 256, (1, channels, height, width)).float()
    with torch.no_grad():
        export_qonnx(model.eval(), args=example, export_path=str(path), dynamo=False)
    wrapper = cleanup_model(ModelWrapper(str(path)))
    wrapper = wrapper.transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    wrapper.save(str(path))
    return wrapper


def brevitas_logits(model, images_nhwc: np.ndarray) -> np.ndarray:
    import torch
    with torch.no_grad():
        return model(torch.from_numpy(images_nhwc.transpose(0, 3, 1, 2).astype(np.float32))).numpy()


def compare_streams(model: ModelWrapper, report: Dict, trace: Dict[str, np.ndarray],
                    images_nhwc: np.ndarray) -> Dict[str, Tuple[int, int]]:
    """Per stream: (mismatching elements, elements) between the reference's integer stream and
    the original graph's tensor (qonnx execute_onnx) divided by the stream's scale."""
    result = {}
    for i in range(len(images_nhwc)):
        x = images_nhwc[i:i + 1].transpose(0, 3, 1, 2)
        context = run(model, x, full=True)
        for stream, source in report["streams"].items():
            value = np.asarray(context[source["onnx"]], np.float64)
            crop = source.get("crop", 0)   # the padded original of a map (pixel-space padding)
            if crop:
                value = value[:, :, crop:-crop, crop:-crop]
            got = trace[stream][i:i + 1]
            if value.ndim == 2 and got.shape[1:3] != (1, 1):   # a flattened map: ONNX order C, H, W
                value = value.reshape((1, got.shape[3]) + got.shape[1:3])
            value = value.transpose(0, 2, 3, 1) if value.ndim == 4 else value.reshape(value.shape[0], 1, 1, -1)
            expected = np.rint(value * source["divisor"] / np.asarray(source["scale"])
                               + np.asarray(source.get("offset", 0.0)))
            got = trace[stream][i:i + 1]
            bad, total = result.get(stream, (0, 0))
            result[stream] = (bad + int(np.sum(expected != got)), total + got.size)
    return result


def ternary_cnn(seed=0):
    """A 2-bit unsigned input, a 3x3 conv with Brevitas' narrow signed 2-bit weights (ternary
    -1/0/+1: Conv `zeros`) + BN + a 2-bit activation, a ternary 1x1 conv, a global average."""
    rng = np.random.default_rng(seed)
    g = GraphBuilder([1, 1, 6, 6])
    x = g.quant(g.input.name, 64.0, 2, rounding="FLOOR", name="Quant_0")

    def ternary(shape, name):   # uniform in [-1.5, 1.5]: a third of the weights round to 0
        return g.quant(g.const(rng.uniform(-1.5, 1.5, shape).astype(np.float32)), 1.0, 2, signed=1, narrow=1,
                       name=name)

    conv = dict(strides=[1, 1], group=1, dilations=[1, 1])
    x = g.node("Conv", [x, ternary((8, 1, 3, 3), "WQ_0")], name="Conv_0", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
               **conv)
    x = g.batch_norm(x, rng.normal(size=8), rng.normal(size=8), rng.normal(size=8), rng.uniform(1, 4, 8), name="BN_0")
    x = g.quant(x, 0.5, 2, name="Act_0")
    x = g.node("Conv", [x, ternary((10, 8, 1, 1), "WQ_1")], name="Conv_1", kernel_shape=[1, 1], pads=[0, 0, 0, 0],
               **conv)
    return g.build(g.node("ReduceMean", [x], axes=[2, 3], keepdims=0))


def apply(model, *passes):
    """A copy of the model with each pass applied until it stops changing anything."""
    model = copy.deepcopy(model)
    for p in passes:
        changed = True
        while changed:
            model, changed = p.apply(model)
    return model
