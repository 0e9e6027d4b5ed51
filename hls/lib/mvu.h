// Matrix-vector unit: binary (or bit-plane) weights x unsigned multi-bit activations
// (host/FORMAT.md `Conv`).
//
// For each input vector (one im2col row of MW columns) it computes MH dot products
//   acc[o] = sum_col W[o][col] * a[col],  W in {-1,+1}, a in 0 .. 2^IN_BITS - 1,
// folded over PE rows and SIMD columns at a time: NF = MH/PE neuron folds, SF = MW/SIMD
// synapse folds, one (nf, sf) tile per cycle, NF*SF cycles per vector (II=1).
//
// No multiplier: with a = sum_b 2^b a_b over its bit planes a_b in {0,1} and the weight bit
// w = (W + 1)/2 (bit 1 = +1),
//   sum_s W_s a_s = sum_b 2^b (2*popcount(w & a_b) - popcount(a_b))
//                 = 2 * sum_b 2^b popcount(w & a_b)  -  sum_s a_s,
// an AND/popcount per plane and PE, shifts and adds; the activation sum sum_s a_s is shared by
// all PEs. (The XNOR form of the {-1,+1} decomposition is the same identity with the activation
// planes read as +-1.)
//
// Multi-bit weights (W_BITS = B planes, the {-1,+1} decomposition of docs/ern.md):
//   W = sum_b 2^(B-1-b) m_b s_b,  s_b in {-1,+1}, m_b in {0,1} (m_0 = 1),
// so a B-bit x IN_BITS-bit layer is B*IN_BITS weighted binary branches, plane b giving
//   sum_s m_b,s s_b,s a_s = 2 * sum_p 2^p popcount(w_b & m_b & a_p) - sum_p 2^p popcount(m_b & a_p).
// Without masks (MASKED = false: every weight has all B planes) the second term is the shared
// activation sum; with masks (heterogeneous binarization: per-weight bit counts 1..B) it is a
// masked activation sum per PE and plane.
// Weights equal to 0 (ZEROS: ternary {-1, 0, +1} for B = 1, Brevitas' narrow 2-bit weights) carry
// one more per-weight mask, the nonzero mask z, which masks every plane (plane 0 included):
//   sum_s z_s m_b,s s_b,s a_s = 2 * sum_p 2^p popcount(w_b & m_b & z & a_p) - sum_p 2^p popcount(m_b & z & a_p),
// the masked branch above with m_b & z as the mask (a zero weight contributes nothing).
//
// In:  SF beats per vector, SIMD activations of IN_BITS each (lane s = column sf*SIMD + s). After
//      a sliding_window with the same SIMD this is exactly the (ky, kx, c) im2col order.
// Out: NF * PE/OUT_PE beats per vector, OUT_PE lanes (lane l of beat nf*PE/OUT_PE + j = output
//      channel nf*PE + j*OUT_PE + l): mvu_threshold: OUT_BITS-wide codes; mvu_accumulate:
//      ACC_BITS-wide two's complement sums. OUT_PE = PE (the default) writes a neuron fold's PE
//      results in one beat; OUT_PE < PE serializes them over the next fold's cycles (an output
//      serializer: a PE-lane register and a PE/OUT_PE-way mux), which is cheaper than a wide
//      FIFO plus a width converter when the consumer reads fewer lanes (an Add, a Threshold).
// Weights: weights[pe][nf*SF + sf] bit b*SIMD + s = sign bit of plane b of W[nf*PE + pe][sf*SIMD + s]
// (1 = +1; B = 1: bit s, the sign), and with MASKED bit (B + b - 1)*SIMD + s = its mask of plane
// b >= 1, and with ZEROS bit (B + (MASKED ? B - 1 : 0))*SIMD + s = its nonzero mask (the last
// field): one word of mvu_weight_words(B, MASKED, ZEROS) * SIMD bits per tile. The caller partitions
// weights (and thresholds, direction) completely along dim 1 (PE).
// With NF > 1 the SF beats of a vector are kept in an input buffer and replayed for every
// neuron fold, so each vector is read once.
#ifndef ERN_MVU_H
#define ERN_MVU_H

#include "common.h"

namespace ern {

/// Width of the signed accumulator that holds any dot product of MW columns of IN_BITS-wide
/// unsigned activations with W_BITS-plane weights: |acc| <= MW * (2^IN_BITS - 1) * (2^W_BITS - 1).
constexpr unsigned mvu_acc_bits(unsigned mw, unsigned in_bits, unsigned w_bits = 1) {
    return unsigned_bits((unsigned long long)mw * levels(in_bits) * levels(w_bits)) + 1;
}

/// SIMD-bit fields per weight word: B sign planes, B - 1 masks when MASKED, and the nonzero
/// mask when ZEROS (the last field).
constexpr unsigned mvu_weight_words(unsigned w_bits, bool masked, bool zeros = false) {
    return w_bits + (masked ? w_bits - 1 : 0) + (zeros ? 1 : 0);
}

namespace detail {

/// Bit plane b of a beat of SIMD lanes of IN_BITS: bit s = bit b of lane s.
template <unsigned SIMD, unsigned IN_BITS>
inline ap_uint<SIMD> bit_plane(const ap_uint<SIMD * IN_BITS>& x, unsigned b) {
#pragma HLS INLINE
#ifdef ERN_CSIM_FAST
    if (SIMD * IN_BITS <= 64) {  // C-simulation fast path (common.h)
        const unsigned long long raw = x.to_uint64() >> b;
        unsigned long long bits = 0;
        for (unsigned s = 0; s < SIMD; s++) bits |= ((raw >> (s * IN_BITS)) & 1ull) << s;
        return ap_uint<SIMD>(bits);
    }
#endif
    ap_uint<SIMD> plane;
    for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
        plane[s] = x[s * IN_BITS + b];
    }
    return plane;
}

/// sum_s a_s of one beat, from its bit planes.
template <unsigned SIMD, unsigned IN_BITS>
inline ap_uint<unsigned_bits(SIMD * levels(IN_BITS))> activation_sum(const ap_uint<SIMD> planes[IN_BITS]) {
#pragma HLS INLINE
    ap_uint<unsigned_bits(SIMD * levels(IN_BITS))> sum = 0;
    for (unsigned b = 0; b < IN_BITS; b++) {
#pragma HLS UNROLL
        sum += ap_uint<unsigned_bits(SIMD * levels(IN_BITS))>(popcount<SIMD>(planes[b])) << b;
    }
    return sum;
}

/// sum_b 2^b popcount(w & a_b): the dot product of the weight bits with the activations.
template <unsigned SIMD, unsigned IN_BITS>
inline ap_uint<unsigned_bits(SIMD * levels(IN_BITS))> masked_sum(const ap_uint<SIMD>& w,
                                                                 const ap_uint<SIMD> planes[IN_BITS]) {
#pragma HLS INLINE
#ifdef ERN_CSIM_FAST
    if (SIMD <= 64) {  // C-simulation fast path (common.h)
        const unsigned long long wb = w.to_uint64();
        unsigned long long total = 0;
        for (unsigned b = 0; b < IN_BITS; b++)
            total += (unsigned long long)__builtin_popcountll(wb & planes[b].to_uint64()) << b;
        return ap_uint<unsigned_bits(SIMD * levels(IN_BITS))>(total);
    }
#endif
    ap_uint<unsigned_bits(SIMD * levels(IN_BITS))> sum = 0;
    for (unsigned b = 0; b < IN_BITS; b++) {
#pragma HLS UNROLL
        const ap_uint<SIMD> hit = w & planes[b];
        sum += ap_uint<unsigned_bits(SIMD * levels(IN_BITS))>(popcount<SIMD>(hit)) << b;
    }
    return sum;
}

/// Next input beat of the MVU loop: read from the stream during the first neuron fold (and
/// kept for the others when NF > 1), replayed from the buffer afterwards.
template <unsigned SF, unsigned NF, int WIDTH>
inline ap_uint<WIDTH> mvu_input(hls::stream<ap_uint<WIDTH> >& in, ap_uint<WIDTH> inbuf[SF], unsigned sf, unsigned nf) {
#pragma HLS INLINE
    ap_uint<WIDTH> x;
    if (nf == 0) {
        x = in.read();
        if (NF > 1) inbuf[sf] = x;
    } else {
        x = inbuf[sf];
    }
    return x;
}

/// One (nf, sf) tile: acc[pe] (+)= sum_s W[pe][s] a[s] for the PE rows of the current neuron
/// fold; `first` starts a new sum (sf == 0).
/// @tparam SIMD    columns per cycle
/// @tparam PE      rows per cycle
/// @tparam IN_BITS width of the unsigned activations
/// @tparam W_BITS  weight planes B (1: +-1 weights)
/// @tparam MASKED  planes 1..B-1 carry per-weight masks
/// @tparam ZEROS   a per-weight nonzero mask (the last field) masks every plane: 0 weights
/// @tparam TILES   weight words per PE (NF*SF)
/// @tparam AW      accumulator width
template <unsigned SIMD, unsigned PE, unsigned IN_BITS, unsigned W_BITS, bool MASKED, bool ZEROS, unsigned TILES,
          int AW>
inline void mvu_tile(const ap_uint<SIMD * IN_BITS>& x,
                     const ap_uint<SIMD * mvu_weight_words(W_BITS, MASKED, ZEROS)> weights[PE][TILES], unsigned tile,
                     bool first, ap_int<AW> acc[PE]) {
#pragma HLS INLINE
    // one tile's contribution: |sum| <= SIMD * (2^IN_BITS - 1) * (2^W_BITS - 1), and the
    // doubled popcount sum of a plane before its activation sum is subtracted
    constexpr unsigned TW = unsigned_bits(SIMD * levels(IN_BITS) * levels(W_BITS)) + 2;
    ap_uint<SIMD> planes[IN_BITS];
#pragma HLS ARRAY_PARTITION variable=planes complete
    for (unsigned b = 0; b < IN_BITS; b++) {
#pragma HLS UNROLL
        planes[b] = bit_plane<SIMD, IN_BITS>(x, b);
    }
    const ap_int<TW> asum = activation_sum<SIMD, IN_BITS>(planes);
    for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
        // field of the nonzero mask (0 without ZEROS: keeps the unused range inside the word)
        constexpr unsigned ZF = ZEROS ? mvu_weight_words(W_BITS, MASKED) : 0;
        const ap_uint<SIMD * mvu_weight_words(W_BITS, MASKED, ZEROS)> word = weights[pe][tile];
        ap_uint<SIMD> nonzero = ~ap_uint<SIMD>(0);
        if (ZEROS) nonzero = word((ZF + 1) * SIMD - 1, ZF * SIMD);
        ap_int<TW> contribution = 0;
        for (unsigned b = 0; b < W_BITS; b++) {
#pragma HLS UNROLL
            const ap_uint<SIMD> sign = word((b + 1) * SIMD - 1, b * SIMD);
            ap_int<TW> plane;
            if ((MASKED && b > 0) || ZEROS) {  // only the weights that have plane b count, on both sides
                ap_uint<SIMD> mask = nonzero;
                if (MASKED && b > 0) mask &= ap_uint<SIMD>(word((W_BITS + b) * SIMD - 1, (W_BITS + b - 1) * SIMD));
                plane = (ap_int<TW>(masked_sum<SIMD, IN_BITS>(sign & mask, planes)) << 1) -
                        ap_int<TW>(masked_sum<SIMD, IN_BITS>(mask, planes));
            } else {
                plane = (ap_int<TW>(masked_sum<SIMD, IN_BITS>(sign, planes)) << 1) - asum;
            }
            contribution += plane << (W_BITS - 1 - b);  // plane b weighs 2^(B-1-b)
        }
        acc[pe] = (first ? ap_int<AW>(0) : acc[pe]) + contribution;
    }
}

/// Advance the fold counters by one tile.
template <unsigned SF, unsigned NF>
inline void mvu_advance(unsigned& sf, unsigned& nf, unsigned& tile) {
#pragma HLS INLINE
    tile++;
    if (++sf == SF) {
        sf = 0;
        if (++nf == NF) {
            nf = 0;
            tile = 0;
        }
    }
}

/// The output side: one neuron fold's PE lanes leave as BEATS = PE/OUT_PE beats of OUT_PE lanes,
/// one per loop iteration, while the next fold accumulates. `load` takes a fold's word, `step`
/// writes the next pending beat (called every iteration), `flush` the rest at the end of a
/// frame. BEATS <= SF (checked by MvuShape) empties the register before the next load.
template <unsigned PE, unsigned OUT_PE, unsigned BITS>
struct OutputSerializer {
    static constexpr unsigned BEATS = PE / OUT_PE;
    ap_uint<PE * BITS> word;
    unsigned next = BEATS;  // index of the next beat to write; BEATS: nothing pending

    void load(const ap_uint<PE * BITS>& w) {
#pragma HLS INLINE
        word = w;
        next = 0;
    }
    void step(hls::stream<ap_uint<OUT_PE * BITS> >& out) {
#pragma HLS INLINE
        if (next < BEATS) {
            out.write(word.range((next + 1) * OUT_PE * BITS - 1, next * OUT_PE * BITS));
            next++;
        }
    }
    void flush(hls::stream<ap_uint<OUT_PE * BITS> >& out) {
        for (unsigned i = 1; i < BEATS; i++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            step(out);
        }
    }
};

/// Compile-time checks shared by both output modes.
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IN_BITS, unsigned W_BITS, bool MASKED,
          unsigned OUT_PE, bool ZEROS = false>
struct MvuShape {
    static_assert(MW % SIMD == 0, "mvu: SIMD must divide the matrix width");
    static_assert(MH % PE == 0, "mvu: PE must divide the matrix height");
    static_assert(IN_BITS >= 1 && IN_BITS <= 8, "mvu: IN_BITS must be 1..8");
    static_assert(W_BITS >= 1 && W_BITS <= 3, "mvu: W_BITS must be 1..3");
    static_assert(!MASKED || W_BITS > 1, "mvu: masks need W_BITS >= 2 (plane 0 is never masked)");
    static_assert(OUT_PE >= 1 && PE % OUT_PE == 0, "mvu: OUT_PE must divide PE");
    static_assert(PE / OUT_PE <= MW / SIMD, "mvu: PE/OUT_PE output beats must fit in the SF cycles of a fold");
    static constexpr unsigned SF = MW / SIMD;    ///< synapse folds (beats per vector)
    static constexpr unsigned NF = MH / PE;      ///< neuron folds (output beats per vector)
    static constexpr unsigned TILES = NF * SF;   ///< weight words per PE
    static constexpr unsigned AW = mvu_acc_bits(MW, IN_BITS, W_BITS);  ///< accumulator width
};

/// The thresholds argument of the raw flavour (mvu_accumulate): none.
struct NoThresholds {};

/// What a matrix-vector-threshold unit writes per row: the code #{j : direction*acc >= thresholds[j]}.
/// The params arrive as the arrays the caller declared and reshaped or partitioned (a `[PE][NF][NT]`
/// array parameter is a pointer to its `[NF][NT]` rows in C++), indexed here with the PE lane and
/// fold, so the tool sees plain array accesses it can map onto the caller's memories.
/// @tparam LANE_BITS width of the code (OUT_BITS)
/// @tparam NF        neuron folds
/// @tparam NT        thresholds per row
/// @tparam TH_BITS   width of the signed thresholds (int: deduced from ap_int's own parameter)
/// @tparam ACC       accumulator type
template <unsigned LANE_BITS, unsigned NF, unsigned NT, int TH_BITS, typename ACC>
inline ap_uint<LANE_BITS> mvu_lane(const ACC& acc, const ap_int<TH_BITS> thresholds[][NF][NT],
                                   const ap_int<2> direction[][NF], unsigned pe, unsigned nf) {
#pragma HLS INLINE
    return threshold_code<NT, LANE_BITS, TH_BITS>(acc, thresholds[pe][nf], direction[pe][nf]);
}

/// What a raw matrix-vector unit writes per row: the accumulator itself.
/// @tparam LANE_BITS width of the output lane (ACC_BITS; the caller's set_lane truncates to it)
/// @tparam ACC       accumulator type
template <unsigned LANE_BITS, typename ACC>
inline ACC mvu_lane(const ACC& acc, NoThresholds, NoThresholds, unsigned, unsigned) {
#pragma HLS INLINE
    return acc;
}

/// The streaming loop both flavours share: SF input beats per vector (replayed for each of the NF
/// neuron folds), one (nf, sf) tile per cycle, and at each fold's last synapse fold the PE results
/// mvu_lane(acc[pe], thresholds, direction, pe, nf) handed to the output serializer.
/// @tparam TH  the thresholds array (`const ap_int<TH_BITS> [PE][NF][NT]`, as a parameter) or NoThresholds
/// @tparam DIR the direction array (`const ap_int<2> [PE][NF]`, as a parameter) or NoThresholds
template <unsigned MW, unsigned MH, unsigned VECTORS, unsigned SIMD, unsigned PE, unsigned IN_BITS,
          unsigned LANE_BITS, unsigned W_BITS, bool MASKED, unsigned OUT_PE, bool ZEROS, typename TH, typename DIR>
void mvu_stream(hls::stream<ap_uint<SIMD * IN_BITS> >& in, hls::stream<ap_uint<OUT_PE * LANE_BITS> >& out,
                const ap_uint<SIMD * mvu_weight_words(W_BITS, MASKED, ZEROS)> weights[PE][(MH / PE) * (MW / SIMD)],
                TH thresholds, DIR direction, unsigned frames) {
#pragma HLS INLINE
    typedef MvuShape<MW, MH, SIMD, PE, IN_BITS, W_BITS, MASKED, OUT_PE, ZEROS> shape;
    constexpr unsigned SF = shape::SF, NF = shape::NF, TILES = shape::TILES;
    ap_uint<SIMD * IN_BITS> inbuf[SF];
    ap_int<shape::AW> acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete
    OutputSerializer<PE, OUT_PE, LANE_BITS> serializer;

    for (unsigned f = 0; f < frames; f++) {
        unsigned sf = 0, nf = 0, tile = 0;
        for (unsigned i = 0; i < VECTORS * NF * SF; i++) {
#pragma HLS PIPELINE II=1 style=flp
            ERN_PIPELINE_ITER(1)
            const ap_uint<SIMD * IN_BITS> x = mvu_input<SF, NF>(in, inbuf, sf, nf);
            mvu_tile<SIMD, PE, IN_BITS, W_BITS, MASKED, ZEROS, TILES>(x, weights, tile, sf == 0, acc);
            if (sf == SF - 1) {
                ap_uint<PE * LANE_BITS> word = 0;
                for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                    set_lane<LANE_BITS>(word, pe, mvu_lane<LANE_BITS>(acc[pe], thresholds, direction, pe, nf));
                }
                serializer.load(word);
            }
            serializer.step(out);
            mvu_advance<SF, NF>(sf, nf, tile);
        }
        serializer.flush(out);
    }
}

}  // namespace detail

/// Matrix-vector-threshold unit: codes #{j : direction[o]*acc[o] >= thresholds[o][j]}.
/// @tparam MW       matrix width (columns: K*K*C_in)
/// @tparam MH       matrix height (rows: C_out)
/// @tparam VECTORS  input vectors per frame (output pixels HO*WO)
/// @tparam SIMD     columns per cycle (divides MW; C_in after a sliding window)
/// @tparam PE       rows per cycle (divides MH)
/// @tparam IN_BITS  width of the unsigned input activations (1..8)
/// @tparam OUT_BITS width of the output codes (2^OUT_BITS - 1 thresholds per row)
/// @tparam TH_BITS  width of the signed thresholds
/// @tparam W_BITS   weight planes B (1: +-1 weights; default)
/// @tparam MASKED   planes 1..B-1 carry per-weight masks (heterogeneous bit counts)
/// @tparam OUT_PE   output lanes per beat (divides PE; PE/OUT_PE <= SF)
/// @tparam ZEROS    a per-weight nonzero mask masks every plane (ternary -1/0/+1 for W_BITS = 1)
/// @param in         SF = MW/SIMD beats per vector
/// @param out        NF * PE/OUT_PE beats per vector
/// @param weights    [pe][nf*SF + sf]: the planes (and masks) of rows nf*PE+pe, columns sf*SIMD..
/// @param thresholds [pe][nf][j]: threshold j of row nf*PE + pe, ascending in j
/// @param direction  [pe][nf]: +1 or -1 (-1 where the folded BN scale is negative)
/// @param frames     number of frames this call processes
template <unsigned MW, unsigned MH, unsigned VECTORS, unsigned SIMD, unsigned PE, unsigned IN_BITS,
          unsigned OUT_BITS, unsigned TH_BITS, unsigned W_BITS = 1, bool MASKED = false, unsigned OUT_PE = PE,
          bool ZEROS = false>
void mvu_threshold(hls::stream<ap_uint<SIMD * IN_BITS> >& in, hls::stream<ap_uint<OUT_PE * OUT_BITS> >& out,
                   const ap_uint<SIMD * mvu_weight_words(W_BITS, MASKED, ZEROS)> weights[PE][(MH / PE) * (MW / SIMD)],
                   const ap_int<TH_BITS> thresholds[PE][MH / PE][levels(OUT_BITS)],
                   const ap_int<2> direction[PE][MH / PE], unsigned frames) {
    detail::mvu_stream<MW, MH, VECTORS, SIMD, PE, IN_BITS, OUT_BITS, W_BITS, MASKED, OUT_PE, ZEROS>(
        in, out, weights, thresholds, direction, frames);
}

/// Matrix-vector unit emitting the raw accumulators (residual stream, class sums).
/// @tparam MW       matrix width (columns: K*K*C_in)
/// @tparam MH       matrix height (rows: C_out)
/// @tparam VECTORS  input vectors per frame (output pixels HO*WO)
/// @tparam SIMD     columns per cycle (divides MW)
/// @tparam PE       rows per cycle (divides MH)
/// @tparam IN_BITS  width of the unsigned input activations (1..8)
/// @tparam ACC_BITS width of the output lanes (two's complement; the stream's width, which
///                  may be narrower than mvu_acc_bits when the weights bound the sums tighter)
/// @tparam W_BITS   weight planes B (1: +-1 weights; default)
/// @tparam MASKED   planes 1..B-1 carry per-weight masks (heterogeneous bit counts)
/// @tparam OUT_PE   output lanes per beat (divides PE; PE/OUT_PE <= SF)
/// @tparam ZEROS    a per-weight nonzero mask masks every plane (ternary -1/0/+1 for W_BITS = 1)
/// @param in      SF = MW/SIMD beats per vector
/// @param out     NF * PE/OUT_PE beats per vector
/// @param weights [pe][nf*SF + sf]: the planes (and masks) of rows nf*PE+pe, columns sf*SIMD..
/// @param frames  number of frames this call processes
template <unsigned MW, unsigned MH, unsigned VECTORS, unsigned SIMD, unsigned PE, unsigned IN_BITS,
          unsigned ACC_BITS, unsigned W_BITS = 1, bool MASKED = false, unsigned OUT_PE = PE, bool ZEROS = false>
void mvu_accumulate(hls::stream<ap_uint<SIMD * IN_BITS> >& in, hls::stream<ap_uint<OUT_PE * ACC_BITS> >& out,
                    const ap_uint<SIMD * mvu_weight_words(W_BITS, MASKED, ZEROS)> weights[PE][(MH / PE) * (MW / SIMD)],
                    unsigned frames) {
    detail::mvu_stream<MW, MH, VECTORS, SIMD, PE, IN_BITS, ACC_BITS, W_BITS, MASKED, OUT_PE, ZEROS>(
        in, out, weights, detail::NoThresholds(), detail::NoThresholds(), frames);
}

}  // namespace ern

#endif  // ERN_MVU_H
