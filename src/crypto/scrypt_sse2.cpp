// scrypt ROMix(N = 1024, r = 1) with SSE2 (baseline on x86-64): each 64-byte Salsa block
// sits in four registers in "diagonal" order, so that a column round and a row round are
// the same four add-rotate-xor steps with shuffles between them (Percival's layout). Three
// independent hashes are interleaved so that their dependency chains overlap.
#include "crypto/scrypt.h"

#include <cstring>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace otedama::crypto::scrypt_detail {

#if defined(__SSE2__)
namespace {

constexpr int kStreams = int(sse2_lanes);

// Row q of block b holds words i*5 mod 16 (i = 4q..4q+3): (0,5,10,15) (4,9,14,3) ...
inline int diagonal_index(int i) { return (i * 5) % 16; }

template <int n>
inline __m128i arx(__m128i dst, __m128i a, __m128i b) {
  __m128i t = _mm_add_epi32(a, b);
  dst = _mm_xor_si128(dst, _mm_slli_epi32(t, n));
  return _mm_xor_si128(dst, _mm_srli_epi32(t, 32 - n));
}

// Salsa20/8 on block `off` (0 or 4 = first register of the block) of every stream.
inline void salsa20_8_streams(__m128i (&x)[kStreams][8], int off) {
  __m128i a[kStreams], b[kStreams], c[kStreams], d[kStreams];
  for (int s = 0; s < kStreams; ++s) a[s] = x[s][off], b[s] = x[s][off + 1], c[s] = x[s][off + 2], d[s] = x[s][off + 3];
  for (int i = 0; i < 8; i += 2) {
    for (int s = 0; s < kStreams; ++s) b[s] = arx<7>(b[s], a[s], d[s]);
    for (int s = 0; s < kStreams; ++s) c[s] = arx<9>(c[s], b[s], a[s]);
    for (int s = 0; s < kStreams; ++s) d[s] = arx<13>(d[s], c[s], b[s]);
    for (int s = 0; s < kStreams; ++s) a[s] = arx<18>(a[s], d[s], c[s]);
    for (int s = 0; s < kStreams; ++s) {
      b[s] = _mm_shuffle_epi32(b[s], 0x93);
      c[s] = _mm_shuffle_epi32(c[s], 0x4e);
      d[s] = _mm_shuffle_epi32(d[s], 0x39);
    }
    for (int s = 0; s < kStreams; ++s) d[s] = arx<7>(d[s], a[s], b[s]);
    for (int s = 0; s < kStreams; ++s) c[s] = arx<9>(c[s], d[s], a[s]);
    for (int s = 0; s < kStreams; ++s) b[s] = arx<13>(b[s], c[s], d[s]);
    for (int s = 0; s < kStreams; ++s) a[s] = arx<18>(a[s], b[s], c[s]);
    for (int s = 0; s < kStreams; ++s) {
      b[s] = _mm_shuffle_epi32(b[s], 0x39);
      c[s] = _mm_shuffle_epi32(c[s], 0x4e);
      d[s] = _mm_shuffle_epi32(d[s], 0x93);
    }
  }
  for (int s = 0; s < kStreams; ++s) {
    x[s][off] = _mm_add_epi32(x[s][off], a[s]);
    x[s][off + 1] = _mm_add_epi32(x[s][off + 1], b[s]);
    x[s][off + 2] = _mm_add_epi32(x[s][off + 2], c[s]);
    x[s][off + 3] = _mm_add_epi32(x[s][off + 3], d[s]);
  }
}

inline void blockmix_streams(__m128i (&x)[kStreams][8]) {
  for (int s = 0; s < kStreams; ++s)
    for (int q = 0; q < 4; ++q) x[s][q] = _mm_xor_si128(x[s][q], x[s][q + 4]);
  salsa20_8_streams(x, 0);
  for (int s = 0; s < kStreams; ++s)
    for (int q = 0; q < 4; ++q) x[s][q + 4] = _mm_xor_si128(x[s][q + 4], x[s][q]);
  salsa20_8_streams(x, 4);
}

}  // namespace

void romix_1024_sse2(uint32_t* words, void* scratch) {
  __m128i x[kStreams][8];
  for (int s = 0; s < kStreams; ++s) {
    alignas(16) uint32_t d[32];
    for (int i = 0; i < 32; ++i) d[i] = words[s * 32 + (i & 16) + diagonal_index(i & 15)];
    for (int q = 0; q < 8; ++q) x[s][q] = _mm_load_si128(reinterpret_cast<const __m128i*>(d + 4 * q));
  }
  // V[s][i] = 8 registers (128 bytes) per stream and step.
  __m128i* v = static_cast<__m128i*>(scratch);
  for (int i = 0; i < 1024; ++i) {
    for (int s = 0; s < kStreams; ++s)
      for (int q = 0; q < 8; ++q) _mm_store_si128(v + (s * 1024 + i) * 8 + q, x[s][q]);
    blockmix_streams(x);
  }
  for (int i = 0; i < 1024; ++i) {
    for (int s = 0; s < kStreams; ++s) {
      const __m128i* vj = v + (s * 1024 + (_mm_cvtsi128_si32(x[s][4]) & 1023)) * 8;
      for (int q = 0; q < 8; ++q) x[s][q] = _mm_xor_si128(x[s][q], _mm_load_si128(vj + q));
    }
    blockmix_streams(x);
  }
  for (int s = 0; s < kStreams; ++s) {
    alignas(16) uint32_t d[32];
    for (int q = 0; q < 8; ++q) _mm_store_si128(reinterpret_cast<__m128i*>(d + 4 * q), x[s][q]);
    for (int i = 0; i < 32; ++i) words[s * 32 + (i & 16) + diagonal_index(i & 15)] = d[i];
  }
}

#else  // no SSE2: never selected (scrypt_impl_supported says no)

void romix_1024_sse2(uint32_t*, void*) { throw std::logic_error("romix_1024_sse2: built without SSE2"); }

#endif

}  // namespace otedama::crypto::scrypt_detail
