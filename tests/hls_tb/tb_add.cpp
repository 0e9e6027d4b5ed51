// Test bench of hls/lib/add.h. In: a, b (frames*PIXELS*C integers each). Out: a + b (signed
// when either input is).
#ifndef ERN_TB_ADD
#define ERN_TB_ADD
#include "tb_common.h"
#include "add.h"

template <unsigned PIXELS, unsigned C, unsigned PE, unsigned A_BITS, unsigned B_BITS, unsigned OUT_BITS, bool A_SIGNED,
          bool B_SIGNED>
int run_add(const std::string& dir, unsigned frames) {
    const tb::Values a = tb::read_values(dir, "a"), b = tb::read_values(dir, "b");
    tb::expect_size(a, size_t(frames) * PIXELS * C, "a");
    tb::expect_size(b, size_t(frames) * PIXELS * C, "b");
    hls::stream<ap_uint<PE * A_BITS> > in_a("a");
    hls::stream<ap_uint<PE * B_BITS> > in_b("b");
    hls::stream<ap_uint<PE * OUT_BITS> > out("out");
    tb::push<PE, A_BITS>(in_a, a);
    tb::push<PE, B_BITS>(in_b, b);
    ern::add<PIXELS, C, PE, A_BITS, B_BITS, OUT_BITS, A_SIGNED, B_SIGNED>(in_a, in_b, out, frames);
    tb::expect_empty(in_a, "a");
    tb::expect_empty(in_b, "b");
    tb::write_values(dir, "out", tb::pop<PE, OUT_BITS, A_SIGNED || B_SIGNED>(out, size_t(frames) * PIXELS * C / PE, "out"));
    tb::expect_empty(out, "out");
    return 0;
}
#endif
