// Global sum (host/FORMAT.md `GlobalSum`): H x W x C -> 1 x 1 x C, the sum over all pixels
// (the average pool without its division, which the host applies).
//
// In:  H x W x C, C/PE beats per pixel of PE integers (IN_BITS each).
// Out: C/PE beats per frame, PE sums of OUT_BITS each (two's complement; sized by the caller
//      from the worst-case bounds, which also bound every partial sum).
#ifndef ERN_GLOBAL_SUM_H
#define ERN_GLOBAL_SUM_H

#include "common.h"

namespace ern {

/// Global sum of one or more frames.
/// @tparam PIXELS    pixels per frame (H*W)
/// @tparam C         channels
/// @tparam PE        channels per beat (divides C)
/// @tparam IN_BITS   width of the input lanes
/// @tparam OUT_BITS  width of the output sums
/// @tparam IN_SIGNED true: the input lanes are two's complement; false: unsigned
/// @param in     C/PE beats per pixel
/// @param out    C/PE beats per frame
/// @param frames number of frames this call processes
template <unsigned PIXELS, unsigned C, unsigned PE, unsigned IN_BITS, unsigned OUT_BITS, bool IN_SIGNED = true>
void global_sum(hls::stream<ap_uint<PE * IN_BITS> >& in, hls::stream<ap_uint<PE * OUT_BITS> >& out,
                unsigned frames) {
    static_assert(C % PE == 0, "global_sum: PE must divide C");
    constexpr unsigned NF = C / PE;
    ap_int<OUT_BITS> acc[NF][PE];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=2
    for (unsigned f = 0; f < frames; f++) {
        unsigned nf = 0, pixel = 0;
        for (unsigned i = 0; i < PIXELS * NF; i++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            const ap_uint<PE * IN_BITS> x = in.read();
            ap_uint<PE * OUT_BITS> word = 0;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                const ap_int<OUT_BITS> sum = (pixel == 0 ? ap_int<OUT_BITS>(0) : acc[nf][pe]) +
                                             lane_value<IN_BITS, IN_SIGNED>(x, pe);
                acc[nf][pe] = sum;
                set_lane<OUT_BITS>(word, pe, sum);
            }
            if (pixel == PIXELS - 1) out.write(word);
            if (++nf == NF) {
                nf = 0;
                pixel++;
            }
        }
    }
}

}  // namespace ern

#endif  // ERN_GLOBAL_SUM_H
