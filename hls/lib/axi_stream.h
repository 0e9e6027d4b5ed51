// AXI-Stream adapters at the accelerator's boundary (AXI DMA on the PYNQ-Z2).
//
// axi_stream_in:  the image bytes as the DMA sends them -> one beat per pixel, ap_uint<C*8>
//   (or C/PE beats of PE bytes per pixel: a pixel wider than a word, the flattened image).
//   A frame is H*W*C uint8 bytes in H, W, C order (the host's uint8 image, C-contiguous),
//   packed little-endian into AXI_BITS-wide words: byte i of the frame is byte lane
//   i % (AXI_BITS/8) of word i / (AXI_BITS/8). Each frame starts on a new word; the host pads
//   every frame to a whole number of words (the padding bytes are ignored). TLAST is not read.
// axi_stream_out: the class sums (C lanes of IN_BITS, PE per beat) -> AXI_BITS-wide words of
//   LANE_BITS-wide two's-complement lanes (int32 by default: the host reads an int32 array),
//   class c in lane c % (AXI_BITS/LANE_BITS) of word c / (AXI_BITS/LANE_BITS); the last word of
//   a frame is zero-padded. TLAST is set on the last word of the call (all `frames` frames: one
//   DMA receive per batch) or, with LAST_PER_FRAME, on the last word of every frame.
//
// The AXI word type: with Vitis HLS, ap_axi_sdata.h's ap_axiu<W, 0, 0, 0> (so TKEEP, TSTRB
// and TLAST map to the AXI-Stream side channels); without it (g++ C-simulation with the
// hls4ml ap_types, or when ERN_NO_AP_AXI_SDATA is defined) a struct with the same members.
#ifndef ERN_AXI_STREAM_H
#define ERN_AXI_STREAM_H

#include "common.h"
#include "width_convert.h"

#if !defined(ERN_NO_AP_AXI_SDATA) && defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define ERN_HAVE_AP_AXI_SDATA 1
#endif
#endif

namespace ern {

#ifdef ERN_HAVE_AP_AXI_SDATA
/// One AXI-Stream beat: data, keep, strb, last.
/// @tparam W TDATA width in bits (a multiple of 8)
template <unsigned W>
using axis_word = ap_axiu<W, 0, 0, 0>;
#else
/// One AXI-Stream beat: data, keep, strb, last (the members of ap_axiu<W, 0, 0, 0>).
/// @tparam W TDATA width in bits (a multiple of 8)
template <unsigned W>
struct axis_word {
    ap_uint<W> data;
    ap_uint<W / 8> keep;
    ap_uint<W / 8> strb;
    ap_uint<1> last;
};
#endif

/// AXI-Stream of packed uint8 bytes -> one beat of C bytes per pixel, for one or more frames.
/// @tparam PIXELS   pixels per frame (H*W)
/// @tparam C        channels per pixel (bytes)
/// @tparam AXI_BITS TDATA width (a multiple of 8)
/// @tparam PE       bytes per output beat (divides C; default C: one beat per pixel)
/// @param in     ceil(PIXELS*C*8 / AXI_BITS) words per frame
/// @param out    PIXELS*C/PE beats per frame, channel c of the beat in bits [8c, 8c+8)
/// @param frames number of frames this call processes
template <unsigned PIXELS, unsigned C, unsigned AXI_BITS, unsigned PE = C>
void axi_stream_in(hls::stream<axis_word<AXI_BITS> >& in, hls::stream<ap_uint<PE * 8> >& out, unsigned frames) {
    static_assert(AXI_BITS % 8 == 0, "axi_stream_in: AXI_BITS must be a multiple of 8");
    static_assert(C % PE == 0, "axi_stream_in: PE must divide C");
    constexpr unsigned BYTES = AXI_BITS / 8;
    constexpr unsigned READS = ceil_div(PIXELS * C, BYTES);
    constexpr unsigned WRITES = PIXELS * (C / PE);
    constexpr unsigned TRIPS = READS > WRITES ? READS : WRITES;
    (void)TRIPS;  // only read by the LOOP_TRIPCOUNT pragma
    detail::LaneBuffer<BYTES, PE, 8> buf;
    for (unsigned f = 0; f < frames; f++) {
        buf.clear();
        unsigned reads = READS, writes = WRITES;
        while (writes > 0) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=TRIPS max=TRIPS
            ERN_PIPELINE_ITER(1)
            if (reads > 0 && buf.wants()) {
                buf.push(in.read().data);
                reads--;
            }
            if (buf.ready()) {  // every beat is whole (PE divides C): no partial pop
                out.write(buf.pop());
                writes--;
            }
        }
        // Words past the last pixel hold only padding bytes; the loop above has read them all
        // (the last pixel ends in the last word).
    }
}

/// C integers per frame (PE per beat) -> AXI-Stream of LANE_BITS-wide lanes with TLAST.
/// @tparam C              values per frame (classes)
/// @tparam PE             values per input beat (divides C)
/// @tparam IN_BITS        width of the input lanes (two's complement)
/// @tparam AXI_BITS       TDATA width (a multiple of LANE_BITS)
/// @tparam LANE_BITS      width of one output lane (>= IN_BITS; sign-extended)
/// @tparam LAST_PER_FRAME true: TLAST ends every frame; false: only the last frame of the call
/// @param in     C/PE beats per frame
/// @param out    ceil(C / (AXI_BITS/LANE_BITS)) words per frame
/// @param frames number of frames this call processes
template <unsigned C, unsigned PE, unsigned IN_BITS, unsigned AXI_BITS, unsigned LANE_BITS = 32,
          bool LAST_PER_FRAME = false>
void axi_stream_out(hls::stream<ap_uint<PE * IN_BITS> >& in, hls::stream<axis_word<AXI_BITS> >& out,
                    unsigned frames) {
    static_assert(C % PE == 0, "axi_stream_out: PE must divide C");
    static_assert(AXI_BITS % LANE_BITS == 0, "axi_stream_out: LANE_BITS must divide AXI_BITS");
    static_assert(LANE_BITS >= IN_BITS, "axi_stream_out: LANE_BITS must hold IN_BITS");
    constexpr unsigned LANES = AXI_BITS / LANE_BITS;
    constexpr unsigned READS = C / PE;
    constexpr unsigned WRITES = ceil_div(C, LANES);
    constexpr unsigned TRIPS = READS > WRITES ? READS : WRITES;
    (void)TRIPS;  // only read by the LOOP_TRIPCOUNT pragma
    detail::LaneBuffer<PE, LANES, LANE_BITS> buf;
    for (unsigned f = 0; f < frames; f++) {
        buf.clear();
        unsigned reads = READS, writes = WRITES;
        while (writes > 0) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=TRIPS max=TRIPS
            ERN_PIPELINE_ITER(1)
            if (reads > 0 && buf.wants()) {
                const ap_uint<PE * IN_BITS> x = in.read();
                ap_uint<PE * LANE_BITS> wide = 0;
                for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                    const ap_int<IN_BITS> v = get_lane<IN_BITS>(x, pe);
                    set_lane<LANE_BITS>(wide, pe, ap_int<LANE_BITS>(v));
                }
                buf.push(wide);
                reads--;
            }
            if (buf.ready() || reads == 0) {
                axis_word<AXI_BITS> word;
                word.data = buf.pop();
                word.keep = -1;
                word.strb = -1;
                word.last = (writes == 1) && (LAST_PER_FRAME || f == frames - 1);
                out.write(word);
                writes--;
            }
        }
    }
}

}  // namespace ern

#endif  // ERN_AXI_STREAM_H
