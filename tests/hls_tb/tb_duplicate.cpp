// Test bench of hls/lib/duplicate.h (2 and 3 outputs). In: x. Out: out0, out1 (, out2).
#ifndef ERN_TB_DUPLICATE
#define ERN_TB_DUPLICATE
#include "tb_common.h"
#include "duplicate.h"

template <unsigned PIXELS, unsigned C, unsigned PE, unsigned BITS, unsigned COPIES>
int run_duplicate(const std::string& dir, unsigned frames) {
    static_assert(COPIES == 2 || COPIES == 3, "2 or 3 copies");
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * PIXELS * C, "x");
    hls::stream<ap_uint<PE * BITS> > in("in"), out[3];
    tb::push<PE, BITS>(in, x);
    if (COPIES == 2) {
        ern::duplicate<PIXELS, C, PE, BITS>(in, out[0], out[1], frames);
    } else {
        ern::duplicate<PIXELS, C, PE, BITS>(in, out[0], out[1], out[2], frames);
    }
    tb::expect_empty(in, "in");
    for (unsigned i = 0; i < COPIES; i++) {
        const std::string name = "out" + std::to_string(i);
        tb::write_values(dir, name, tb::pop<PE, BITS, false>(out[i], size_t(frames) * PIXELS * C / PE, name));
    }
    for (unsigned i = 0; i < 3; i++) tb::expect_empty(out[i], "out" + std::to_string(i));
    return 0;
}
#endif
