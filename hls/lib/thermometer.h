// Thermometer: the ERN pixel embedding (host/FORMAT.md `Thermometer`).
//
// Each uint8 channel x of a pixel becomes K codes; output channel o reads input channel o / K:
//   out[o] = #{ j : x[o / K] >= thresholds[o][j] }.
// In:  C / IN beats per pixel, ap_uint<IN*8> (channel i*IN + c of the pixel in bits [8c, 8c+8) of
//      beat i). IN = C (the default): one beat per pixel, as an image's colour channels arrive.
//      IN < C: a pixel too wide for one word (a flattened image is one pixel of H*W channels)
//      arrives in folds; IN*K must then be a multiple of PE, so an output beat never needs two
//      input beats.
// Out: C*K / PE beats per pixel, PE codes of OUT_BITS each (lane pe of beat nf = channel nf*PE + pe).
#ifndef ERN_THERMOMETER_H
#define ERN_THERMOMETER_H

#include "common.h"

namespace ern {

/// Pixel embedding of one or more frames.
/// @tparam PIXELS   pixels per frame (H*W)
/// @tparam C        input (colour) channels
/// @tparam K        codes per input channel (output channels = C*K)
/// @tparam PE       output channels per beat (divides C*K)
/// @tparam OUT_BITS width of a code (2^OUT_BITS - 1 thresholds per output channel)
/// @tparam TH_BITS  width of the signed thresholds (values outside 0..255 are allowed)
/// @tparam IN       input channels per beat (divides C; C, or IN*K a multiple of PE)
/// @param in         pixels, C/IN beats per pixel
/// @param out        codes, C*K/PE beats per pixel
/// @param thresholds [pe][nf][j]: threshold j of output channel nf*PE + pe (partition dim 1 and 3)
/// @param frames     number of frames this call processes
template <unsigned PIXELS, unsigned C, unsigned K, unsigned PE, unsigned OUT_BITS, unsigned TH_BITS,
          unsigned IN = C>
void thermometer(hls::stream<ap_uint<IN * 8> >& in, hls::stream<ap_uint<PE * OUT_BITS> >& out,
                 const ap_int<TH_BITS> thresholds[PE][C * K / PE][levels(OUT_BITS)], unsigned frames) {
    static_assert((C * K) % PE == 0, "thermometer: PE must divide C*K");
    static_assert(C % IN == 0 && (IN == C || (IN * K) % PE == 0),
                  "thermometer: IN must divide C, and be C or give whole output beats (IN*K % PE == 0)");
    constexpr unsigned NF = C * K / PE;
    constexpr unsigned BEAT_NF = IN * K / PE;   ///< output beats per input beat
    constexpr unsigned NT = levels(OUT_BITS);
    // Lane pe of fold nf reads input channel (nf*PE + pe) / K. Tracked per lane as a quotient
    // and remainder advanced by PE = Q*K + R per fold: additions only, no divider.
    constexpr unsigned Q = PE / K;
    constexpr unsigned R = PE % K;

    for (unsigned f = 0; f < frames; f++) {
        ap_uint<IN * 8> pixel = 0;
        unsigned nf = 0, sub = 0;
        unsigned chan[PE], rem[PE];
#pragma HLS ARRAY_PARTITION variable=chan complete
#pragma HLS ARRAY_PARTITION variable=rem complete
        for (unsigned i = 0; i < PIXELS * NF; i++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            if (sub == 0) {
                pixel = in.read();
                for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                    chan[pe] = pe / K;
                    rem[pe] = pe % K;
                }
            }
            ap_uint<PE * OUT_BITS> word = 0;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                const ap_uint<8> x = get_lane<8>(pixel, chan[pe]);
                const ap_int<10> v = x;
                set_lane<OUT_BITS>(word, pe, threshold_code<NT, OUT_BITS, TH_BITS>(v, thresholds[pe][nf], ap_int<2>(1)));
                chan[pe] += Q;
                rem[pe] += R;
                if (rem[pe] >= K) {
                    rem[pe] -= K;
                    chan[pe]++;
                }
            }
            out.write(word);
            if (++nf == NF) nf = 0;
            if (++sub == BEAT_NF) sub = 0;
        }
    }
}

}  // namespace ern

#endif  // ERN_THERMOMETER_H
