// Test bench of hls/lib/max_pool.h. In: x (frames*H*W*C codes). Out: frames*HO*WO*C codes.
#ifndef ERN_TB_MAX_POOL
#define ERN_TB_MAX_POOL
#include "tb_common.h"
#include "max_pool.h"

template <unsigned K, unsigned S, unsigned H, unsigned W, unsigned C, unsigned PE, unsigned BITS>
int run_max_pool(const std::string& dir, unsigned frames) {
    constexpr unsigned HO = ern::window_out_size(H, K, S, 0), WO = ern::window_out_size(W, K, S, 0);
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * H * W * C, "x");
    hls::stream<ap_uint<PE * BITS> > in("in"), out("out");
    tb::push<PE, BITS>(in, x);
    ern::max_pool<K, S, H, W, C, PE, BITS>(in, out, frames);
    tb::expect_empty(in, "in");
    tb::write_values(dir, "out", tb::pop<PE, BITS, false>(out, size_t(frames) * HO * WO * C / PE, "out"));
    tb::expect_empty(out, "out");
    return 0;
}
#endif
