// Weight loader: writes a run-time weight memory (UltraRAM) from the input AXI-Stream.
//
// UltraScale+ UltraRAM has no bitstream initialisation (UG573), so a weight array the code
// generator binds to URAM is not a constant: the accelerator's top function, called in load
// mode, passes the input stream to load_weights once per such array, in a fixed order, before
// the first frame. The words of one array, in load order ("the weight image", written by
// host/weights.py from the model package):
//
//   for t in 0 .. TILES-1:            (the memory's address: w[.][t] of every PE is one word)
//     for pe in 0 .. PE-1:
//       element w[pe][t] (W bits) as ceil(W / AXI_BITS) words, least significant bits first;
//       the unused high bits of the last word are zero.
//
// All PE elements of an address are assembled in registers and written in one iteration, so
// the reshaped memory (ARRAY_RESHAPE dim 1: PE elements side by side in one word) takes one
// full-width write per address, never a read-modify-write. TLAST is not read.
#ifndef ERN_WEIGHT_LOAD_H
#define ERN_WEIGHT_LOAD_H

#include "axi_stream.h"
#include "common.h"

namespace ern {

/// AXI words that carry one W-bit element.
template <unsigned W, unsigned AXI_BITS>
constexpr unsigned weight_load_beats() {
    return (W + AXI_BITS - 1) / AXI_BITS;
}

/// AXI words that carry a whole `PE x TILES` array of W-bit elements (its share of the image).
template <unsigned PE, unsigned TILES, unsigned W, unsigned AXI_BITS>
constexpr unsigned long weight_load_words() {
    return (unsigned long)TILES * PE * weight_load_beats<W, AXI_BITS>();
}

/// Reads one array's words from `in` (load order above) into `w`.
/// @tparam PE       first dimension of the array (reshaped into the memory word)
/// @tparam TILES    second dimension (the memory's depth)
/// @tparam W        bits of one element
/// @tparam AXI_BITS TDATA width of `in`
template <unsigned PE, unsigned TILES, unsigned W, unsigned AXI_BITS>
void load_weights(hls::stream<axis_word<AXI_BITS> >& in, ap_uint<W> w[PE][TILES]) {
    constexpr unsigned BEATS = weight_load_beats<W, AXI_BITS>();
    constexpr unsigned READS = PE * BEATS;   // words per address
    ap_uint<W> word[PE];
#pragma HLS ARRAY_PARTITION variable=word complete dim=1
    for (unsigned t = 0; t < TILES; t++) {
        for (unsigned r = 0; r < READS; r++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            const unsigned pe = r / BEATS, beat = r % BEATS;
            const ap_uint<AXI_BITS> data = in.read().data;
            // beat b fills bits [b*AXI_BITS, ...) of the element; a shift keeps the slice
            // bounds constant for synthesis
            ap_uint<BEATS * AXI_BITS> wide = ap_uint<BEATS * AXI_BITS>(data) << (beat * AXI_BITS);
            ap_uint<BEATS * AXI_BITS> mask = ap_uint<BEATS * AXI_BITS>(~ap_uint<AXI_BITS>(0)) << (beat * AXI_BITS);
            ap_uint<BEATS * AXI_BITS> old = word[pe];
            word[pe] = ap_uint<W>((old & ~mask) | wide);
            if (r == READS - 1) {
                for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                    w[p][t] = word[p];
                }
            }
        }
    }
}

}  // namespace ern

#endif  // ERN_WEIGHT_LOAD_H
