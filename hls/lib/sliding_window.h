// Sliding-window generator (the im2col of a streaming conv; host/FORMAT.md `Conv`).
//
// In:  H x W x C, C/SIMD beats per pixel of SIMD channels (BITS each), raster order.
// Out: for every output pixel (yo, xo) in raster order, the K*K*C/SIMD beats of its window in
//      (ky, kx, channel fold) order, channels fastest: beat t of a window holds the columns
//      t*SIMD .. t*SIMD+SIMD-1 of the im2col row, column (ky*K + kx)*C + c. Positions outside the
//      image (zero padding P) read 0.
//
// Line buffer: K + S rows of W*C/SIMD words, a ring indexed by input row. One loop reads at
// most one input beat and writes at most one output beat per iteration (II=1), so the unit runs
// in max(reads, writes) cycles plus the fill of the first window: while the K rows of output
// row yo are being read out, the S rows that row yo+1 adds are read in.
// K = 1 without padding (a 1x1 conv with stride S) takes a buffer-free path that only drops
// the pixels a strided 1x1 window never covers.
#ifndef ERN_SLIDING_WINDOW_H
#define ERN_SLIDING_WINDOW_H

#include <type_traits>

#include "common.h"

namespace ern {

/// Output length of a window along one axis.
constexpr unsigned window_out_size(unsigned size, unsigned k, unsigned s, unsigned p) {
    return (size + 2 * p - k) / s + 1;
}

namespace detail {

/// Lane-wise max of two words of LANES unsigned BITS-wide codes.
template <unsigned LANES, unsigned BITS>
inline ap_uint<LANES * BITS> lanewise_max(const ap_uint<LANES * BITS>& a, const ap_uint<LANES * BITS>& b) {
#pragma HLS INLINE
    ap_uint<LANES * BITS> m = 0;
    for (unsigned i = 0; i < LANES; i++) {
#pragma HLS UNROLL
        const ap_uint<BITS> x = get_lane<BITS>(a, i);
        const ap_uint<BITS> y = get_lane<BITS>(b, i);
        set_lane<BITS>(m, i, x > y ? x : y);
    }
    return m;
}

/// The window walk of one frame with the line buffer. REDUCE = false: write every window beat
/// (sliding_window). REDUCE = true: keep a lane-wise running max per channel fold and write it
/// at the last kernel position of each window (max_pool).
/// @tparam K      kernel size
/// @tparam S      stride
/// @tparam P      zero padding on every side
/// @tparam H      input height
/// @tparam W      input width
/// @tparam CF     channel folds per pixel (C / LANES)
/// @tparam LANES  channels per beat
/// @tparam BITS   width of one channel value
/// @tparam REDUCE false: window beats out; true: one lane-wise max per window and fold
template <unsigned K, unsigned S, unsigned P, unsigned H, unsigned W, unsigned CF, unsigned LANES, unsigned BITS,
          bool REDUCE>
void window_scan(hls::stream<ap_uint<LANES * BITS> >& in, hls::stream<ap_uint<LANES * BITS> >& out) {
    static_assert(K >= 1 && S >= 1, "window: kernel and stride must be >= 1");
    static_assert(H + 2 * P >= K && W + 2 * P >= K, "window: the kernel does not fit the padded image");
    typedef ap_uint<LANES * BITS> Word;
    constexpr int HO = window_out_size(H, K, S, P);
    constexpr int WO = window_out_size(W, K, S, P);
    constexpr unsigned NR = K + S;      // rows in the ring
    constexpr unsigned ROW = W * CF;    // words per row
    constexpr int IH = H, IW = W, IP = P, IS = S, IK = K, ICF = CF;
    // Typical iterations per frame: the larger of reads and writes (plus the first fill).
    constexpr unsigned READS = H * W * CF;
    constexpr unsigned WRITES = unsigned(HO * WO) * K * K * CF;
    constexpr unsigned TRIPS = READS > WRITES ? READS : WRITES;
    (void)TRIPS;  // only read by the LOOP_TRIPCOUNT pragma

    constexpr int SIZE = int(NR * ROW);
    // The ring, flat: input row r, word c lives at (r mod NR)*ROW + c. Both addresses below
    // are kept by additions and wrap-arounds (no multiplication, so no DSP).
    Word buf[NR * ROW];
    // A read and a write in one iteration never touch the same word: the write reads a row at
    // or below the window top, the read overwrites row (ry - NR), above it.
#pragma HLS DEPENDENCE variable=buf inter false
#pragma HLS DEPENDENCE variable=buf intra false
    Word acc[CF];  // REDUCE only: running max of the current window, per fold

    // Read side: the next input beat is word rcol of row ry and goes to buf[waddr].
    int ry = 0;
    int rcol = 0;
    int waddr = 0;
    // Write side: output pixel (yo, xo), kernel position (ky, kx), fold cf.
    int yo = 0, xo = 0;
    int ky = 0, kx = 0, cf = 0;
    int top = -IP;                           // input row of kernel row 0 (yo*S - P)
    int top_base = int((NR - P % NR) % NR * ROW);  // (top mod NR)*ROW: where row `top` starts
    int row_base = top_base;                 // where row top + ky starts
    int left = -IP;                          // input column of kernel column 0 (xo*S - P)
    int left_col = -IP * ICF;                // left * CF
    int kcol = 0;                            // kx*CF + cf
    bool wdone = false;

    while (ry < IH || !wdone) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=TRIPS max=TRIPS
        ERN_PIPELINE_ITER(1)
        const int iy = top + ky;
        const int ix = left + kx;
        const bool pad = iy < 0 || iy >= IH || ix < 0 || ix >= IW;
        const int col = pad ? 0 : left_col + kcol;
        const bool have = pad || iy < ry || (iy == ry && col < rcol);
        const bool can_write = !wdone && have;
        const bool can_read = ry < IH && ry < top + int(NR);

        if (can_read) {
            buf[waddr] = in.read();
            if (++waddr == SIZE) waddr = 0;
            if (++rcol == int(ROW)) {
                rcol = 0;
                ry++;
            }
        }
        if (can_write) {
            const Word w = pad ? Word(0) : buf[row_base + col];
            if (REDUCE) {
                const Word m = (ky == 0 && kx == 0) ? w : lanewise_max<LANES, BITS>(w, acc[cf]);
                if (ky == IK - 1 && kx == IK - 1) {
                    out.write(m);
                } else {
                    acc[cf] = m;
                }
            } else {
                out.write(w);
            }
            kcol++;
            if (++cf == ICF) {
                cf = 0;
                if (++kx == IK) {
                    kx = 0;
                    kcol = 0;
                    row_base += int(ROW);
                    if (row_base >= SIZE) row_base -= SIZE;
                    if (++ky == IK) {
                        ky = 0;
                        row_base = top_base;
                        if (++xo == WO) {
                            xo = 0;
                            left = -IP;
                            left_col = -IP * ICF;
                            top += IS;
                            top_base += IS * int(ROW);
                            if (top_base >= SIZE) top_base -= SIZE;
                            row_base = top_base;
                            if (++yo == HO) wdone = true;
                        } else {
                            left += IS;
                            left_col += IS * ICF;
                        }
                    }
                }
            }
        }
    }
}

/// The buffer-free window of a 1x1 kernel without padding: pass the beats of the pixels at
/// (yo*S, xo*S), drop the others. (A 1x1 window is its own max: REDUCE changes nothing.)
template <unsigned S, unsigned H, unsigned W, unsigned CF, int WIDTH>
void window_scan_1x1(hls::stream<ap_uint<WIDTH> >& in, hls::stream<ap_uint<WIDTH> >& out) {
    unsigned x = 0, cf = 0, sy = 0, sx = 0;  // sy = y % S, sx = x % S
    for (unsigned i = 0; i < H * W * CF; i++) {
#pragma HLS PIPELINE II=1
        ERN_PIPELINE_ITER(1)
        const ap_uint<WIDTH> w = in.read();
        if (sy == 0 && sx == 0) out.write(w);
        if (++cf == CF) {
            cf = 0;
            if (++sx == S) sx = 0;
            if (++x == W) {
                x = 0;
                sx = 0;
                if (++sy == S) sy = 0;
            }
        }
    }
}

/// One frame of the window walk; picks the path at compile time (only the one used is
/// instantiated).
template <unsigned K, unsigned S, unsigned P, unsigned H, unsigned W, unsigned CF, unsigned LANES, unsigned BITS,
          bool REDUCE>
inline void window_frame(hls::stream<ap_uint<LANES * BITS> >& in, hls::stream<ap_uint<LANES * BITS> >& out,
                         std::true_type /* K == 1, P == 0 */) {
    window_scan_1x1<S, H, W, CF>(in, out);
}
template <unsigned K, unsigned S, unsigned P, unsigned H, unsigned W, unsigned CF, unsigned LANES, unsigned BITS,
          bool REDUCE>
inline void window_frame(hls::stream<ap_uint<LANES * BITS> >& in, hls::stream<ap_uint<LANES * BITS> >& out,
                         std::false_type) {
    window_scan<K, S, P, H, W, CF, LANES, BITS, REDUCE>(in, out);
}

}  // namespace detail

/// Sliding-window generator over one or more frames.
/// @tparam K    kernel size (K x K window)
/// @tparam S    stride
/// @tparam P    zero padding on every side
/// @tparam H    input height
/// @tparam W    input width
/// @tparam C    channels
/// @tparam SIMD channels per beat, in and out (divides C)
/// @tparam BITS width of one channel value
/// @param in     H*W*C/SIMD beats per frame
/// @param out    HO*WO*K*K*C/SIMD beats per frame (HO = (H + 2P - K)/S + 1, WO likewise)
/// @param frames number of frames this call processes
template <unsigned K, unsigned S, unsigned P, unsigned H, unsigned W, unsigned C, unsigned SIMD, unsigned BITS>
void sliding_window(hls::stream<ap_uint<SIMD * BITS> >& in, hls::stream<ap_uint<SIMD * BITS> >& out,
                    unsigned frames) {
    static_assert(C % SIMD == 0, "sliding_window: SIMD must divide C");
    for (unsigned f = 0; f < frames; f++) {
        detail::window_frame<K, S, P, H, W, C / SIMD, SIMD, BITS, false>(
            in, out, std::integral_constant<bool, K == 1 && P == 0>());
    }
}

}  // namespace ern

#endif  // ERN_SLIDING_WINDOW_H
