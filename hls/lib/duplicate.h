// Stream fork (host/FORMAT.md `Duplicate`): every output gets a copy of every input beat.
//
// In/out: any stream of PE lanes of BITS (the lanes are not looked at). Each iteration reads one
// beat and writes it to every output, so an output whose consumer lags stalls the others: the
// FIFO after the shortcut-side output is the skip FIFO that must cover the main branch.
// Two and three outputs are provided; chain duplicates for more.
#ifndef ERN_DUPLICATE_H
#define ERN_DUPLICATE_H

#include "common.h"

namespace ern {

/// Fork one stream into two, for one or more frames.
/// @tparam PIXELS pixels per frame (H*W)
/// @tparam C      channels
/// @tparam PE     channels per beat (divides C)
/// @tparam BITS   width of one lane
/// @param in     C/PE beats per pixel
/// @param out0   copy 0
/// @param out1   copy 1
/// @param frames number of frames this call processes
template <unsigned PIXELS, unsigned C, unsigned PE, unsigned BITS>
void duplicate(hls::stream<ap_uint<PE * BITS> >& in, hls::stream<ap_uint<PE * BITS> >& out0,
               hls::stream<ap_uint<PE * BITS> >& out1, unsigned frames) {
    static_assert(C % PE == 0, "duplicate: PE must divide C");
    for (unsigned f = 0; f < frames; f++) {
        for (unsigned i = 0; i < PIXELS * (C / PE); i++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            const ap_uint<PE * BITS> x = in.read();
            out0.write(x);
            out1.write(x);
        }
    }
}

/// Fork one stream into three, for one or more frames.
/// @tparam PIXELS pixels per frame (H*W)
/// @tparam C      channels
/// @tparam PE     channels per beat (divides C)
/// @tparam BITS   width of one lane
/// @param in     C/PE beats per pixel
/// @param out0   copy 0
/// @param out1   copy 1
/// @param out2   copy 2
/// @param frames number of frames this call processes
template <unsigned PIXELS, unsigned C, unsigned PE, unsigned BITS>
void duplicate(hls::stream<ap_uint<PE * BITS> >& in, hls::stream<ap_uint<PE * BITS> >& out0,
               hls::stream<ap_uint<PE * BITS> >& out1, hls::stream<ap_uint<PE * BITS> >& out2, unsigned frames) {
    static_assert(C % PE == 0, "duplicate: PE must divide C");
    for (unsigned f = 0; f < frames; f++) {
        for (unsigned i = 0; i < PIXELS * (C / PE); i++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            const ap_uint<PE * BITS> x = in.read();
            out0.write(x);
            out1.write(x);
            out2.write(x);
        }
    }
}

}  // namespace ern

#endif  // ERN_DUPLICATE_H
