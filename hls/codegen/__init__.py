"""HLS C++ generator: model package + folding -> build/<model>/hls/ (hls/lib calls in a DATAFLOW top).

    from hls.codegen import generate
    result = generate(package, "build/ern_tiny/hls", folding)   # {layer: {"pe", "simd", "mem"}}
    result.files        # {relative path: bytes}, byte-identical for the same inputs
    result.fifos        # the FIFOs deeper than the default, with the rule that sized them

Modules: names (graph names -> C identifiers), layout (param folding: fold_weights, fold_weight_planes, fold_rows),
dataflow (FIFOs, processes, params; need functions), ops (one builder per op, registered by op
name), design (package + folding -> Dataflow), fifos (skip-FIFO depths), cpp (C++ text
builders), files (the generated files). CLI: python -m hls.codegen --help.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional

from hls.codegen import design as _design
from hls.codegen import fifos as _fifos
from hls.codegen import files as _files
from hls.codegen.dataflow import CodegenError, Dataflow
from hls.codegen.layout import fold_rows, fold_weight_planes, fold_weights, pack_words
from hls.codegen.names import Namer, sanitize
from host import boards as _boards
from hls.perf import resources as _resources

__all__ = ["generate", "build", "render", "CodegenError", "Dataflow", "GenerateResult", "fold_rows",
           "fold_weights", "fold_weight_planes", "pack_words", "sanitize", "Namer"]

build = _design.build
render = _files.render


@dataclasses.dataclass
class GenerateResult:
    out_dir: Path
    files: Dict[str, bytes]
    dataflow: Dataflow
    interface: dict

    @property
    def fifos(self) -> List[dict]:
        return self.dataflow.fifo_records


def generate(package, out_dir, folding: Optional[Dict[str, dict]] = None,
             fifo_depths: Optional[Dict[str, int]] = None, pipeline_slack: Optional[int] = None,
             board=None) -> GenerateResult:
    """Generate the HLS folder for `package` (a host.package.Package) into `out_dir`, for `board`
    (a host.boards name or Board; default the PYNQ-Z2: run_hls.tcl's part and clock).
    `fifo_depths` ({FIFO identifier: depth}) and `pipeline_slack` override the FIFO sizing (tests)."""
    board = board if isinstance(board, _boards.Board) else _boards.get(board)
    df = _design.build(package, folding, fifo_depths,
                       _fifos.PIPELINE_SLACK if pipeline_slack is None else pipeline_slack,
                       part=_resources.part_of(board))
    files = _files.render(df, board)
    out = _files.write(files, out_dir)
    return GenerateResult(out, files, df, _files.interface(df, board))
