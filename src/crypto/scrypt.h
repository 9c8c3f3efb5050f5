// scrypt (RFC 7914) and the Litecoin/Dogecoin proof of work scrypt(N=1024, r=1, p=1).
//
// The mining path hashes several nonces of one 80-byte header side by side: a portable
// kernel, SSE2 (3 interleaved hashes), AVX2 (2 hashes per 256-bit register, 4 register
// sets interleaved: 8) and AVX-512 (4 per 512-bit register, 3 sets: 12), chosen at run
// time. The PBKDF2-HMAC-SHA256 around ROMix uses its own SHA-256 compression (SHA-NI
// where present), specialised for the 80-byte header.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/core.h"

namespace otedama::crypto {

class Algorithm;
struct AlgorithmOptions;

// avx512 (AVX-512F + VL) is an extra over the interface's portable/sse2/avx2.
enum class ScryptImpl { portable, sse2, avx2, avx512 };

bool scrypt_impl_supported(ScryptImpl impl);
ScryptImpl best_scrypt_impl();
const char* to_string(ScryptImpl impl);  // "portable", "sse2", "avx2", "avx512"
// How many hashes the kernel computes side by side.
unsigned scrypt_lanes(ScryptImpl impl);

// scrypt(password = input, salt = input, N = 1024, r = 1, p = 1, dkLen = 32); any length.
Hash256 scrypt_1024_1_1(ByteSpan input);

// General scrypt (portable). N must be a power of two > 1, r and p >= 1, and
// r * p < 2^30 and N < 2^(128 r / 8) per RFC 7914; throws std::invalid_argument otherwise.
Bytes scrypt(ByteSpan password, ByteSpan salt, uint64_t N, uint32_t r, uint32_t p, size_t dk_len);

// Every nonce n in [first, last] (written little-endian at header bytes 76..79) whose scrypt
// digest, read as a little-endian 256-bit number, is <= target is appended to `hits` in
// increasing order. Returns the number of nonces hashed (fewer when *stop became true).
// Throws std::invalid_argument for an unsupported impl or first > last.
uint64_t scrypt_scan(ScryptImpl impl, const uint8_t header[80], const U256& target, uint32_t first,
                     uint32_t last, std::vector<uint32_t>& hits,
                     const std::atomic<bool>* stop = nullptr);

// The same scan, keeping each hit's digest (the miner submits it without rehashing).
struct ScryptHit {
  uint32_t nonce = 0;
  Hash256 hash{};
};
uint64_t scrypt_scan(ScryptImpl impl, const uint8_t header[80], const U256& target, uint32_t first,
                     uint32_t last, std::vector<ScryptHit>& hits,
                     const std::atomic<bool>* stop = nullptr);

// variant: "auto" | "portable" | "sse2" | "avx2" | "avx512"; unknown or unsupported -> invalid_argument.
std::unique_ptr<Algorithm> make_scrypt_algorithm(const AlgorithmOptions& options);

// The pieces of scrypt, exposed for tests against the RFC 7914 intermediates.
namespace scrypt_detail {

Bytes pbkdf2_hmac_sha256(ByteSpan password, ByteSpan salt, uint64_t iterations, size_t dk_len);
Bytes salsa20_8(ByteSpan block64);
Bytes blockmix_salsa8(ByteSpan block, uint32_t r);  // block: 128 * r bytes
Bytes romix(ByteSpan block, uint64_t N, uint32_t r);

// ROMix(N = 1024, r = 1) kernels of the mining path, in place on `x`: <kernel>_lanes blocks of 32
// little-endian words each, in RFC order. `scratch` holds 128 KiB per lane, 64-byte aligned.
constexpr unsigned sse2_lanes = 3;
void romix_1024_sse2(uint32_t* x, void* scratch);
constexpr unsigned avx2_lanes = 8;
void romix_1024_avx2(uint32_t* x, void* scratch);
constexpr unsigned avx512_lanes = 12;
void romix_1024_avx512(uint32_t* x, void* scratch);

// SHA-256 compression of 16 big-endian-decoded words with SHA-NI (mining PBKDF2 only).
void sha256_compress_shani(uint32_t state[8], const uint32_t m[16]);

}  // namespace scrypt_detail

}  // namespace otedama::crypto
