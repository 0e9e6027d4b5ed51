// Entry point of the layer-library test benches (a unity build: one compile per test tier).
//
// tests/test_hls_lib.py writes the case table ERN_TB_CASES (a file included below) with
//   #include "tb_<op>.cpp"                  the test benches the table uses
//   ERN_CASE(<id>, <function>, <template arguments>)
// and runs `tb <id> <dir> <frames>`: case <id> reads its inputs from <dir>/*.bin, runs the layer
// over <frames> frames and writes its outputs to <dir>/*.bin. Exit 0 on success, 1 when a
// stream holds too few or too many beats, 2 on a bad command line.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tb_common.h"

#ifndef ERN_TB_CASES
#error "define ERN_TB_CASES as the quoted name of the case table"
#endif

#define ERN_CASE(ID, FN, ...)
#include ERN_TB_CASES
#undef ERN_CASE

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s <case id> <dir> <frames>\n", argv[0]);
        return 2;
    }
    const int id = std::atoi(argv[1]);
    const std::string dir = argv[2];
    const unsigned frames = unsigned(std::atoi(argv[3]));
#define ERN_CASE(ID, FN, ...) \
    if (id == ID) return FN<__VA_ARGS__>(dir, frames);
#include ERN_TB_CASES
#undef ERN_CASE
    std::fprintf(stderr, "unknown case %d\n", id);
    return 2;
}
