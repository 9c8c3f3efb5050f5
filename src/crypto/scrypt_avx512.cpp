// scrypt ROMix(N = 1024, r = 1) with AVX-512F/VL, chosen at run time where the CPU has it.
//
// The AVX2 kernel's layout widened: each 512-bit register holds the same diagonal-order
// row of four hashes, one per 128-bit quarter (shuffles stay inside quarters), and
// avx512_lanes / 4 register sets are interleaved. AVX-512 also has a real rotate (vprold):
// an add-rotate-xor step is 3 instructions instead of 5.
//
// The build gives per-file ISA flags by file-name suffix only for _shani/_avx2/_sse41, so
// this file enables AVX-512 with a target pragma after all includes: only the kernel below
// is compiled for AVX-512, never an inline library function another file could link to.
#include "crypto/scrypt.h"

#include <stdexcept>

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), a self-initialised value
// that -Wuninitialized reports (at the intrinsic's header line) at every use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace otedama::crypto::scrypt_detail {

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
namespace {

constexpr int kSets = int(avx512_lanes / 4);
static_assert(avx512_lanes % 4 == 0, "four hashes per register");

inline int diagonal_index(int i) { return (i * 5) % 16; }

template <int n>
inline __m512i arx(__m512i dst, __m512i a, __m512i b) {
  return _mm512_xor_si512(dst, _mm512_rol_epi32(_mm512_add_epi32(a, b), n));
}

inline void salsa20_8_sets(__m512i (&x)[kSets][8], int off) {
  __m512i a[kSets], b[kSets], c[kSets], d[kSets];
  for (int s = 0; s < kSets; ++s) a[s] = x[s][off], b[s] = x[s][off + 1], c[s] = x[s][off + 2], d[s] = x[s][off + 3];
  for (int i = 0; i < 8; i += 2) {
    for (int s = 0; s < kSets; ++s) b[s] = arx<7>(b[s], a[s], d[s]);
    for (int s = 0; s < kSets; ++s) c[s] = arx<9>(c[s], b[s], a[s]);
    for (int s = 0; s < kSets; ++s) d[s] = arx<13>(d[s], c[s], b[s]);
    for (int s = 0; s < kSets; ++s) a[s] = arx<18>(a[s], d[s], c[s]);
    for (int s = 0; s < kSets; ++s) {
      b[s] = _mm512_shuffle_epi32(b[s], _MM_PERM_ENUM(0x93));
      c[s] = _mm512_shuffle_epi32(c[s], _MM_PERM_ENUM(0x4e));
      d[s] = _mm512_shuffle_epi32(d[s], _MM_PERM_ENUM(0x39));
    }
    for (int s = 0; s < kSets; ++s) d[s] = arx<7>(d[s], a[s], b[s]);
    for (int s = 0; s < kSets; ++s) c[s] = arx<9>(c[s], d[s], a[s]);
    for (int s = 0; s < kSets; ++s) b[s] = arx<13>(b[s], c[s], d[s]);
    for (int s = 0; s < kSets; ++s) a[s] = arx<18>(a[s], b[s], c[s]);
    for (int s = 0; s < kSets; ++s) {
      b[s] = _mm512_shuffle_epi32(b[s], _MM_PERM_ENUM(0x39));
      c[s] = _mm512_shuffle_epi32(c[s], _MM_PERM_ENUM(0x4e));
      d[s] = _mm512_shuffle_epi32(d[s], _MM_PERM_ENUM(0x93));
    }
  }
  for (int s = 0; s < kSets; ++s) {
    x[s][off] = _mm512_add_epi32(x[s][off], a[s]);
    x[s][off + 1] = _mm512_add_epi32(x[s][off + 1], b[s]);
    x[s][off + 2] = _mm512_add_epi32(x[s][off + 2], c[s]);
    x[s][off + 3] = _mm512_add_epi32(x[s][off + 3], d[s]);
  }
}

inline void blockmix_sets(__m512i (&x)[kSets][8]) {
  for (int s = 0; s < kSets; ++s)
    for (int q = 0; q < 4; ++q) x[s][q] = _mm512_xor_si512(x[s][q], x[s][q + 4]);
  salsa20_8_sets(x, 0);
  for (int s = 0; s < kSets; ++s)
    for (int q = 0; q < 4; ++q) x[s][q + 4] = _mm512_xor_si512(x[s][q + 4], x[s][q]);
  salsa20_8_sets(x, 4);
}

}  // namespace

void romix_1024_avx512(uint32_t* words, void* scratch) {
  __m512i x[kSets][8];
  for (int s = 0; s < kSets; ++s) {
    alignas(64) uint32_t d[128];  // row q: 4 words of each of hashes 4s .. 4s+3
    for (int h = 0; h < 4; ++h)
      for (int i = 0; i < 32; ++i)
        d[(i / 4) * 16 + h * 4 + i % 4] = words[(4 * s + h) * 32 + (i & 16) + diagonal_index(i & 15)];
    for (int q = 0; q < 8; ++q) x[s][q] = _mm512_load_si512(d + 16 * q);
  }
  // V[s][i] = 8 registers (512 bytes) per set and step.
  __m512i* v = static_cast<__m512i*>(scratch);
  for (int i = 0; i < 1024; ++i) {
    for (int s = 0; s < kSets; ++s)
      for (int q = 0; q < 8; ++q) _mm512_store_si512(v + (s * 1024 + i) * 8 + q, x[s][q]);
    blockmix_sets(x);
  }
  for (int i = 0; i < 1024; ++i) {
    for (int s = 0; s < kSets; ++s) {
      const __m128i* p[4];
      for (int h = 0; h < 4; ++h) {
        uint32_t j = uint32_t(_mm_cvtsi128_si32(_mm512_extracti32x4_epi32(x[s][4], h))) & 1023;
        p[h] = reinterpret_cast<const __m128i*>(v + (s * 1024 + j) * 8) + h;
      }
      for (int q = 0; q < 8; ++q) {
        __m512i vj = _mm512_castsi128_si512(_mm_load_si128(p[0] + 4 * q));
        vj = _mm512_inserti32x4(vj, _mm_load_si128(p[1] + 4 * q), 1);
        vj = _mm512_inserti32x4(vj, _mm_load_si128(p[2] + 4 * q), 2);
        vj = _mm512_inserti32x4(vj, _mm_load_si128(p[3] + 4 * q), 3);
        x[s][q] = _mm512_xor_si512(x[s][q], vj);
      }
    }
    blockmix_sets(x);
  }
  for (int s = 0; s < kSets; ++s) {
    alignas(64) uint32_t d[128];
    for (int q = 0; q < 8; ++q) _mm512_store_si512(d + 16 * q, x[s][q]);
    for (int h = 0; h < 4; ++h)
      for (int i = 0; i < 32; ++i)
        words[(4 * s + h) * 32 + (i & 16) + diagonal_index(i & 15)] = d[(i / 4) * 16 + h * 4 + i % 4];
  }
}

#pragma GCC pop_options

#else  // not an x86-64 build: never selected (scrypt_impl_supported says no)

void romix_1024_avx512(uint32_t*, void*) { throw std::logic_error("romix_1024_avx512: built without AVX-512"); }

#endif

}  // namespace otedama::crypto::scrypt_detail
