// Test bench of hls/lib/axi_stream.h.
// axi_stream_in:  In: bytes (frames * WORDS * AXI_BITS/8: each frame's bytes, padded to whole
//                 words). Out: pixels (frames*PIXELS*C bytes, PE per beat).
// axi_stream_out: In: x (frames*C integers). Out: data (frames*WORDS*LANES lanes), last
//                 (frames*WORDS TLAST bits), keep_ok (1 when every TKEEP/TSTRB was all ones).
#ifndef ERN_TB_AXI_STREAM
#define ERN_TB_AXI_STREAM
#include "tb_common.h"
#include "axi_stream.h"

template <unsigned PIXELS, unsigned C, unsigned AXI_BITS, unsigned PE>
int run_axi_stream_in(const std::string& dir, unsigned frames) {
    constexpr unsigned BYTES = AXI_BITS / 8;
    constexpr unsigned WORDS = ern::ceil_div(PIXELS * C, BYTES);
    const tb::Values bytes = tb::read_values(dir, "bytes");
    tb::expect_size(bytes, size_t(frames) * WORDS * BYTES, "bytes");
    hls::stream<ern::axis_word<AXI_BITS> > in("in");
    hls::stream<ap_uint<PE * 8> > out("out");
    for (size_t w = 0; w < size_t(frames) * WORDS; w++) {
        ern::axis_word<AXI_BITS> word;
        for (unsigned b = 0; b < BYTES; b++) word.data(8 * b + 7, 8 * b) = ap_uint<8>(bytes[w * BYTES + b]);
        word.keep = -1;
        word.strb = -1;
        word.last = w + 1 == size_t(frames) * WORDS;
        in.write(word);
    }
    ern::axi_stream_in<PIXELS, C, AXI_BITS, PE>(in, out, frames);
    tb::expect_empty(in, "in");
    tb::write_values(dir, "pixels", tb::pop<PE, 8, false>(out, size_t(frames) * PIXELS * (C / PE), "pixels"));
    tb::expect_empty(out, "out");
    return 0;
}

template <unsigned C, unsigned PE, unsigned IN_BITS, unsigned AXI_BITS, unsigned LANE_BITS, bool LAST_PER_FRAME>
int run_axi_stream_out(const std::string& dir, unsigned frames) {
    constexpr unsigned LANES = AXI_BITS / LANE_BITS;
    constexpr unsigned WORDS = ern::ceil_div(C, LANES);
    const tb::Values x = tb::read_values(dir, "x");
    tb::expect_size(x, size_t(frames) * C, "x");
    hls::stream<ap_uint<PE * IN_BITS> > in("in");
    hls::stream<ern::axis_word<AXI_BITS> > out("out");
    tb::push<PE, IN_BITS>(in, x);
    ern::axi_stream_out<C, PE, IN_BITS, AXI_BITS, LANE_BITS, LAST_PER_FRAME>(in, out, frames);
    tb::expect_empty(in, "in");
    tb::Values data, last, keep_ok(1, 1);
    for (size_t w = 0; w < size_t(frames) * WORDS; w++) {
        if (out.empty()) tb::fail("out: only " + std::to_string(w) + " words");
        const ern::axis_word<AXI_BITS> word = out.read();
        for (unsigned l = 0; l < LANES; l++) data.push_back(tb::lane<LANE_BITS, true>(word.data, l));
        last.push_back(word.last.to_int());
        if (word.keep != ap_uint<AXI_BITS / 8>(-1) || word.strb != ap_uint<AXI_BITS / 8>(-1)) keep_ok[0] = 0;
    }
    tb::expect_empty(out, "out");
    tb::write_values(dir, "data", data);
    tb::write_values(dir, "last", last);
    tb::write_values(dir, "keep_ok", keep_ok);
    return 0;
}
#endif
