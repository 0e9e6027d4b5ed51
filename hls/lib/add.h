// Residual add of two integer streams (host/FORMAT.md `Add`): out = a + b, lane by lane.
//
// In:  two streams of the same shape and folding, PE lanes per beat (A_BITS / B_BITS each).
// Out: same shape and folding, PE lanes of OUT_BITS (two's complement; the caller sizes
//      OUT_BITS from the worst-case bounds, so the truncation never drops a significant bit).
// Each iteration reads one beat of each input: a and b must arrive in lock step, which is what
// the skip FIFO on the shortcut branch has to absorb.
#ifndef ERN_ADD_H
#define ERN_ADD_H

#include "common.h"

namespace ern {

/// Lane-wise add of one or more frames.
/// @tparam PIXELS   pixels per frame (H*W)
/// @tparam C        channels
/// @tparam PE       channels per beat (divides C; the same on both inputs and the output)
/// @tparam A_BITS   width of the lanes of input a
/// @tparam B_BITS   width of the lanes of input b
/// @tparam OUT_BITS width of the output lanes
/// @tparam A_SIGNED true: a is two's complement; false: unsigned
/// @tparam B_SIGNED true: b is two's complement; false: unsigned
/// @param a      C/PE beats per pixel
/// @param b      C/PE beats per pixel
/// @param out    C/PE beats per pixel
/// @param frames number of frames this call processes
template <unsigned PIXELS, unsigned C, unsigned PE, unsigned A_BITS, unsigned B_BITS, unsigned OUT_BITS,
          bool A_SIGNED = true, bool B_SIGNED = true>
void add(hls::stream<ap_uint<PE * A_BITS> >& a, hls::stream<ap_uint<PE * B_BITS> >& b,
         hls::stream<ap_uint<PE * OUT_BITS> >& out, unsigned frames) {
    static_assert(C % PE == 0, "add: PE must divide C");
    constexpr unsigned SW = (A_BITS > B_BITS ? A_BITS : B_BITS) + 2;
    for (unsigned f = 0; f < frames; f++) {
        for (unsigned i = 0; i < PIXELS * (C / PE); i++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            const ap_uint<PE * A_BITS> x = a.read();
            const ap_uint<PE * B_BITS> y = b.read();
            ap_uint<PE * OUT_BITS> word = 0;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                const ap_int<SW> sum = ap_int<SW>(lane_value<A_BITS, A_SIGNED>(x, pe)) +
                                       ap_int<SW>(lane_value<B_BITS, B_SIGNED>(y, pe));
                set_lane<OUT_BITS>(word, pe, sum);
            }
            out.write(word);
        }
    }
}

}  // namespace ern

#endif  // ERN_ADD_H
