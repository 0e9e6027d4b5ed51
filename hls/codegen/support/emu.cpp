// C ABI around the generated top function, for emulating the accelerator on a host (ctypes).
//
// Build a shared library from this folder (ap_types: hls4ml/templates/vivado/ap_types):
//   g++ -std=c++14 -O2 -shared -fPIC -Ilib -isystem <ap_types> ern_top.cpp emu.cpp -o libern_emu.so
//
//   int ern_run(const uint64_t* in_words, size_t in_word_count,
//               uint64_t* out_words, size_t out_word_count, unsigned frames);
//
// in_words: what the DMA would send: `frames` frames of ern_in_words_per_frame() 64-bit words
// (uint8 pixels H x W x C, little-endian, each frame zero-padded to whole words). out_words:
// what the DMA would receive: frames * ern_out_words_per_frame() words of int32 class sums (two
// per word, class c in lane c % 2 of word c / 2). Returns 0, or a negative code:
//   -1 a null pointer, -2 in_word_count != frames * ern_in_words_per_frame(),
//   -3 out_word_count < frames * ern_out_words_per_frame(), -4 the accelerator wrote another
//   number of words, -5 TLAST not exactly on the last word, -6 input words left unread.
// Calls are independent (the FIFOs are local to each call).
//
// A design with weights in UltraRAM (ERN_HAS_WEIGHT_LOAD) needs them loaded first, as on the board:
//   int ern_load(const uint64_t* words, size_t word_count);   // the weight image (host/weights.py)
// returns 0, -1 a null pointer, -2 word_count != ern_load_words(), -6 words left unread; without
// loaded weights ern_load_words() is 0 and ern_load accepts only an empty image.
#include "ern_top.h"

#include <cstddef>
#include <cstdint>

static_assert(ERN_AXI_BITS == 64, "emu.cpp: the C ABI passes 64-bit AXI words");

// The words as one AXI-Stream packet (TLAST on the last), the way the DMA sends a buffer.
static void push_words(hls::stream<ern_word_t>& stream, const uint64_t* words, size_t count) {
    for (size_t i = 0; i < count; i++) {
        ern_word_t word;
        word.data = ap_uint<64>(words[i]);
        word.keep = -1;
        word.strb = -1;
        word.last = i == count - 1;
        stream.write(word);
    }
}

extern "C" {

unsigned ern_in_words_per_frame(void) { return ERN_IN_WORDS; }
unsigned ern_out_words_per_frame(void) { return ERN_OUT_WORDS; }
unsigned ern_in_bytes_per_frame(void) { return ERN_IN_BYTES; }
unsigned ern_classes(void) { return ERN_CLASSES; }
// sha256 of the model package the core was generated from (host.package.digest): host
// emulation loads a built library only when it names the package it runs.
const char* ern_package_sha256(void) { return ERN_PACKAGE_SHA256; }

#ifdef ERN_HAS_WEIGHT_LOAD
size_t ern_load_words(void) { return ERN_LOAD_WORDS; }
#else
size_t ern_load_words(void) { return 0; }
#endif

int ern_load(const uint64_t* words, size_t word_count) {
    if (!words && word_count) return -1;
    if (word_count != ern_load_words()) return -2;
#ifdef ERN_HAS_WEIGHT_LOAD
    hls::stream<ern_word_t> in_stream("in_stream"), out_stream("out_stream");
    push_words(in_stream, words, word_count);
    ern_top(in_stream, out_stream, 0, ERN_MODE_LOAD);
    if (!in_stream.empty()) return -6;
#endif
    return 0;
}

int ern_run(const uint64_t* in_words, size_t in_word_count, uint64_t* out_words, size_t out_word_count,
            unsigned frames) {
    if ((!in_words && in_word_count) || (!out_words && out_word_count)) return -1;
    if (in_word_count != size_t(frames) * ERN_IN_WORDS) return -2;
    const size_t want = size_t(frames) * ERN_OUT_WORDS;
    if (out_word_count < want) return -3;
    if (frames == 0) return 0;
    hls::stream<ern_word_t> in_stream("in_stream"), out_stream("out_stream");
    push_words(in_stream, in_words, in_word_count);
#ifdef ERN_HAS_WEIGHT_LOAD
    ern_top(in_stream, out_stream, frames, ERN_MODE_RUN);
#else
    ern_top(in_stream, out_stream, frames);
#endif
    int status = 0;
    if (!in_stream.empty()) status = -6;
    while (!in_stream.empty()) in_stream.read();
    size_t n = 0;
    while (!out_stream.empty()) {
        const ern_word_t word = out_stream.read();
        if (n < want) {
            out_words[n] = word.data.to_uint64();
            if (bool(word.last) != (n == want - 1) && status == 0) status = -5;
        }
        n++;
    }
    if (n != want) return -4;
    return status;
}

}  // extern "C"
