"""FIFO depths: the skip FIFOs that keep residual branches from deadlocking.

Every FIFO is HLS's default depth 2 except, at a join (a process reading two FIFOs in lock
step: the residual `Add`), the FIFO that must hold what one branch has already received while
the other branch is still working on the same data.

The rule, in the C model every process follows (each process reads and writes its FIFOs in
program order and blocks on an empty read or a full write; the clocked C-simulation of
hls/fifo_sim checks this, with the stricter timing of a stall-style pipeline on top):

1. Each library call knows, for each output beat j of a frame, how many beats of each input it
   has read before it writes that beat (`Process.needs`): an MVU the SF beats of its vector;
   element-wise layers one beat per beat; a width converter ceil((j+1)*OUT/IN) beats; a sliding
   window (and max pool) its own loop replayed (dataflow.need_window): each iteration also
   does a blocking read while its ring of K + S rows has room, so it reads up to K + S rows
   ahead of the window it emits, more than the window's pixels alone would suggest.
2. Composing these along a branch from the fork (the `Duplicate` whose outputs both branches
   start from) gives need_X[j]: the fork beats branch X must have received before it delivers
   beat j to the join. (Through a nested join, the larger of its inputs' needs.)
3. The join reads beat j of both branches together. Branch A cannot deliver beat j before the
   fork has written need_A[j] beats, and the fork writes every beat to both branches; branch B
   has meanwhile delivered only j beats, so it must buffer the rest. Two places can hold it:
     - at the fork (the FIFO from the Duplicate into B): B has consumed at least need_B[j-1]
       beats (for the first beat of a frame: what the previous frame's last beat needed), so
       the FIFO holds  lead_fork = max_j (need_A[j] - need_B[j-1]);
     - at the join (the FIFO from B into the Add): B turns the need_A[j] fork beats into
       prod_B(need_A[j]) beats (the beats whose need is covered), the join has read j, so it
       holds  lead_join = max_j (prod_B(need_A[j]) - j).
   The cheaper one in bits (depth x width) gets the depth; both branches are checked (A
   against B and B against A): the branch that is not behind has a lead of a beat or two.
   Everything else on branch B (its processes' own buffers, its other FIFOs) only helps, so
   the rule never under-sizes in the C model.
4. Hardware adds pipeline latency the C model does not have: each pipelined loop keeps a few
   iterations in flight (~5-15 stages here), and a stalled pipeline (Vitis HLS's default style
   stalls the whole loop on one blocked read) does not drain them. So both inputs of a join get
   PIPELINE_SLACK beats per process on the other branch plus DEFAULT_DEPTH on top of their lead
   (the branch that is not behind has a lead of at most a pixel: a small FIFO).

So a skip FIFO holds the band of rows the main branch's windows read ahead of what they emit
(up to K + S rows per window layer): a fraction of a frame on large maps, up to a whole frame
on small ones (ern_tiny's 7x7 and 4x4 stages). The clocked C-simulation (hls/fifo_sim)
checks the depths and names the stalled FIFOs when one is too small.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set

import numpy as np

from hls.codegen.dataflow import DEFAULT_DEPTH, CodegenError, Dataflow, Fifo, Process

PIPELINE_SLACK = 16   # beats per process on the other branch (hardware pipeline latency)


def size_fifos(df: Dataflow, overrides: Optional[Dict[str, int]] = None,
               slack: int = PIPELINE_SLACK, sized: Optional[Dict[str, int]] = None) -> List[dict]:
    """Set the depth of every skip FIFO (see the module docstring); returns one record per
    FIFO whose depth is not the default. `sized` ({FIFO identifier: depth}: a folding's
    `_fifo_depths`, written by `python -m hls.fifos`) then sets depths for throughput: an
    unknown identifier, or a skip FIFO below its deadlock-safe depth, is a CodegenError.
    `overrides` ({FIFO identifier or label: depth}) set depths by hand last, unchecked (tests
    use it to build a FIFO that is too shallow)."""
    producer: Dict[int, Process] = {}
    consumer: Dict[int, Process] = {}
    for p in df.processes:
        for f in p.outputs:
            producer[id(f)] = p
        for f in p.inputs:
            consumer[id(f)] = p
    order = {id(f): i for i, p in enumerate(df.processes) for f in p.outputs}   # topological
    ancestors = _ancestors(df, producer)
    records = []
    for join in df.processes:
        if len(join.inputs) < 2:
            continue
        for ia in range(len(join.inputs)):
            for ib in range(len(join.inputs)):
                if ia != ib:
                    rec = _size_pair(df, join, ia, ib, ancestors, order, producer, consumer, slack)
                    if rec:
                        records.append(rec)
    records += _apply_sized(df, sized or {}, {r["fifo"] for r in records})
    for key, depth in sorted((overrides or {}).items()):
        matches = [f for f in df.fifos if key in (f.ident, f.label)]
        if not matches:
            raise CodegenError(f"FIFO depth override {key!r}: no such FIFO (FIFOs: "
                               f"{', '.join(f.ident for f in df.fifos)})")
        for f in matches:
            f.depth, f.why = int(depth), f"set by hand to {int(depth)}"
            records.append({"fifo": f.ident, "stream": f.label, "depth": f.depth, "width": f.width,
                            "rule": "override"})
    return records


def _apply_sized(df: Dataflow, sized: Dict[str, int], skip: Set[str]) -> List[dict]:
    """Set the sized depths of a folding's `_fifo_depths` (see size_fifos)."""
    by_ident = {f.ident: f for f in df.fifos}
    unknown = sorted(set(sized) - set(by_ident))
    if unknown:
        raise CodegenError(f"_fifo_depths names FIFO {unknown[0]!r}, which this design does not have "
                           f"({len(unknown)} unknown; re-size with `make fifos`; FIFOs: {', '.join(sorted(by_ident))})")
    records = []
    for ident, depth in sorted(sized.items()):
        f = by_ident[ident]
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise CodegenError(f"_fifo_depths: FIFO {ident!r}: depth must be a positive integer, got {depth!r}")
        if ident in skip and depth < f.depth:
            raise CodegenError(f"_fifo_depths: skip FIFO {ident!r} depth {depth} is below its deadlock-safe "
                               f"depth {f.depth} (hls/codegen/fifos.py); a skip FIFO is never set lower")
        if depth == f.depth:
            continue
        old = f.depth
        f.depth = depth
        f.why = (f"sized for throughput to {depth} (folding's _fifo_depths, `python -m hls.fifos`)"
                 + (f"; skip rule: {old}" if ident in skip else ""))
        records = [r for r in records if r["fifo"] != ident]
        records.append({"fifo": ident, "stream": f.label, "depth": depth, "width": f.width, "rule": "sized"})
    return records


def _ancestors(df: Dataflow, producer: Dict[int, Process]) -> Dict[int, Set[int]]:
    """FIFO id -> ids of every FIFO upstream of it (processes are in topological order)."""
    anc: Dict[int, Set[int]] = {}
    for p in df.processes:
        up: Set[int] = set()
        for f in p.inputs:
            up |= anc.get(id(f), set()) | {id(f)}
        for f in p.outputs:
            anc[id(f)] = set(up)
    return anc


def _relative_needs(head_ids: Set[int], target: Fifo, producer: Dict[int, Process],
                    memo: Dict[int, Optional[np.ndarray]]) -> Optional[np.ndarray]:
    """Fork beats needed for each beat of `target` (None when target does not depend on the
    fork). The fork's output FIFOs (`head_ids`) carry the fork beats themselves."""
    key = id(target)
    if key in memo:
        return memo[key]
    if key in head_ids:
        result = np.arange(1, target.beats + 1, dtype=np.int64)
    else:
        p = producer.get(key)
        result = None
        if p is not None:
            k = next(i for i, f in enumerate(p.outputs) if f is target)
            for i, f in enumerate(p.inputs):
                upstream = _relative_needs(head_ids, f, producer, memo)
                if upstream is None:
                    continue
                local = p.need(i, k)
                if len(local) != target.beats:
                    raise CodegenError(f"{p.name}: need function has {len(local)} beats, FIFO "
                                       f"{target.ident} {target.beats}")
                here = upstream[np.clip(local, 1, len(upstream)) - 1]
                here[local <= 0] = 0
                result = here if result is None else np.maximum(result, here)
    memo[key] = result
    return result


def _branch_processes(head_ids: Set[int], target: Fifo, producer: Dict[int, Process]) -> int:
    """Processes between the fork and `target` (the longest chain)."""
    count, f = 0, target
    seen = set()
    while id(f) not in head_ids:
        p = producer.get(id(f))
        if p is None or id(p) in seen:
            break
        seen.add(id(p))
        count += 1
        f = p.inputs[0] if len(p.inputs) == 1 else max(p.inputs, key=lambda x: x.beats)
    return count


def _size_pair(df, join: Process, ia: int, ib: int, ancestors, order, producer, consumer, slack):
    """Does input ib (branch B) of `join` have to wait for input ia (branch A)? Deepen B."""
    a, b = join.inputs[ia], join.inputs[ib]
    common = (ancestors[id(a)] | {id(a)}) & (ancestors[id(b)] | {id(b)})
    if not common:
        raise CodegenError(f"{join.name}: inputs {a.ident} and {b.ident} share no upstream fork")
    source = max(common, key=lambda i: order[i])   # the fork's input FIFO
    fork = consumer[source]
    heads = {id(f) for f in fork.outputs}
    head_b = next((f for f in fork.outputs if id(f) in ancestors[id(b)] | {id(b)}), None)
    if head_b is None or len(fork.outputs) < 2:
        raise CodegenError(f"{join.name}: no fork found above {b.ident}")
    memo: Dict[int, Optional[np.ndarray]] = {}
    need_a = _relative_needs(heads, a, producer, memo)
    need_b = _relative_needs(heads, b, producer, memo)
    if need_a is None or need_b is None or len(need_a) != len(need_b):
        raise CodegenError(f"{join.name}: inputs {a.ident} and {b.ident} do not come from one fork")
    # B's consumption before beat j: need_B[j-1]; before the first beat of a frame, what the
    # previous frame's last beat needed (a strided 1x1 window may not need the frame's last
    # pixels for its output, though it reads them).
    frame = head_b.beats
    before_b = np.concatenate([[need_b[-1] - frame], need_b[:-1]])
    lead_fork = int(np.max(need_a - before_b))
    produced_b = np.searchsorted(need_b, need_a, side="right")   # prod_B(need_A[j])
    lead_join = int(np.max(produced_b - np.arange(len(need_a))))
    extra = slack * _branch_processes(heads, a, producer) + DEFAULT_DEPTH
    options = [(head_b, max(lead_fork, 0), "fork side"), (b, max(lead_join, 0), "join side")]
    fifo, lead, side = min(options, key=lambda o: ((o[1] + extra) * o[0].width, o[2] != "fork side"))
    depth = lead + extra
    if depth > fifo.depth:
        fifo.depth = depth
        fifo.why = (f"skip FIFO ({side}) of {join.name}: the other branch needs {lead} beats of this "
                    f"FIFO before it delivers (C model) + {extra} (pipeline slack)")
    return {"fifo": fifo.ident, "stream": fifo.label, "join": join.name, "side": side,
            "lead_beats": lead, "slack": extra, "depth": fifo.depth, "width": fifo.width,
            "bits": fifo.depth * fifo.width, "rule": "skip"}
