"""Stage 2: QONNX -> integer dataflow model package (hls.lower) -> estimate, folding, HLS C++.

May import host (the package format and the reference); never training.
"""
