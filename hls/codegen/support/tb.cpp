// Test bench of a generated accelerator (hls/codegen): the class sums of every image, through
// the AXI-Stream top function, against the expected ones (the numpy reference, host/reference.py).
//
//   tb [DATA_DIR [FIRST [COUNT [OUT_FILE]]]]
//
// DATA_DIR (default "data") holds images.bin (uint8 frames of ERN_IN_BYTES bytes, H x W x C,
// back to back) and expected.bin (int32 little-endian, ERN_CLASSES class sums per image). The
// bench sends images FIRST .. FIRST+COUNT-1 (default: all) in calls of ERN_TB_BATCH frames (one
// DMA transfer each on the board: frames padded to whole words, TLAST on the last output word
// of a call), checks the word counts and TLAST, compares every class sum, writes the sums it got
// to OUT_FILE (default DATA_DIR/got.bin, int32) and prints `images=N mismatches=M`.
// A design with weights in UltraRAM (ERN_HAS_WEIGHT_LOAD) first loads DATA_DIR/weights.bin (the
// weight image: ERN_LOAD_WORDS uint64 little-endian words, host/weights.py) in one call with
// mode ERN_MODE_LOAD, as the driver does after the bitstream, then runs the images.
// Exit status: 0 all equal; 1 a mismatch or a protocol error; 2 a missing or malformed file.
#include "ern_top.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#ifndef ERN_TB_BATCH
#define ERN_TB_BATCH 50
#endif

namespace {

static_assert(ERN_AXI_BITS % 32 == 0 && ERN_AXI_BITS <= 64, "tb: AXI words of 32 or 64 bits");
static_assert(ERN_OUT_LANE_BITS == 32, "tb: int32 class sums");
constexpr unsigned BYTES_PER_WORD = ERN_AXI_BITS / 8;
constexpr unsigned LANES_PER_WORD = ERN_AXI_BITS / ERN_OUT_LANE_BITS;

bool read_file(const std::string& path, std::vector<unsigned char>& bytes) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(f);
    return true;
}

[[noreturn]] void fail_file(const std::string& what) {
    std::fprintf(stderr, "tb: %s\n", what.c_str());
    std::exit(2);
}

int32_t le32(const unsigned char* p) {
    return int32_t(uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
}

#ifdef ERN_HAS_WEIGHT_LOAD
// The weight image through the top in load mode; returns the protocol errors (words left unread,
// words written).
long load_weights(const std::string& dir) {
    std::vector<unsigned char> image;
    if (!read_file(dir + "/weights.bin", image)) fail_file("cannot read " + dir + "/weights.bin");
    if (image.size() != size_t(ERN_LOAD_WORDS) * 8)
        fail_file("weights.bin does not hold " + std::to_string(ERN_LOAD_WORDS) + " 64-bit words");
    hls::stream<ern_word_t> in_stream("in_stream"), out_stream("out_stream");
    for (size_t w = 0; w < ERN_LOAD_WORDS; w++) {
        uint64_t data = 0;
        for (unsigned b = 0; b < 8; b++) data |= uint64_t(image[w * 8 + b]) << (8 * b);
        ern_word_t word;
        word.data = ap_uint<ERN_AXI_BITS>(data);
        word.keep = -1;
        word.strb = -1;
        word.last = w == ERN_LOAD_WORDS - 1;
        in_stream.write(word);
    }
    ern_top(in_stream, out_stream, 0, ERN_MODE_LOAD);
    long errors = 0;
    if (!in_stream.empty()) {
        std::printf("tb: weight words left unread after the load\n");
        errors++;
    }
    if (!out_stream.empty()) {
        std::printf("tb: the load wrote output words\n");
        errors++;
    }
    return errors;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : "data";
    std::vector<unsigned char> images, expected_raw;
    if (!read_file(dir + "/images.bin", images)) fail_file("cannot read " + dir + "/images.bin");
    if (!read_file(dir + "/expected.bin", expected_raw)) fail_file("cannot read " + dir + "/expected.bin");
    if (images.size() % ERN_IN_BYTES) fail_file("images.bin is not a whole number of frames");
    const long total = long(images.size() / ERN_IN_BYTES);
    if (expected_raw.size() != size_t(total) * ERN_CLASSES * 4)
        fail_file("expected.bin does not hold " + std::to_string(ERN_CLASSES) + " int32 per image");
    const long first = argc > 2 ? std::atol(argv[2]) : 0;
    const long count = argc > 3 ? std::atol(argv[3]) : total - first;
    const std::string out_path = argc > 4 ? argv[4] : dir + "/got.bin";
    if (first < 0 || count < 0 || first + count > total) fail_file("image range outside images.bin");

    std::vector<int32_t> got(size_t(count) * ERN_CLASSES, 0);
    long mismatches = 0, protocol_errors = 0, shown = 0;
#ifdef ERN_HAS_WEIGHT_LOAD
    protocol_errors += load_weights(dir);
#endif
    for (long start = 0; start < count; start += ERN_TB_BATCH) {
        const unsigned frames = unsigned(count - start < ERN_TB_BATCH ? count - start : ERN_TB_BATCH);
        hls::stream<ern_word_t> in_stream("in_stream"), out_stream("out_stream");
        for (unsigned f = 0; f < frames; f++) {
            const unsigned char* frame = &images[size_t(first + start + f) * ERN_IN_BYTES];
            for (unsigned w = 0; w < ERN_IN_WORDS; w++) {
                uint64_t data = 0;  // little-endian: byte i of the frame in byte lane i % BYTES_PER_WORD
                for (unsigned b = 0; b < BYTES_PER_WORD; b++) {
                    const unsigned i = w * BYTES_PER_WORD + b;
                    if (i < ERN_IN_BYTES) data |= uint64_t(frame[i]) << (8 * b);
                }
                ern_word_t word;
                word.data = ap_uint<ERN_AXI_BITS>(data);
                word.keep = -1;
                word.strb = -1;
                word.last = (f == frames - 1 && w == ERN_IN_WORDS - 1);
                in_stream.write(word);
            }
        }
#ifdef ERN_HAS_WEIGHT_LOAD
        ern_top(in_stream, out_stream, frames, ERN_MODE_RUN);
#else
        ern_top(in_stream, out_stream, frames);
#endif
#ifdef ERN_CLOCKED_SIM
        ern::clocked::print_report(frames);  // cycles of this call (hls/clocked.py parses them)
#endif
        if (!in_stream.empty()) {
            std::printf("tb: input words left unread after a call of %u frames\n", frames);
            protocol_errors++;
            while (!in_stream.empty()) in_stream.read();
        }
        for (unsigned f = 0; f < frames; f++) {
            for (unsigned w = 0; w < ERN_OUT_WORDS; w++) {
                if (out_stream.empty()) {
                    std::printf("tb: only %u of %u output words\n", f * ERN_OUT_WORDS + w, frames * ERN_OUT_WORDS);
                    protocol_errors++;
                    break;
                }
                const ern_word_t word = out_stream.read();
                const bool last = f == frames - 1 && w == ERN_OUT_WORDS - 1;
                if (bool(word.last) != last) {
                    std::printf("tb: TLAST=%d on output word %u of %u\n", int(word.last), f * ERN_OUT_WORDS + w,
                                frames * ERN_OUT_WORDS);
                    protocol_errors++;
                }
                for (unsigned l = 0; l < LANES_PER_WORD; l++) {
                    const unsigned c = w * LANES_PER_WORD + l;
                    if (c >= ERN_CLASSES) break;
                    const uint64_t bits = word.data.to_uint64() >> (ERN_OUT_LANE_BITS * l);
                    got[size_t(start + f) * ERN_CLASSES + c] = int32_t(uint32_t(bits));
                }
            }
        }
        if (!out_stream.empty()) {
            std::printf("tb: more output words than %u frames x %u\n", frames, ERN_OUT_WORDS);
            protocol_errors++;
            while (!out_stream.empty()) out_stream.read();
        }
    }

    for (long i = 0; i < count; i++) {
        bool same = true;
        for (unsigned c = 0; c < ERN_CLASSES; c++) {
            const int32_t want = le32(&expected_raw[(size_t(first + i) * ERN_CLASSES + c) * 4]);
            same = same && got[size_t(i) * ERN_CLASSES + c] == want;
        }
        if (!same) {
            mismatches++;
            if (shown++ < 5) {
                std::printf("tb: image %ld: got", first + i);
                for (unsigned c = 0; c < ERN_CLASSES; c++) std::printf(" %d", int(got[size_t(i) * ERN_CLASSES + c]));
                std::printf(", expected");
                for (unsigned c = 0; c < ERN_CLASSES; c++)
                    std::printf(" %d", int(le32(&expected_raw[(size_t(first + i) * ERN_CLASSES + c) * 4])));
                std::printf("\n");
            }
        }
    }
    FILE* out = std::fopen(out_path.c_str(), "wb");
    if (!out || std::fwrite(got.data(), sizeof(int32_t), got.size(), out) != got.size())
        fail_file("cannot write " + out_path);
    std::fclose(out);
    std::printf("images=%ld mismatches=%ld protocol_errors=%ld\n", count, mismatches, protocol_errors);
    return mismatches || protocol_errors ? 1 : 0;
}
