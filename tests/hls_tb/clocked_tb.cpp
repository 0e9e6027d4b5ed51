// Small dataflow regions for the clocked C-simulation (tests/test_clocked.py), built with
// -DERN_CLOCKED_SIM. One case per call; each prints the simulator's figures
// (ern::clocked::print_report) and `check=ok` when the data came through intact.
//
//   clocked_tb pc DEPTH N          producer -> FIFO(DEPTH) -> consumer, N beats, both II=1
//   clocked_tb burst DEPTH V       source -> pass-through -> FIFO(DEPTH) -> burst reader
//                                  (SF = 2 reads at nf == 0, then NF*SF = 4 iterations per vector)
//   clocked_tb window FRAMES       ern::sliding_window<3, 1, 1, 14, 14, 64, 32, 2> alone
//   clocked_tb mvu FRAMES          ern::mvu_accumulate<576, 64, 196, 32, 16, 2, 16> alone
//   clocked_tb fork DEPTH N        fork -> {skip FIFO(DEPTH), 4-beat delay line} -> join
#include "dataflow.h"  // first: selects the clocked hls::stream

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "mvu.h"
#include "sliding_window.h"

namespace {

typedef ap_uint<16> Beat;

/// Writes 0, 1, ..., n-1, one per cycle.
void producer(hls::stream<Beat>& out, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
#pragma HLS PIPELINE II=1
        ERN_PIPELINE_ITER(1)
        out.write(Beat(i));
    }
}

/// Reads n beats, one per cycle; counts those out of order.
void consumer(hls::stream<Beat>& in, unsigned n, unsigned& errors) {
    for (unsigned i = 0; i < n; i++) {
#pragma HLS PIPELINE II=1
        ERN_PIPELINE_ITER(1)
        if (in.read() != Beat(i)) errors++;
    }
}

/// Reads a beat and writes it in the same iteration (blocking both ways, like the window while
/// its line buffer has room).
void pass_through(hls::stream<Beat>& in, hls::stream<Beat>& out, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
#pragma HLS PIPELINE II=1
        ERN_PIPELINE_ITER(1)
        out.write(in.read());
    }
}

/// The MVU's access pattern: per vector SF reads in the first neuron fold, NF*SF iterations,
/// one output (the sum of the vector) at the last one.
template <unsigned SF, unsigned NF>
void burst_reader(hls::stream<Beat>& in, hls::stream<Beat>& out, unsigned vectors) {
    unsigned sf = 0, nf = 0;
    Beat sum = 0;
    for (unsigned i = 0; i < vectors * NF * SF; i++) {
#pragma HLS PIPELINE II=1
        ERN_PIPELINE_ITER(1)
        if (nf == 0) sum += in.read();
        if (++sf == SF) {
            sf = 0;
            if (++nf == NF) {
                nf = 0;
                out.write(sum);
                sum = 0;
            }
        }
    }
}

/// Writes every input beat to both outputs in one iteration (hls/lib duplicate.h).
void fork(hls::stream<Beat>& in, hls::stream<Beat>& a, hls::stream<Beat>& b, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
#pragma HLS PIPELINE II=1
        ERN_PIPELINE_ITER(1)
        const Beat x = in.read();
        a.write(x);
        b.write(x);
    }
}

/// A delay line of D beats: reads D beats before its first write (like a window waiting for its
/// first rows), then one in, one out; drains at the end.
template <unsigned D>
void delay_line(hls::stream<Beat>& in, hls::stream<Beat>& out, unsigned n) {
    Beat line[D];
    unsigned head = 0;
    for (unsigned i = 0; i < n + D; i++) {
#pragma HLS PIPELINE II=1
        ERN_PIPELINE_ITER(1)
        if (i >= D) out.write(line[head]);
        if (i < n) line[head] = in.read();
        if (++head == D) head = 0;
    }
}

/// Reads one beat of each input per iteration (hls/lib add.h); counts pairs that differ.
void join(hls::stream<Beat>& a, hls::stream<Beat>& b, unsigned n, unsigned& errors) {
    for (unsigned i = 0; i < n; i++) {
#pragma HLS PIPELINE II=1
        ERN_PIPELINE_ITER(1)
        const Beat x = a.read();
        const Beat y = b.read();
        if (x != y || x != Beat(i)) errors++;
    }
}

int case_pc(unsigned depth, unsigned n) {
    unsigned errors = 0;
    {
        hls::stream<Beat> s("s_pc");
        ERN_FIFO_DEPTH(s, depth)
        ERN_DATAFLOW_SCOPE
        ERN_PROCESS("producer", producer(s, n))
        ERN_PROCESS("consumer", consumer(s, n, errors))
    }
    ern::clocked::print_report(1);
    return errors == 0;
}

int case_burst(unsigned depth, unsigned vectors) {
    constexpr unsigned SF = 2, NF = 2;
    const unsigned n = vectors * SF;
    hls::stream<Beat> out("s_out");  // unbounded: the region's output port
    {
        hls::stream<Beat> src("s_src"), mid("s_mid");
        ERN_FIFO_DEPTH(src, 2)
        ERN_FIFO_DEPTH(mid, depth)
        ERN_DATAFLOW_SCOPE
        ERN_PROCESS("source", producer(src, n))
        ERN_PROCESS("pass", pass_through(src, mid, n))
        ERN_PROCESS("burst", (burst_reader<SF, NF>(mid, out, vectors)))
    }
    ern::clocked::print_report(1);
    bool ok = true;
    for (unsigned v = 0; v < vectors; v++) ok = ok && out.read() == Beat(4 * v + 1);  // 2v + 2v+1
    return ok;
}

int case_window(unsigned frames) {
    constexpr unsigned H = 14, W = 14, CF = 2;
    typedef ap_uint<64> Word;  // 32 lanes of 2 bits
    hls::stream<Word> in("s_in"), out("s_window");
    for (unsigned f = 0; f < frames; f++)
        for (unsigned i = 0; i < H * W * CF; i++) in.write(Word(i + 1));
    {
        ERN_DATAFLOW_SCOPE
        ERN_PROCESS("window", (ern::sliding_window<3, 1, 1, H, W, 64, 32, 2>(in, out, frames)))
    }
    ern::clocked::print_report(frames);
    // spot check: the first window's centre (kernel position 4) is pixel (0, 0)
    unsigned nonzero = 0, count = 0;
    Word first[18];
    while (!out.empty()) {
        const Word w = out.read();
        if (count < 18) first[count] = w;
        nonzero += w != 0;
        count++;
    }
    return count == frames * H * W * 9 * CF && first[8] == Word(1) && first[9] == Word(2) && first[0] == Word(0);
}

int case_mvu(unsigned frames) {
    constexpr unsigned MW = 576, MH = 64, V = 196, SIMD = 32, PE = 16, SF = MW / SIMD, NF = MH / PE;
    typedef ap_uint<SIMD * 2> In;
    static ap_uint<SIMD> weights[PE][NF * SF];
    for (unsigned pe = 0; pe < PE; pe++)
        for (unsigned t = 0; t < NF * SF; t++) weights[pe][t] = ap_uint<SIMD>(0xffffffffu);  // all +1
    hls::stream<In> in("s_in");
    hls::stream<ap_uint<PE * 16> > out("s_mvu");
    for (unsigned f = 0; f < frames; f++)
        for (unsigned i = 0; i < V * SF; i++) in.write(In(0x5555555555555555ull));  // every lane = 1
    {
        ERN_DATAFLOW_SCOPE
        ERN_PROCESS("mvu", (ern::mvu_accumulate<MW, MH, V, SIMD, PE, 2, 16>(in, out, weights, frames)))
    }
    ern::clocked::print_report(frames);
    bool ok = true;
    unsigned count = 0;
    while (!out.empty()) {
        const ap_uint<PE * 16> w = out.read();
        ok = ok && w.range(15, 0) == MW;  // sum of 576 ones with +1 weights
        count++;
    }
    return ok && count == frames * V * NF;
}

int case_fork(unsigned depth, unsigned n) {
    unsigned errors = 0;
    {
        hls::stream<Beat> src("s_src"), skip("s_skip"), main_in("s_main_in"), main_out("s_main_out");
        ERN_FIFO_DEPTH(src, 2)
        ERN_FIFO_DEPTH(skip, depth)
        ERN_FIFO_DEPTH(main_in, 2)
        ERN_FIFO_DEPTH(main_out, 2)
        ERN_DATAFLOW_SCOPE
        ERN_PROCESS("source", producer(src, n))
        ERN_PROCESS("fork", fork(src, skip, main_in, n))
        ERN_PROCESS("delay", (delay_line<4>(main_in, main_out, n)))
        ERN_PROCESS("join", join(skip, main_out, n, errors))
    }
    ern::clocked::print_report(1);
    return errors == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: clocked_tb pc|burst|window|mvu|fork ARGS...\n");
        return 2;
    }
    const char* which = argv[1];
    const unsigned a = unsigned(std::atoi(argv[2]));
    const unsigned b = argc > 3 ? unsigned(std::atoi(argv[3])) : 0;
    int ok = 0;
    if (!std::strcmp(which, "pc")) ok = case_pc(a, b);
    else if (!std::strcmp(which, "burst")) ok = case_burst(a, b);
    else if (!std::strcmp(which, "window")) ok = case_window(a);
    else if (!std::strcmp(which, "mvu")) ok = case_mvu(a);
    else if (!std::strcmp(which, "fork")) ok = case_fork(a, b);
    else {
        std::fprintf(stderr, "clocked_tb: unknown case %s\n", which);
        return 2;
    }
    std::printf("check=%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
