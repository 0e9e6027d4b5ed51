// Shared helpers of the ERN HLS layer library: widths, lane packing, popcount.
//
// Stream convention (hls/lib/README.md): a feature map H x W x C travels as, for every pixel in
// raster order, C / F beats ("folds") of F channels each; channel c of a pixel is lane c % F of
// beat c / F, and lane i of a beat occupies bits [i*BITS, (i+1)*BITS) of an ap_uint<F*BITS>
// word. Signed values are stored in their lanes as two's complement.
#ifndef ERN_COMMON_H
#define ERN_COMMON_H

#include <ap_int.h>
#include <hls_stream.h>

// C-simulation fast paths. Outside synthesis (g++ / clang C-simulation), a few leaf helpers
// (popcount here, the MVU's bit planes and masked sums in mvu.h) compute the same values with
// native integers instead of bit loops over ap_uint: the bit loops made the C-simulation of a
// whole network ~5x slower. Define ERN_NO_CSIM_FAST to C-simulate the synthesised code paths
// instead (tests/test_csim.py runs a network both ways and requires identical results). The
// clocked C-simulation (-DERN_CLOCKED_SIM) always runs the synthesised paths.
#if !defined(__SYNTHESIS__) && !defined(ERN_NO_CSIM_FAST) && !defined(ERN_CLOCKED_SIM) && defined(__GNUC__)
#define ERN_CSIM_FAST 1
#endif

// ERN_PIPELINE_ITER(II): the first statement of every `#pragma HLS PIPELINE` loop body. In the
// clocked C-simulation (hls/fifo_sim/clocked_stream.h, included first through dataflow.h) it
// starts the iteration no earlier than II cycles after the previous one; everywhere else
// (Vitis HLS, plain and threaded C-simulation) it is nothing.
#if defined(ERN_CLOCKED_SIM) && !defined(ERN_CLOCKED_STREAM_H)
#error "the clocked C-simulation needs dataflow.h (or clocked_stream.h) included before the hls/lib headers"
#endif
#ifndef ERN_PIPELINE_ITER
#define ERN_PIPELINE_ITER(II)
#endif

namespace ern {

/// Smallest b with 2^b >= x (clog2(0) = clog2(1) = 0).
constexpr unsigned clog2(unsigned long long x) {
    return x <= 1 ? 0u : 1u + clog2((x + 1) / 2);
}

/// Bits of an unsigned integer that holds 0..max (at least 1).
constexpr unsigned unsigned_bits(unsigned long long max) {
    return max == 0 ? 1u : clog2(max + 1);
}

/// Bits of a two's-complement integer that holds every value of lo..hi (lo <= hi; at least 1).
/// Sizes loop-carried counters from their template-computed ranges (narrow registers and
/// comparators keep II = 1 at the target clock).
constexpr unsigned signed_bits(long long lo, long long hi, unsigned bits = 1) {
    return (lo >= -(1ll << (bits - 1)) && hi <= (1ll << (bits - 1)) - 1) ? bits : signed_bits(lo, hi, bits + 1);
}

/// Number of thresholds of a BITS-wide code: 2^BITS - 1.
constexpr unsigned levels(unsigned bits) {
    return (1u << bits) - 1u;
}

/// Ceiling division.
constexpr unsigned long long ceil_div(unsigned long long a, unsigned long long b) {
    return (a + b - 1) / b;
}

/// Lane `i` of a packed word, as raw bits.
/// @tparam BITS width of one lane
/// @tparam N    width of the word
template <unsigned BITS, int N>
inline ap_uint<BITS> get_lane(const ap_uint<N>& word, unsigned i) {
#pragma HLS INLINE
    return word(i * BITS + BITS - 1, i * BITS);
}

/// Overwrite lane `i` of a packed word with the low BITS bits of `value`.
/// @tparam BITS width of one lane
/// @tparam N    width of the word
/// @tparam V    type of the value (any ap_int / ap_uint)
template <unsigned BITS, int N, typename V>
inline void set_lane(ap_uint<N>& word, unsigned i, const V& value) {
#pragma HLS INLINE
    word(i * BITS + BITS - 1, i * BITS) = ap_uint<BITS>(value);
}

/// Lane `i` of a packed word as an integer value, widened by one bit so that signed and
/// unsigned lanes share one signed type.
/// @tparam BITS   width of one lane
/// @tparam SIGNED true: the lane is two's complement; false: unsigned
/// @tparam N      width of the word
template <unsigned BITS, bool SIGNED, int N>
inline ap_int<BITS + 1> lane_value(const ap_uint<N>& word, unsigned i) {
#pragma HLS INLINE
    const ap_uint<BITS> raw = get_lane<BITS>(word, i);
    if (SIGNED) {
        const ap_int<BITS> s = raw;  // reinterpret the bits
        return s;
    }
    return raw;
}

/// Number of set bits, as an adder tree (no DSP). (C-simulation fast path: the compiler's
/// popcount, 64 bits at a time.)
/// @tparam N width of the input
template <int N>
inline ap_uint<unsigned_bits(N)> popcount(const ap_uint<N>& x) {
#pragma HLS INLINE
#ifdef ERN_CSIM_FAST
    unsigned total = 0;
    for (int lo = 0; lo < N; lo += 64) {
        const int hi = lo + 63 < N - 1 ? lo + 63 : N - 1;
        total += unsigned(__builtin_popcountll(x(hi, lo).to_uint64()));
    }
    return ap_uint<unsigned_bits(N)>(total);
#else
    ap_uint<unsigned_bits(N)> count = 0;
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        count += x[i];
    }
    return count;
#endif
}

/// Multi-threshold of one value: #{j : direction * value >= thresholds[j]}. The thresholds of
/// a row are ascending, but the count does not rely on it.
/// @tparam NT      number of thresholds (2^out_bits - 1)
/// @tparam OUT_BITS width of the code
/// @tparam TH_BITS width of the signed thresholds
/// @tparam VW      width of the signed value
template <unsigned NT, unsigned OUT_BITS, unsigned TH_BITS, int VW>
inline ap_uint<OUT_BITS> threshold_code(const ap_int<VW>& value, const ap_int<TH_BITS> thresholds[NT],
                                        const ap_int<2>& direction) {
#pragma HLS INLINE
    const ap_int<VW + 1> v = direction < 0 ? ap_int<VW + 1>(-value) : ap_int<VW + 1>(value);
    ap_uint<OUT_BITS> code = 0;
    for (unsigned j = 0; j < NT; j++) {
#pragma HLS UNROLL
        if (v >= thresholds[j]) code++;
    }
    return code;
}

}  // namespace ern

#endif  // ERN_COMMON_H
