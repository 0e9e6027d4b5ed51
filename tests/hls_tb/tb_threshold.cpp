// Test bench of hls/lib/threshold.h. In: x (frames*PIXELS*C integers), thresholds [PE][NF][NT],
// direction [PE][NF]. Out: codes, channel-last.
#ifndef ERN_TB_THRESHOLD
#define ERN_TB_THRESHOLD
#include "tb_common.h"
#include "threshold.h"

template <unsigned PIXELS, unsigned C, unsigned PE, unsigned IN_BITS, unsigned OUT_BITS, unsigned TH_BITS,
          bool IN_SIGNED>
int run_threshold(const std::string& dir, unsigned frames) {
    constexpr unsigned NF = C / PE, NT = ern::levels(OUT_BITS);
    static ap_int<TH_BITS> thresholds[PE][NF][NT];
    static ap_int<2> direction[PE][NF];
    tb::fill(&thresholds[0][0][0], tb::read_values(dir, "thresholds"), PE * NF * NT, "thresholds");
    tb::fill(&direction[0][0], tb::read_values(dir, "direction"), PE * NF, "direction");
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * PIXELS * C, "x");
    hls::stream<ap_uint<PE * IN_BITS> > in("in");
    hls::stream<ap_uint<PE * OUT_BITS> > out("out");
    tb::push<PE, IN_BITS>(in, x);
    ern::threshold<PIXELS, C, PE, IN_BITS, OUT_BITS, TH_BITS, IN_SIGNED>(in, out, thresholds, direction, frames);
    tb::expect_empty(in, "in");
    tb::write_values(dir, "out", tb::pop<PE, OUT_BITS, false>(out, size_t(frames) * PIXELS * NF, "out"));
    tb::expect_empty(out, "out");
    return 0;
}
#endif
