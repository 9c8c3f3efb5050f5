// SHA-256, SHA256d and the sha256d nonce search (Bitcoin mining).
//
// Kernels picked at run time from CPUID, as Bitcoin Core's src/crypto/ does: portable,
// SHA-NI (4 independent nonce streams interleaved), AVX2 (8 lanes), AVX-512 (16 lanes) and
// SHA-NI + AVX-512 side by side (the fastest search on Zen 5; see docs/perf-sha256.md).
// Single hashes use the fastest supported one-message compression (SHA-NI or portable).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/core.h"

namespace otedama::crypto {

// shani_avx512 is a search kernel running SHA-NI and AVX-512 side by side in one thread;
// single messages with it use its SHA-NI compression.
enum class ShaImpl { portable, shani, avx2, avx512, shani_avx512 };

bool sha_impl_supported(ShaImpl impl);
ShaImpl best_sha_impl();               // the fastest search kernel supported
const char* to_string(ShaImpl impl);   // "portable", "sha-ni", "avx2", "avx512", "sha-ni+avx512"
std::optional<ShaImpl> sha_impl_from_string(std::string_view name);  // inverse of to_string
unsigned sha_impl_lanes(ShaImpl impl);  // nonces per kernel step: 1, 4, 8, 16, 17
std::vector<ShaImpl> supported_sha_impls();

// Any length, empty included.
Hash256 sha256(ByteSpan data);
Hash256 sha256d(ByteSpan data);
// The same with a chosen compression kernel (tests, benchmarks). avx2/avx512 run their
// multi-lane kernel with the message in every lane. Throws std::invalid_argument if unsupported.
Hash256 sha256(ShaImpl impl, ByteSpan data);
Hash256 sha256d(ShaImpl impl, ByteSpan data);

// Every nonce n in [first, last] (inclusive; nonce written little-endian at header bytes
// 76..79) whose SHA256d digest, read as a little-endian 256-bit number, is <= target is
// appended to `hits` in increasing order. Returns the number of nonces hashed: fewer than
// the range when *stop became true (checked every few milliseconds). Throws
// std::invalid_argument when first > last or `impl` is not supported by this CPU.
uint64_t sha256d_scan(ShaImpl impl, const uint8_t header[80], const U256& target, uint32_t first,
                      uint32_t last, std::vector<uint32_t>& hits,
                      const std::atomic<bool>* stop = nullptr);

// The Algorithm behind make_algorithm("sha256d"). options.variant: auto (best_sha_impl) or a
// to_string() name (portable|sha-ni|avx2|avx512|sha-ni+avx512); unknown or unsupported ->
// std::invalid_argument. variant() reports e.g. "sha-ni x4". Defined in sha256d_algorithm.cpp.
class Algorithm;
struct AlgorithmOptions;
std::unique_ptr<Algorithm> make_sha256d_algorithm(const AlgorithmOptions& options);

// ---- internals shared by the kernel files (and their tests) --------------------------
namespace sha256_detail {

inline constexpr uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
alignas(64) inline constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// Compress `blocks` consecutive 64-byte blocks into state.
void compress_portable(uint32_t state[8], const uint8_t* data, size_t blocks);
void compress_shani(uint32_t state[8], const uint8_t* data, size_t blocks);
// Eight independent states (states[lane][word]), one 64-byte block per lane.
void compress_avx2_x8(uint32_t states[8][8], const uint8_t* const blocks[8]);
void compress_avx512_x16(uint32_t states[16][8], const uint8_t* const blocks[16]);

// Nonces per kernel step (sha_impl_lanes): SHA-NI streams interleaved; SHA-NI nonces run
// beside the 16 AVX-512 lanes in the hybrid kernel.
inline constexpr unsigned kShaniStreams = 4;
inline constexpr unsigned kHybridShaNonces = 1;

// What a search needs of a header that does not depend on the nonce.
struct ScanContext {
  uint32_t midstate[8];   // state after the header's first 64 bytes
  uint32_t tail[3];       // header bytes 64..75 as big-endian words: block-2 W0..W2
  uint32_t state3[8];     // block-2 state after rounds 0..2 (they use only W0..W2)
  uint32_t round3_t1;     // round 3: T1 = round3_t1 + W3 (the nonce word)
  uint32_t round3_t2;     // round 3: T2, nonce-independent
  uint32_t top_target;    // most significant 32 bits of the target
};
ScanContext make_scan_context(const uint8_t header[80], const U256& target);

// A kernel hashes nonces first .. first+count-1 (count >= 1, no wrap past 2^32-1) and writes to
// out (room for count entries), in increasing order, each nonce whose final digest word 7
// (digest bytes 28..31, the most significant 32 bits of the little-endian number) is
// <= ctx.top_target; it returns how many it wrote. The caller confirms these candidates with
// the full 256-bit comparison. (Raw arrays, not std::vector: code compiled for an ISA must
// not instantiate library templates another file could end up linking.)
using ScanKernel = uint32_t (*)(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out);
uint32_t scan_portable(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out);
uint32_t scan_shani(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out);
uint32_t scan_avx2(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out);
uint32_t scan_avx512(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out);
uint32_t scan_shani_avx512(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out);

inline uint32_t read_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void write_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

}  // namespace sha256_detail
}  // namespace otedama::crypto
