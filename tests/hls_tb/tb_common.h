// Helpers of the layer-library test benches: int64 files, lane packing, checked stream I/O.
//
// Files: `<dir>/<name>.bin`, little-endian int64 values, C order (written by
// tests/test_hls_lib.py with numpy's tofile). Lanes: value i of a beat in bits
// [i*BITS, (i+1)*BITS) (hls/lib/README.md).
#ifndef ERN_TB_COMMON_H
#define ERN_TB_COMMON_H

#include <ap_int.h>
#include <hls_stream.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace tb {

typedef std::vector<long long> Values;

/// Stop the test bench with a message (exit code 1).
[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "TB FAIL: %s\n", what.c_str());
    std::exit(1);
}

inline Values read_values(const std::string& dir, const std::string& name) {
    const std::string path = dir + "/" + name + ".bin";
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail("cannot open " + path);
    Values v;
    long long x;
    while (std::fread(&x, sizeof x, 1, f) == 1) v.push_back(x);
    std::fclose(f);
    return v;
}

inline void write_values(const std::string& dir, const std::string& name, const Values& v) {
    const std::string path = dir + "/" + name + ".bin";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) fail("cannot write " + path);
    if (!v.empty() && std::fwrite(v.data(), sizeof(long long), v.size(), f) != v.size()) fail("short write " + path);
    std::fclose(f);
}

inline void expect_size(const Values& v, size_t n, const std::string& what) {
    if (v.size() != n) fail(what + ": expected " + std::to_string(n) + " values, got " + std::to_string(v.size()));
}

/// Copy values into a (multi-dimensional) array of ap types, in C order.
template <typename T>
void fill(T* flat, const Values& v, size_t n, const std::string& what) {
    expect_size(v, n, what);
    for (size_t i = 0; i < n; i++) flat[i] = v[i];
}

/// Pack SIMD bits (0/1 values) into one word per group: weights[pe][tile] from [pe][tile][s].
template <int SIMD>
void fill_bits(ap_uint<SIMD>* flat, const Values& v, size_t words, const std::string& what) {
    expect_size(v, words * SIMD, what);
    for (size_t i = 0; i < words; i++) {
        ap_uint<SIMD> w = 0;
        for (int s = 0; s < SIMD; s++) w[s] = v[i * SIMD + s] != 0;
        flat[i] = w;
    }
}

/// Write `v` to a stream, LANES values per beat.
template <unsigned LANES, unsigned BITS>
void push(hls::stream<ap_uint<LANES * BITS> >& s, const Values& v) {
    if (v.size() % LANES) fail("push: value count not a multiple of the lanes");
    for (size_t i = 0; i < v.size(); i += LANES) {
        ap_uint<LANES * BITS> w = 0;
        for (unsigned l = 0; l < LANES; l++) w((l + 1) * BITS - 1, l * BITS) = ap_uint<BITS>(v[i + l]);
        s.write(w);
    }
}

/// Lane `l` of a word as a value.
template <unsigned BITS, bool SIGNED, int N>
long long lane(const ap_uint<N>& w, unsigned l) {
    const ap_uint<BITS> raw = w((l + 1) * BITS - 1, l * BITS);
    if (SIGNED) {
        const ap_int<BITS> s = raw;
        return s.to_int64();
    }
    return (long long)raw.to_uint64();
}

/// Read exactly `beats` beats (failing when the stream runs dry) and unpack their lanes.
template <unsigned LANES, unsigned BITS, bool SIGNED>
Values pop(hls::stream<ap_uint<LANES * BITS> >& s, size_t beats, const std::string& what) {
    Values v;
    for (size_t i = 0; i < beats; i++) {
        if (s.empty()) fail(what + ": only " + std::to_string(i) + " of " + std::to_string(beats) + " beats");
        const ap_uint<LANES * BITS> w = s.read();
        for (unsigned l = 0; l < LANES; l++) v.push_back(lane<BITS, SIGNED>(w, l));
    }
    return v;
}

/// The stream must have been consumed / produced completely.
template <typename T>
void expect_empty(hls::stream<T>& s, const std::string& what) {
    if (!s.empty()) fail(what + ": " + std::to_string(s.size()) + " beats left over");
}

}  // namespace tb

#endif  // ERN_TB_COMMON_H
