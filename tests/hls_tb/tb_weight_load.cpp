// Test bench of hls/lib/weight_load.h. In: words (the weight image, one AXI word per value).
// Out: w, every element w[pe][t] as ceil(W / 64) values of 64 bits, low first, in [pe][t] order.
#ifndef ERN_TB_WEIGHT_LOAD
#define ERN_TB_WEIGHT_LOAD
#include "tb_common.h"
#include "weight_load.h"

template <unsigned PE, unsigned TILES, unsigned W, unsigned AXI_BITS>
int run_weight_load(const std::string& dir, unsigned frames) {
    (void)frames;  // one load; no frames
    const tb::Values words = tb::read_values(dir, "words");
    tb::expect_size(words, ern::weight_load_words<PE, TILES, W, AXI_BITS>(), "words");
    hls::stream<ern::axis_word<AXI_BITS> > in("in");
    for (size_t i = 0; i < words.size(); i++) {
        ern::axis_word<AXI_BITS> beat;
        beat.data = ap_uint<AXI_BITS>((unsigned long long)words[i]);
        beat.keep = -1;
        beat.strb = -1;
        beat.last = i == words.size() - 1;
        in.write(beat);
    }
    static ap_uint<W> w[PE][TILES];
    ern::load_weights<PE, TILES, W, AXI_BITS>(in, w);
    tb::expect_empty(in, "in");
    constexpr unsigned CHUNKS = (W + 63) / 64;
    tb::Values out;
    for (unsigned p = 0; p < PE; p++)
        for (unsigned t = 0; t < TILES; t++)
            for (unsigned c = 0; c < CHUNKS; c++) {
                const unsigned hi = (c + 1) * 64 < W ? (c + 1) * 64 - 1 : W - 1;
                out.push_back((long long)ap_uint<64>(w[p][t](hi, c * 64)).to_uint64());
            }
    tb::write_values(dir, "w", out);
    return 0;
}
#endif
