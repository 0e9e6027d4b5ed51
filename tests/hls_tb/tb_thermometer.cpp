// Test bench of hls/lib/thermometer.h. In: x (frames*PIXELS*C bytes, IN per beat), thresholds [PE][NF][NT].
// Out: codes (frames*PIXELS*C*K, channel-last).
#ifndef ERN_TB_THERMOMETER
#define ERN_TB_THERMOMETER
#include "tb_common.h"
#include "thermometer.h"

template <unsigned PIXELS, unsigned C, unsigned K, unsigned PE, unsigned OUT_BITS, unsigned TH_BITS, unsigned IN>
int run_thermometer(const std::string& dir, unsigned frames) {
    constexpr unsigned NF = C * K / PE, NT = ern::levels(OUT_BITS);
    static ap_int<TH_BITS> thresholds[PE][NF][NT];
    tb::fill(&thresholds[0][0][0], tb::read_values(dir, "thresholds"), PE * NF * NT, "thresholds");
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * PIXELS * C, "x");
    hls::stream<ap_uint<IN * 8> > in("in");
    hls::stream<ap_uint<PE * OUT_BITS> > out("out");
    tb::push<IN, 8>(in, x);
    ern::thermometer<PIXELS, C, K, PE, OUT_BITS, TH_BITS, IN>(in, out, thresholds, frames);
    tb::expect_empty(in, "in");
    tb::write_values(dir, "out", tb::pop<PE, OUT_BITS, false>(out, size_t(frames) * PIXELS * NF, "out"));
    tb::expect_empty(out, "out");
    return 0;
}
#endif
