"""Board-side code: the model-package format, its numpy executor (the CPU reference), and the
driver. Python 3.10 and numpy >= 1.21 only: never import torch, onnx, qonnx, training or hls here.
"""
