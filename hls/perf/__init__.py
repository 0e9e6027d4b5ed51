"""The performance model (docs/estimate.md): what a folded design costs and how fast it runs.

resources (part, memories, storage rules, arithmetic LUT costs), opmodels (one model per op:
cycles, datapath cost), cost (a whole design from the graph: the folding search's view),
generated (the reported estimate: the Dataflow that hls/codegen emits, priced), folding
(folding files, search), estimate (CLI, report), topologies (model.json writers).
"""
