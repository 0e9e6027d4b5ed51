// Max pool over unsigned codes (host/FORMAT.md `MaxPool`): K x K windows, stride S, no padding.
//
// In:  H x W x C, C/PE beats per pixel of PE codes (BITS each).
// Out: HO x WO x C, C/PE beats per pixel (HO = (H - K)/S + 1, WO likewise).
// The window walk is the sliding-window generator's (sliding_window.h, same line buffer of
// K + S rows); the K*K beats of a window fold are reduced lane-wise into one running max per
// fold instead of being written out.
#ifndef ERN_MAX_POOL_H
#define ERN_MAX_POOL_H

#include "common.h"
#include "sliding_window.h"

namespace ern {

/// Max pool of one or more frames.
/// @tparam K    kernel size (K x K window)
/// @tparam S    stride
/// @tparam H    input height
/// @tparam W    input width
/// @tparam C    channels
/// @tparam PE   channels per beat, in and out (divides C)
/// @tparam BITS width of one unsigned code
/// @param in     H*W*C/PE beats per frame
/// @param out    HO*WO*C/PE beats per frame
/// @param frames number of frames this call processes
template <unsigned K, unsigned S, unsigned H, unsigned W, unsigned C, unsigned PE, unsigned BITS>
void max_pool(hls::stream<ap_uint<PE * BITS> >& in, hls::stream<ap_uint<PE * BITS> >& out, unsigned frames) {
    static_assert(C % PE == 0, "max_pool: PE must divide C");
    for (unsigned f = 0; f < frames; f++) {
        detail::window_frame<K, S, 0, H, W, C / PE, PE, BITS, true>(in, out, std::integral_constant<bool, K == 1>());
    }
}

}  // namespace ern

#endif  // ERN_MAX_POOL_H
