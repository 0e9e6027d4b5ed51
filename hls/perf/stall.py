"""Throughput of a chain of matrix-vector units under finite FIFOs (the estimate's II is the
slowest layer's cycles; this is what shallow FIFOs between MVUs cost on top of it).

An MVU of the finn-hlslib / BNN-PYNQ kind, and ours (hls/lib/mvu.h), runs SF * NF iterations
per frame at II = 1 and reads its input only in the first neuron fold (nf == 0), keeping it in
a buffer that the other NF - 1 folds replay; it writes one output word at the end of each
neuron fold. So a consumer cannot finish its first fold of frame k before its producer has
written all of frame k, and a producer cannot run ahead of a consumer that is replaying frame
k - 1 by more than the FIFO between them holds. When that FIFO holds less than a frame, the two
layers' frames partly serialize and the frame interval exceeds every layer's own cycles.
BNN-PYNQ's LFC sizes its inter-layer FIFOs to half a frame (`Lx_DEPTH = 512 / Lx_PE` in
bnn/src/network/lfcW1A*/hw/top.cpp, with the comment that MH / PE would be needed "for a smooth
operation"); CNV's FIFOs, width converters and 256-bit streams hold a frame or more.

This is a cycle-by-cycle model of such a chain, not a C-simulation: every process does one
loop iteration per cycle unless a blocking read finds its FIFO empty or a blocking write finds
it full (both judged on the FIFO's state at the start of the cycle: a word written in cycle t
is readable in t + 1, a slot freed in t is writable in t + 1), no pipeline depth, no memory
latency (the source writes a word per cycle, the sink reads a word per cycle).

    stages = [Source(13), Mvu(13, 32), Fifo(16), Mvu(32, 16), ...]
    frame_interval(chain)      # steady-state cycles per frame

``mvu_chain(g, folding, depths)`` builds the chain of an all-1x1 topology (hls/perf/topologies
bnn_lfc) from its folding, inserting width converters where the producer's PE * bits differ
from the consumer's SIMD * bits, as BNN-PYNQ's StreamingFCLayer_Batch does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List


@dataclass
class Source:
    """Writes ``words`` words per frame, one per cycle when the FIFO has room."""
    words: int
    i: int = 0

    def want(self):
        return False, True            # (reads this iteration, writes this iteration)

    def advance(self):
        self.i = (self.i + 1) % self.words


@dataclass
class Mvu:
    """SF * NF iterations per frame; reads in the first neuron fold, writes at each fold's end.
    ``depth`` > 0: the write happens ``depth`` cycles after the read, in a pipeline that stalls
    as a whole (HLS's stall semantics): a word still in the pipeline waits for the next read."""
    sf: int
    nf: int
    depth: int = 0
    i: int = 0

    def want(self):
        s, n = self.i % self.sf, self.i // self.sf
        return n == 0, s == self.sf - 1

    def advance(self):
        self.i = (self.i + 1) % (self.sf * self.nf)


@dataclass
class Convert:
    """A width converter: ``ratio`` > 0 splits each input word into ``ratio`` output words
    (reads on the first), ``ratio`` < 0 packs -ratio input words into one (writes on the last)."""
    ratio: int
    i: int = 0

    def want(self):
        if self.ratio > 0:
            return self.i == 0, True
        return True, self.i == -self.ratio - 1

    def advance(self):
        self.i = (self.i + 1) % abs(self.ratio)


@dataclass
class Fifo:
    depth: int
    count: int = 0


@dataclass
class Sink:
    """Reads a word per cycle; ``per_frame`` words make a frame; records each frame's end."""
    per_frame: int
    i: int = 0
    done: List[int] = field(default_factory=list)

    def want(self):
        return True, False

    def advance(self):
        self.i += 1


def frame_interval(chain: list, frames: int = 24, warm: int = 8, max_cycles: int = 10**7) -> float:
    """Steady-state cycles per frame of ``chain`` (Source, then processes and Fifos alternating,
    then Sink): the mean interval between the sink's frame ends after ``warm`` frames."""
    procs = chain[0::2]
    fifos = chain[1::2]
    assert len(procs) == len(fifos) + 1 and isinstance(procs[0], Source) \
        and isinstance(procs[-1], Sink) and all(isinstance(f, Fifo) for f in fifos)
    sink = procs[-1]
    pipes = [[False] * getattr(p, "depth", 0) for p in procs]
    t = 0
    while len(sink.done) < frames and t < max_cycles:
        t += 1
        moves = []
        for k, p in enumerate(procs):
            rd, wr = p.want()
            if pipes[k]:
                pipes_wr = pipes[k][0]
                rd, wr = rd, pipes_wr
            if rd and fifos[k - 1].count == 0:
                continue
            if wr and fifos[k].count >= fifos[k].depth:
                continue
            moves.append((k, rd, wr))
        for k, rd, wr in moves:
            if pipes[k]:
                pipes[k].pop(0)
                pipes[k].append(procs[k].want()[1])
            if rd:
                fifos[k - 1].count -= 1
            if wr:
                fifos[k].count += 1
            procs[k].advance()
            if procs[k] is sink and sink.i % sink.per_frame == 0:
                sink.done.append(t)
    if len(sink.done) < frames:
        raise RuntimeError(f"chain made {len(sink.done)} of {frames} frames in {t} cycles")
    ends = sink.done[warm:]
    return (ends[-1] - ends[0]) / (len(ends) - 1)


def mvu_chain(layers, depths, io_depth: int = 1024, default_depth: int = 2,
              word_bits: int = 64, pipeline: int = 0) -> list:
    """The chain of a BNN-PYNQ-style MLP top level (DoCompute in bnn/src/network/lfc*/hw/
    top.cpp): Mem2Stream of ``word_bits``-bit words -> FIFO ``io_depth`` -> per layer
    (MW, MH, SIMD, PE, in_bits, out_bits) a width converter where the arriving word is not
    SIMD * in_bits wide (inner stream ``default_depth``), the MVU (``pipeline`` stages), FIFO
    ``depths[k]`` -> ... -> the last layer's PE * out_bits words converted to ``word_bits`` ->
    FIFO ``io_depth`` -> Stream2Mem. Widths must divide as BNN-PYNQ's converters require."""
    chain: list = []
    width = word_bits
    mw0, ib0 = layers[0][0], layers[0][4]
    chain += [Source(-(-mw0 * ib0 // word_bits)), Fifo(io_depth)]
    for k, (mw, mh, simd, pe, ib, ob) in enumerate(layers):
        want = simd * ib
        if width != want:
            if max(width, want) % min(width, want):
                raise ValueError(f"layer {k}: no converter from {width} to {want} bits")
            chain += [Convert(width // want if width > want else -(want // width)),
                      Fifo(default_depth)]
        chain += [Mvu(mw // simd, mh // pe, pipeline)]
        width = pe * ob
        last = k == len(layers) - 1
        chain += [Fifo(default_depth if last and width != word_bits else
                       (io_depth if last else depths[k]))]
    out_words = layers[-1][1] // layers[-1][3]            # MVU output words per frame
    if width != word_bits:
        if word_bits % width:
            raise ValueError(f"output: no converter from {width} to {word_bits} bits")
        chain += [Convert(-(word_bits // width)), Fifo(io_depth)]
        out_words = -(-out_words * width // word_bits)
    chain += [Sink(out_words)]
    return chain
