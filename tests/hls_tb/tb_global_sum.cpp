// Test bench of hls/lib/global_sum.h. In: x (frames*PIXELS*C integers). Out: frames*C sums.
#ifndef ERN_TB_GLOBAL_SUM
#define ERN_TB_GLOBAL_SUM
#include "tb_common.h"
#include "global_sum.h"

template <unsigned PIXELS, unsigned C, unsigned PE, unsigned IN_BITS, unsigned OUT_BITS, bool IN_SIGNED>
int run_global_sum(const std::string& dir, unsigned frames) {
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * PIXELS * C, "x");
    hls::stream<ap_uint<PE * IN_BITS> > in("in");
    hls::stream<ap_uint<PE * OUT_BITS> > out("out");
    tb::push<PE, IN_BITS>(in, x);
    ern::global_sum<PIXELS, C, PE, IN_BITS, OUT_BITS, IN_SIGNED>(in, out, frames);
    tb::expect_empty(in, "in");
    tb::write_values(dir, "out", tb::pop<PE, OUT_BITS, true>(out, size_t(frames) * C / PE, "out"));
    tb::expect_empty(out, "out");
    return 0;
}
#endif
