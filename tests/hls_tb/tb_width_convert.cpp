// Test bench of hls/lib/width_convert.h. In: x (frames*PIXELS*C values). Out: the same values.
#ifndef ERN_TB_WIDTH_CONVERT
#define ERN_TB_WIDTH_CONVERT
#include "tb_common.h"
#include "width_convert.h"

template <unsigned PIXELS, unsigned C, unsigned IN_PE, unsigned OUT_PE, unsigned BITS>
int run_width_convert(const std::string& dir, unsigned frames) {
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * PIXELS * C, "x");
    hls::stream<ap_uint<IN_PE * BITS> > in("in");
    hls::stream<ap_uint<OUT_PE * BITS> > out("out");
    tb::push<IN_PE, BITS>(in, x);
    ern::width_convert<PIXELS, C, IN_PE, OUT_PE, BITS>(in, out, frames);
    tb::expect_empty(in, "in");
    tb::write_values(dir, "out", tb::pop<OUT_PE, BITS, false>(out, size_t(frames) * PIXELS * C / OUT_PE, "out"));
    tb::expect_empty(out, "out");
    return 0;
}
#endif
