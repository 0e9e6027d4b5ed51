// Test bench of hls/lib/mvu.h, behind a sliding window (hls/lib/sliding_window.h) as a conv
// layer is wired: x (frames*H*W*C codes) -> sliding_window -> mvu_threshold / mvu_accumulate.
// Params: weights [PE][TILES][SIMD * WORDS] bits (WORDS = mvu_weight_words(W_BITS, MASKED, ZEROS): the
// sign planes, then the masks, then the nonzero mask), thresholds [PE][NF][NT], direction [PE][NF].
// Out: frames*HO*WO*COUT codes or sums, channel-last (OUT_PE lanes per beat).
#ifndef ERN_TB_MVU
#define ERN_TB_MVU
#include "tb_common.h"
#include "sliding_window.h"
#include "mvu.h"

template <unsigned K, unsigned S, unsigned P, unsigned H, unsigned W, unsigned C, unsigned COUT, unsigned SIMD,
          unsigned PE, unsigned IN_BITS, unsigned OUT_BITS, unsigned TH_BITS, unsigned W_BITS, bool MASKED,
          unsigned OUT_PE, bool ZEROS>
int run_mvu_threshold(const std::string& dir, unsigned frames) {
    constexpr unsigned HO = ern::window_out_size(H, K, S, P), WO = ern::window_out_size(W, K, S, P);
    constexpr unsigned MW = K * K * C, NF = COUT / PE, TILES = NF * (MW / SIMD), NT = ern::levels(OUT_BITS);
    constexpr unsigned WORD = SIMD * ern::mvu_weight_words(W_BITS, MASKED, ZEROS);
    static ap_uint<WORD> weights[PE][TILES];
    static ap_int<TH_BITS> thresholds[PE][NF][NT];
    static ap_int<2> direction[PE][NF];
    tb::fill_bits<WORD>(&weights[0][0], tb::read_values(dir, "weights"), PE * TILES, "weights");
    tb::fill(&thresholds[0][0][0], tb::read_values(dir, "thresholds"), PE * NF * NT, "thresholds");
    tb::fill(&direction[0][0], tb::read_values(dir, "direction"), PE * NF, "direction");
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * H * W * C, "x");
    hls::stream<ap_uint<SIMD * IN_BITS> > in("in"), window("window");
    hls::stream<ap_uint<OUT_PE * OUT_BITS> > out("out");
    tb::push<SIMD, IN_BITS>(in, x);
    ern::sliding_window<K, S, P, H, W, C, SIMD, IN_BITS>(in, window, frames);
    ern::mvu_threshold<MW, COUT, HO * WO, SIMD, PE, IN_BITS, OUT_BITS, TH_BITS, W_BITS, MASKED, OUT_PE, ZEROS>(
        window, out, weights, thresholds, direction, frames);
    tb::expect_empty(in, "in");
    tb::expect_empty(window, "window");
    tb::write_values(dir, "out", tb::pop<OUT_PE, OUT_BITS, false>(out, size_t(frames) * HO * WO * COUT / OUT_PE, "out"));
    tb::expect_empty(out, "out");
    return 0;
}

template <unsigned K, unsigned S, unsigned P, unsigned H, unsigned W, unsigned C, unsigned COUT, unsigned SIMD,
          unsigned PE, unsigned IN_BITS, unsigned ACC_BITS, unsigned W_BITS, bool MASKED, unsigned OUT_PE, bool ZEROS>
int run_mvu_accumulate(const std::string& dir, unsigned frames) {
    constexpr unsigned HO = ern::window_out_size(H, K, S, P), WO = ern::window_out_size(W, K, S, P);
    constexpr unsigned MW = K * K * C, NF = COUT / PE, TILES = NF * (MW / SIMD);
    constexpr unsigned WORD = SIMD * ern::mvu_weight_words(W_BITS, MASKED, ZEROS);
    static ap_uint<WORD> weights[PE][TILES];
    tb::fill_bits<WORD>(&weights[0][0], tb::read_values(dir, "weights"), PE * TILES, "weights");
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * H * W * C, "x");
    hls::stream<ap_uint<SIMD * IN_BITS> > in("in"), window("window");
    hls::stream<ap_uint<OUT_PE * ACC_BITS> > out("out");
    tb::push<SIMD, IN_BITS>(in, x);
    ern::sliding_window<K, S, P, H, W, C, SIMD, IN_BITS>(in, window, frames);
    ern::mvu_accumulate<MW, COUT, HO * WO, SIMD, PE, IN_BITS, ACC_BITS, W_BITS, MASKED, OUT_PE, ZEROS>(window, out,
                                                                                          weights, frames);
    tb::expect_empty(in, "in");
    tb::expect_empty(window, "window");
    tb::write_values(dir, "out", tb::pop<OUT_PE, ACC_BITS, true>(out, size_t(frames) * HO * WO * COUT / OUT_PE, "out"));
    tb::expect_empty(out, "out");
    return 0;
}
#endif
