// scrypt ROMix(N = 1024, r = 1) with AVX2 (compiled with -mavx2, chosen at run time).
//
// Each 256-bit register holds the same diagonal-order row of two hashes, one per 128-bit
// half (AVX2 shuffles stay inside halves, so the SSE2 Salsa layout carries over), and
// avx2_lanes / 2 such pairs are interleaved. The scratchpad keeps the pair interleaved at
// 16-byte granularity; the second loop reads each hash's half from its own index with one
// 128-bit load plus an insert, which is far cheaper than gathers or transposes that a
// "vertical" 8-lane layout would need there.
#include "crypto/scrypt.h"

#include <stdexcept>

#include <immintrin.h>

namespace otedama::crypto::scrypt_detail {

#if defined(__AVX2__)
namespace {

constexpr int kPairs = int(avx2_lanes / 2);
static_assert(avx2_lanes % 2 == 0, "two hashes per register");

inline int diagonal_index(int i) { return (i * 5) % 16; }

template <int n>
inline __m256i arx(__m256i dst, __m256i a, __m256i b) {
  __m256i t = _mm256_add_epi32(a, b);
  dst = _mm256_xor_si256(dst, _mm256_slli_epi32(t, n));
  return _mm256_xor_si256(dst, _mm256_srli_epi32(t, 32 - n));
}

inline void salsa20_8_pairs(__m256i (&x)[kPairs][8], int off) {
  __m256i a[kPairs], b[kPairs], c[kPairs], d[kPairs];
  for (int s = 0; s < kPairs; ++s) a[s] = x[s][off], b[s] = x[s][off + 1], c[s] = x[s][off + 2], d[s] = x[s][off + 3];
  for (int i = 0; i < 8; i += 2) {
    for (int s = 0; s < kPairs; ++s) b[s] = arx<7>(b[s], a[s], d[s]);
    for (int s = 0; s < kPairs; ++s) c[s] = arx<9>(c[s], b[s], a[s]);
    for (int s = 0; s < kPairs; ++s) d[s] = arx<13>(d[s], c[s], b[s]);
    for (int s = 0; s < kPairs; ++s) a[s] = arx<18>(a[s], d[s], c[s]);
    for (int s = 0; s < kPairs; ++s) {
      b[s] = _mm256_shuffle_epi32(b[s], 0x93);
      c[s] = _mm256_shuffle_epi32(c[s], 0x4e);
      d[s] = _mm256_shuffle_epi32(d[s], 0x39);
    }
    for (int s = 0; s < kPairs; ++s) d[s] = arx<7>(d[s], a[s], b[s]);
    for (int s = 0; s < kPairs; ++s) c[s] = arx<9>(c[s], d[s], a[s]);
    for (int s = 0; s < kPairs; ++s) b[s] = arx<13>(b[s], c[s], d[s]);
    for (int s = 0; s < kPairs; ++s) a[s] = arx<18>(a[s], b[s], c[s]);
    for (int s = 0; s < kPairs; ++s) {
      b[s] = _mm256_shuffle_epi32(b[s], 0x39);
      c[s] = _mm256_shuffle_epi32(c[s], 0x4e);
      d[s] = _mm256_shuffle_epi32(d[s], 0x93);
    }
  }
  for (int s = 0; s < kPairs; ++s) {
    x[s][off] = _mm256_add_epi32(x[s][off], a[s]);
    x[s][off + 1] = _mm256_add_epi32(x[s][off + 1], b[s]);
    x[s][off + 2] = _mm256_add_epi32(x[s][off + 2], c[s]);
    x[s][off + 3] = _mm256_add_epi32(x[s][off + 3], d[s]);
  }
}

inline void blockmix_pairs(__m256i (&x)[kPairs][8]) {
  for (int s = 0; s < kPairs; ++s)
    for (int q = 0; q < 4; ++q) x[s][q] = _mm256_xor_si256(x[s][q], x[s][q + 4]);
  salsa20_8_pairs(x, 0);
  for (int s = 0; s < kPairs; ++s)
    for (int q = 0; q < 4; ++q) x[s][q + 4] = _mm256_xor_si256(x[s][q + 4], x[s][q]);
  salsa20_8_pairs(x, 4);
}

}  // namespace

void romix_1024_avx2(uint32_t* words, void* scratch) {
  __m256i x[kPairs][8];
  for (int s = 0; s < kPairs; ++s) {
    alignas(32) uint32_t d[64];  // row q: 4 words of hash 2s, then 4 of hash 2s+1
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 32; ++i)
        d[(i / 4) * 8 + h * 4 + i % 4] = words[(2 * s + h) * 32 + (i & 16) + diagonal_index(i & 15)];
    for (int q = 0; q < 8; ++q) x[s][q] = _mm256_load_si256(reinterpret_cast<const __m256i*>(d + 8 * q));
  }
  // V[s][i] = 8 registers (256 bytes) per pair and step.
  __m256i* v = static_cast<__m256i*>(scratch);
  for (int i = 0; i < 1024; ++i) {
    for (int s = 0; s < kPairs; ++s)
      for (int q = 0; q < 8; ++q) _mm256_store_si256(v + (s * 1024 + i) * 8 + q, x[s][q]);
    blockmix_pairs(x);
  }
  for (int i = 0; i < 1024; ++i) {
    for (int s = 0; s < kPairs; ++s) {
      const uint32_t j_lo = uint32_t(_mm256_cvtsi256_si32(x[s][4])) & 1023;
      const uint32_t j_hi = uint32_t(_mm256_extract_epi32(x[s][4], 4)) & 1023;
      const __m128i* lo = reinterpret_cast<const __m128i*>(v + (s * 1024 + j_lo) * 8);
      const __m128i* hi = reinterpret_cast<const __m128i*>(v + (s * 1024 + j_hi) * 8) + 1;
      for (int q = 0; q < 8; ++q) {
        __m256i vj = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_load_si128(lo + 2 * q)),
                                             _mm_load_si128(hi + 2 * q), 1);
        x[s][q] = _mm256_xor_si256(x[s][q], vj);
      }
    }
    blockmix_pairs(x);
  }
  for (int s = 0; s < kPairs; ++s) {
    alignas(32) uint32_t d[64];
    for (int q = 0; q < 8; ++q) _mm256_store_si256(reinterpret_cast<__m256i*>(d + 8 * q), x[s][q]);
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 32; ++i)
        words[(2 * s + h) * 32 + (i & 16) + diagonal_index(i & 15)] = d[(i / 4) * 8 + h * 4 + i % 4];
  }
}

#else  // built without -mavx2 (non-x86): never selected (scrypt_impl_supported says no)

void romix_1024_avx2(uint32_t*, void*) { throw std::logic_error("romix_1024_avx2: built without AVX2"); }

#endif

}  // namespace otedama::crypto::scrypt_detail
