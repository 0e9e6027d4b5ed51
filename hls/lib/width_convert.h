// Width converter: the same lanes, regrouped from IN_PE to OUT_PE lanes per beat (a producer's
// PE to a consumer's SIMD). Also the core of the AXI-Stream adapters (axi_stream.h).
//
// In:  H x W x C, C/IN_PE beats per pixel of IN_PE lanes (BITS each).
// Out: H x W x C, C/OUT_PE beats per pixel of OUT_PE lanes. Lane order is kept: channel c is
//      lane c % OUT_PE of beat c / OUT_PE.
// One loop reads at most one beat and writes at most one beat per iteration (II=1): a frame
// takes max(reads, writes) cycles (+1 when neither width divides the other).
#ifndef ERN_WIDTH_CONVERT_H
#define ERN_WIDTH_CONVERT_H

#include "common.h"

namespace ern {

/// Greatest common divisor.
constexpr unsigned gcd(unsigned a, unsigned b) {
    return b == 0 ? a : gcd(b, a % b);
}

namespace detail {

/// A buffer of lanes that takes IN lanes at a time and gives OUT lanes at a time, lowest lane
/// first. It holds fewer than OUT lanes before a push, so IN + OUT lanes suffice. Positions are
/// counted in units of G = gcd(IN, OUT) lanes, so a push lands at one of OUT/G fixed offsets
/// (one when IN is a multiple of OUT): a small mux, no barrel shifter.
/// @tparam IN   lanes per push
/// @tparam OUT  lanes per pop
/// @tparam BITS width of one lane
template <unsigned IN, unsigned OUT, unsigned BITS>
struct LaneBuffer {
    static constexpr unsigned G = gcd(IN, OUT);
    static constexpr unsigned SLOTS = OUT / G;  ///< push offsets
    ap_uint<(IN + OUT) * BITS> lanes;
    ap_uint<unsigned_bits((IN + OUT) / G)> units;  ///< valid lanes / G

    void clear() {
#pragma HLS INLINE
        lanes = 0;
        units = 0;
    }
    /// Fewer than OUT lanes held: a push is due.
    bool wants() const {
#pragma HLS INLINE
        return units < SLOTS;
    }
    /// At least OUT lanes held: a pop is possible.
    bool ready() const {
#pragma HLS INLINE
        return units >= SLOTS;
    }
    /// Append IN lanes (only when wants()).
    void push(const ap_uint<IN * BITS>& word) {
#pragma HLS INLINE
        const ap_uint<(IN + OUT) * BITS> wide = word;
        for (unsigned p = 0; p < SLOTS; p++) {
#pragma HLS UNROLL
            if (units == p) lanes |= wide << (p * G * BITS);
        }
        units += IN / G;
    }
    /// Remove the lowest OUT lanes (zero-filled when fewer are held, at the end of a frame).
    ap_uint<OUT * BITS> pop() {
#pragma HLS INLINE
        const ap_uint<OUT * BITS> word = lanes(OUT * BITS - 1, 0);
        lanes >>= OUT * BITS;
        units = units >= SLOTS ? ap_uint<unsigned_bits((IN + OUT) / G)>(units - SLOTS) : ap_uint<unsigned_bits((IN + OUT) / G)>(0);
        return word;
    }
};

}  // namespace detail

/// Regroup the lanes of one or more frames.
/// @tparam PIXELS pixels per frame (H*W)
/// @tparam C      channels
/// @tparam IN_PE  lanes per input beat (divides C)
/// @tparam OUT_PE lanes per output beat (divides C)
/// @tparam BITS   width of one lane
/// @param in     C/IN_PE beats per pixel
/// @param out    C/OUT_PE beats per pixel
/// @param frames number of frames this call processes
template <unsigned PIXELS, unsigned C, unsigned IN_PE, unsigned OUT_PE, unsigned BITS>
void width_convert(hls::stream<ap_uint<IN_PE * BITS> >& in, hls::stream<ap_uint<OUT_PE * BITS> >& out,
                   unsigned frames) {
    static_assert(C % IN_PE == 0 && C % OUT_PE == 0, "width_convert: IN_PE and OUT_PE must divide C");
    constexpr unsigned READS = PIXELS * (C / IN_PE);
    constexpr unsigned WRITES = PIXELS * (C / OUT_PE);
    constexpr unsigned TRIPS = READS > WRITES ? READS : WRITES;
    (void)TRIPS;  // only read by the LOOP_TRIPCOUNT pragma
    detail::LaneBuffer<IN_PE, OUT_PE, BITS> buf;
    for (unsigned f = 0; f < frames; f++) {
        buf.clear();
        unsigned reads = READS, writes = WRITES;
        while (writes > 0) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=TRIPS max=TRIPS
            ERN_PIPELINE_ITER(1)
            if (reads > 0 && buf.wants()) {
                buf.push(in.read());
                reads--;
            }
            if (buf.ready() || reads == 0) {
                out.write(buf.pop());
                writes--;
            }
        }
    }
}

}  // namespace ern

#endif  // ERN_WIDTH_CONVERT_H
