// Multi-threshold of an integer stream (host/FORMAT.md `Threshold`): the BN + activation that
// reads the residual stream. code[c] = #{j : direction[c] * x[c] >= thresholds[c][j]}.
//
// In:  H x W x C, C/PE beats per pixel of PE integers (IN_BITS each, two's complement when
//      IN_SIGNED).
// Out: same shape and folding, PE codes of OUT_BITS each.
#ifndef ERN_THRESHOLD_H
#define ERN_THRESHOLD_H

#include "common.h"

namespace ern {

/// Multi-threshold of one or more frames.
/// @tparam PIXELS    pixels per frame (H*W)
/// @tparam C         channels
/// @tparam PE        channels per beat (divides C)
/// @tparam IN_BITS   width of the input integers
/// @tparam OUT_BITS  width of the output codes (2^OUT_BITS - 1 thresholds per channel)
/// @tparam TH_BITS   width of the signed thresholds
/// @tparam IN_SIGNED true: the input lanes are two's complement; false: unsigned
/// @param in         C/PE beats per pixel
/// @param out        C/PE beats per pixel
/// @param thresholds [pe][nf][j]: threshold j of channel nf*PE + pe, ascending in j (partition dims 1, 3)
/// @param direction  [pe][nf]: +1 or -1 (partition dim 1)
/// @param frames     number of frames this call processes
template <unsigned PIXELS, unsigned C, unsigned PE, unsigned IN_BITS, unsigned OUT_BITS, unsigned TH_BITS,
          bool IN_SIGNED = true>
void threshold(hls::stream<ap_uint<PE * IN_BITS> >& in, hls::stream<ap_uint<PE * OUT_BITS> >& out,
               const ap_int<TH_BITS> thresholds[PE][C / PE][levels(OUT_BITS)], const ap_int<2> direction[PE][C / PE],
               unsigned frames) {
    static_assert(C % PE == 0, "threshold: PE must divide C");
    constexpr unsigned NF = C / PE;
    for (unsigned f = 0; f < frames; f++) {
        unsigned nf = 0;
        for (unsigned i = 0; i < PIXELS * NF; i++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            const ap_uint<PE * IN_BITS> x = in.read();
            ap_uint<PE * OUT_BITS> word = 0;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                const ap_int<IN_BITS + 1> v = lane_value<IN_BITS, IN_SIGNED>(x, pe);
                set_lane<OUT_BITS>(word, pe, threshold_code<levels(OUT_BITS), OUT_BITS, TH_BITS>(
                                                 v, thresholds[pe][nf], direction[pe][nf]));
            }
            out.write(word);
            if (++nf == NF) nf = 0;
        }
    }
}

}  // namespace ern

#endif  // ERN_THRESHOLD_H
