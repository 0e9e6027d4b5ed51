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
#ifndef __SYNTHESIS__
#include <cstdio>
#include <cstdlib>
#include <vector>
#endif

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

/// C-simulation guard of the line buffer's DEPENDENCE declarations (window_scan). It numbers the
/// iterations of the loop and keeps, per word of the ring, the iteration that last stored it and
/// the one that last loaded it, and aborts when an access contradicts what the declarations let
/// the scheduler assume:
///   - intra false: no load reads the word stored in the same iteration;
///   - inter WAR false: a store never overwrites a word loaded fewer than WAR_MIN iterations
///     earlier (the WAR distance that the pipeline could reorder is below that);
///   - with ERN_TEST_WINDOW_FALSE_RAW (tests only: the old, wrong `inter false`), no load reads the
///     word stored in the previous iteration.
/// Not synthesized (std::vector, abort): an empty struct there.
/// @tparam SIZE      words in the ring
/// @tparam RAW_FALSE the RAW dependence is declared false too (test only)
template <unsigned SIZE, bool RAW_FALSE>
struct RingGuard {
#ifndef __SYNTHESIS__
    /// Smallest WAR distance (iterations from a load of a word to the next store into it) that the
    /// `inter WAR false` declaration tolerates: a store of a later iteration cannot overtake a
    /// load at least this many iterations older as long as the load is scheduled fewer than
    /// WAR_MIN stages after the store (the loop is a few stages deep: address add, RAM read).
    /// The ring keeps far more: at least 5 iterations over every shape of the tests and ern_tiny.
    static constexpr long long WAR_MIN = 4;
    static constexpr long long NEVER = -(1ll << 40);  // "iteration" of a word not yet accessed
    std::vector<long long> stored, loaded;
    long long iter;
    // (+NEVER: a value, not an odr-use of the static member, in C++14)
    RingGuard() : stored(SIZE, +NEVER), loaded(SIZE, +NEVER), iter(0) {}
    [[noreturn]] static void fail(const char* what, unsigned addr, long long then, long long now) {
        std::fprintf(stderr,
                     "ern::sliding_window line buffer: %s (word %u, accessed in iteration %lld, again in %lld); "
                     "the DEPENDENCE declaration of the ring is wrong for this shape\n",
                     what, addr, then, now);
        std::abort();
    }
    void store(unsigned addr) {
        if (iter - loaded[addr] < WAR_MIN)
            fail("an input beat overwrites a word the window loaded fewer than WAR_MIN iterations ago (declared "
                 "inter WAR false)", addr, loaded[addr], iter);
        stored[addr] = iter;
    }
    void load(unsigned addr) {
        if (stored[addr] == iter)
            fail("the window loads the word stored in the same iteration (declared intra false)", addr, iter, iter);
        if (RAW_FALSE && stored[addr] == iter - 1)
            fail("the window loads the word stored in the previous iteration while the RAW dependence is declared "
                 "false", addr, stored[addr], iter);
        loaded[addr] = iter;
    }
    void next() { iter++; }
#else
    void store(unsigned) {}
    void load(unsigned) {}
    void next() {}
#endif
};

/// The window walk of one frame with the line buffer. REDUCE = false: write every window beat
/// (sliding_window). REDUCE = true: keep a lane-wise running max per channel fold and write it
/// at the last kernel position of each window (max_pool).
///
/// Per iteration (II = 1): the read side stores at most one input beat into the ring, the write
/// side loads at most one word and writes at most one output beat. The read is non-blocking
/// while the write side can proceed (it reads only when `!in.empty()`), so a window that is
/// ahead on its input keeps writing while an upstream burst reader holds its stream, instead
/// of the two taking turns; when the write side has nothing to do, the read blocks (a stall
/// instead of an idle spin: the same cycles in hardware, and a C-simulation that cannot loop
/// forever on a missing input). Which beats are read when never changes a result: the write
/// side only loads words that have arrived (`have`).
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
    static_assert(K >= 1 && S >= 1 && CF >= 1, "window: kernel, stride and folds must be >= 1");
    static_assert(H + 2 * P >= K && W + 2 * P >= K, "window: the kernel does not fit the padded image");
    typedef ap_uint<LANES * BITS> Word;
    constexpr long long HO = window_out_size(H, K, S, P);
    constexpr long long WO = window_out_size(W, K, S, P);
    constexpr unsigned NR = K + S;      // rows in the ring
    constexpr unsigned ROW = W * CF;    // words per row
    constexpr unsigned SIZE = NR * ROW;
    constexpr long long LP = P, LS = S, LK = K, LCF = CF;
    // Typical iterations per frame: the larger of reads and writes (plus the first fill).
    constexpr unsigned READS = H * W * CF;
    constexpr unsigned WRITES = unsigned(HO * WO) * K * K * CF;
    constexpr unsigned TRIPS = READS > WRITES ? READS : WRITES;
    (void)TRIPS;  // only read by the LOOP_TRIPCOUNT pragma

    // The loop-carried control, each counter as narrow as its range (computed from the template
    // parameters): 32-bit counters would put long carry chains and comparators on the II = 1 path.
    // Each counter compares with its last value before it steps, so none needs a bit for the
    // value it would wrap at.
    typedef ap_uint<unsigned_bits(H)> RowCount;          // ry: 0..H (H: the frame is read)
    typedef ap_uint<unsigned_bits(ROW - 1)> RowWord;     // rcol: 0..ROW-1
    typedef ap_uint<unsigned_bits(SIZE - 1)> Addr;       // ring addresses: 0..SIZE-1
    typedef ap_uint<unsigned_bits(2 * SIZE - 2)> AddrSum;  // an address plus at most SIZE-1
    typedef ap_uint<unsigned_bits(HO - 1)> OutRow;       // yo
    typedef ap_uint<unsigned_bits(WO - 1)> OutCol;       // xo
    typedef ap_uint<unsigned_bits(K - 1)> Tap;           // ky, kx
    typedef ap_uint<unsigned_bits(CF - 1)> Fold;         // cf
    typedef ap_uint<unsigned_bits(K * CF - 1)> TapWord;  // kcol = kx*CF + cf
    // Signed, from the padding: kernel row/column 0 starts P before the image.
    typedef ap_int<signed_bits(-LP, HO * LS - LP + LK - 1)> InRow;            // top, iy = top + ky
    typedef ap_int<signed_bits(-LP, (WO - 1) * LS - LP + LK - 1)> InCol;      // left, ix = left + kx
    typedef ap_int<signed_bits(-LP * LCF, ((WO - 1) * LS - LP + LK) * LCF)> InWord;  // left_col, col
    static_assert(S * ROW < SIZE, "window: a ring base plus S rows (or one) must fit AddrSum (0..2*SIZE-2)");
    static_assert(signed_bits(-LP * LCF, ((WO - 1) * LS - LP + LK) * LCF) <= 32 && unsigned_bits(2 * SIZE) <= 32,
                  "window: counters wider than 32 bits (the image or the ring is too large)");

    // The ring, flat: input row r, word c lives at (r mod NR)*ROW + c. Both addresses are kept by
    // additions and wrap-arounds (no multiplication, so no DSP).
    Word buf[SIZE];
    // Dependences of the ring between the read side's store and the write side's load:
    // - intra false (true): in one iteration they never touch the same word: the load reads row
    //   iy >= top, word col, only when (iy, col) lies before the read frontier (ry, rcol) that the
    //   store fills, and the store's word is also that of row ry - NR < top, which no load reads.
    // - inter RAW: TRUE, kept. The load may read the word stored in the previous iteration (the
    //   write side one beat behind the read frontier: 34 times per ern_tiny frame), so the
    //   store must complete before the next iteration's load; declaring it false would let the
    //   scheduler hoist that load and return the old word. The store's address and data are
    //   ready at the start of an iteration, so keeping it costs no II.
    // - inter WAR false (true): the store fills row ry only while ry < top + NR, i.e. into the
    //   slot of a row above the window that no later load reads, at least WAR_MIN iterations
    //   after the last load of that word (RingGuard checks both in C-simulation).
#ifdef ERN_TEST_WINDOW_FALSE_RAW
    // Test only (tests/test_hls_lib.py): the old declaration, so that RingGuard must fire.
#pragma HLS DEPENDENCE variable=buf type=inter dependent=false
    constexpr bool RAW_DECLARED_FALSE = true;
#else
#pragma HLS DEPENDENCE variable=buf type=inter direction=WAR dependent=false
    constexpr bool RAW_DECLARED_FALSE = false;
#endif
#pragma HLS DEPENDENCE variable=buf type=intra dependent=false
    Word acc[CF];  // REDUCE only: running max of the current window, per fold
    RingGuard<SIZE, RAW_DECLARED_FALSE> guard;

    // Read side: the next input beat is word rcol of row ry and goes to buf[waddr].
    RowCount ry = 0;
    RowWord rcol = 0;
    Addr waddr = 0;
    // Write side: output pixel (yo, xo), kernel position (ky, kx), fold cf.
    OutRow yo = 0;
    OutCol xo = 0;
    Tap ky = 0, kx = 0;
    Fold cf = 0;
    InRow top = -LP;                                  // input row of kernel row 0 (yo*S - P)
    Addr top_base = (NR - P % NR) % NR * ROW;         // (top mod NR)*ROW: where row `top` starts
    Addr row_base = top_base;                         // where row top + ky starts
    InCol left = -LP;                                 // input column of kernel column 0 (xo*S - P)
    InWord left_col = -LP * LCF;                      // left * CF
    TapWord kcol = 0;                                 // kx*CF + cf
    bool wdone = false;

    while (ry < H || !wdone) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=TRIPS max=TRIPS
        ERN_PIPELINE_ITER(1)
        const InRow iy = top + ky;
        const InCol ix = left + kx;
        const bool pad = iy < 0 || iy >= int(H) || ix < 0 || ix >= int(W);
        const InWord col = left_col + kcol;
        const bool have = pad || iy < ry || (iy == ry && col < rcol);
        const bool can_write = !wdone && have;
        // The read side may fill row ry once the window has left row ry - NR (the ring's slot).
        const bool can_read = ry < H && ry < top + int(NR);

        if (can_read && (!can_write || !in.empty())) {
            guard.store(waddr);
            buf[waddr] = in.read();
            waddr = waddr == SIZE - 1 ? Addr(0) : Addr(waddr + 1);
            if (rcol == ROW - 1) {
                rcol = 0;
                ry++;
            } else {
                rcol++;
            }
        }
        if (can_write) {
            Word w = 0;
            if (!pad) {
                const Addr addr = row_base + Addr(col);
                guard.load(addr);
                w = buf[addr];
            }
            if (REDUCE) {
                const Word m = (ky == 0 && kx == 0) ? w : lanewise_max<LANES, BITS>(w, acc[cf]);
                if (ky == K - 1 && kx == K - 1) {
                    out.write(m);
                } else {
                    acc[cf] = m;
                }
            } else {
                out.write(w);
            }
            // Step (cf, kx, ky, xo, yo), innermost first.
            if (cf != CF - 1) {
                cf++;
                kcol++;
            } else if (kx != K - 1) {
                cf = 0;
                kx++;
                kcol++;
            } else {
                cf = 0;
                kx = 0;
                kcol = 0;
                if (ky != K - 1) {
                    ky++;
                    const AddrSum next = row_base + AddrSum(ROW);
                    row_base = next >= SIZE ? Addr(next - SIZE) : Addr(next);
                } else {
                    ky = 0;
                    if (xo != WO - 1) {
                        xo++;
                        left += LS;
                        left_col += LS * LCF;
                        row_base = top_base;
                    } else {
                        xo = 0;
                        left = -LP;
                        left_col = -LP * LCF;
                        top += LS;
                        const AddrSum next = top_base + AddrSum(S * ROW);
                        top_base = next >= SIZE ? Addr(next - SIZE) : Addr(next);
                        row_base = top_base;
                        if (yo == HO - 1) {
                            wdone = true;
                        } else {
                            yo++;
                        }
                    }
                }
            }
        }
        guard.next();
    }
}

/// The buffer-free window of a 1x1 kernel without padding: pass the beats of the pixels at
/// (yo*S, xo*S), drop the others. (A 1x1 window is its own max: REDUCE changes nothing.)
template <unsigned S, unsigned H, unsigned W, unsigned CF, int WIDTH>
void window_scan_1x1(hls::stream<ap_uint<WIDTH> >& in, hls::stream<ap_uint<WIDTH> >& out) {
    unsigned x = 0, cf = 0, sy = 0, sx = 0;  // sy = y % S, sx = x % S
    for (unsigned i = 0; i < H * W * CF; i++) {
#pragma HLS PIPELINE II=1 style=flp
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
