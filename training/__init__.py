"""Stage 1: Brevitas training of w1a2 Efficiera Residual Networks and QONNX export."""
