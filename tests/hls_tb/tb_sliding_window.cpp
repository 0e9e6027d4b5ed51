// Test bench of hls/lib/sliding_window.h. In: x (frames*H*W*C codes). Out: the window beats'
// lanes (frames*HO*WO*K*K*C: the im2col rows, column (ky*K+kx)*C + c).
#ifndef ERN_TB_SLIDING_WINDOW
#define ERN_TB_SLIDING_WINDOW
#include "tb_common.h"
#include "sliding_window.h"

template <unsigned K, unsigned S, unsigned P, unsigned H, unsigned W, unsigned C, unsigned SIMD, unsigned BITS>
int run_sliding_window(const std::string& dir, unsigned frames) {
    constexpr unsigned HO = ern::window_out_size(H, K, S, P), WO = ern::window_out_size(W, K, S, P);
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * H * W * C, "x");
    hls::stream<ap_uint<SIMD * BITS> > in("in"), out("out");
    tb::push<SIMD, BITS>(in, x);
    ern::sliding_window<K, S, P, H, W, C, SIMD, BITS>(in, out, frames);
    tb::expect_empty(in, "in");
    tb::write_values(dir, "out", tb::pop<SIMD, BITS, false>(out, size_t(frames) * HO * WO * K * K * C / SIMD, "out"));
    tb::expect_empty(out, "out");
    return 0;
}
#endif
