// SHA-256 compression with the SHA extensions, for the PBKDF2 around the scrypt kernels
// (16 compressions per hash: a tenth of the time of the AVX-512 kernel when done in C).
// Compiled with -msse4.1 -msha -mssse3; used only where CPUID reports SHA-NI.
#include "crypto/scrypt.h"

#include <immintrin.h>

namespace otedama::crypto::scrypt_detail {

namespace {

alignas(16) constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

}  // namespace

// The message words are already big-endian decoded, so they load without a byte shuffle.
void sha256_compress_shani(uint32_t state[8], const uint32_t m[16]) {
  __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));        // A B C D
  __m128i st1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));    // E F G H
  tmp = _mm_shuffle_epi32(tmp, 0xb1);
  st1 = _mm_shuffle_epi32(st1, 0x1b);
  __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);  // ABEF
  st1 = _mm_blend_epi16(st1, tmp, 0xf0);        // CDGH
  const __m128i abef = st0, cdgh = st1;

  __m128i w[4];
  for (int g = 0; g < 4; ++g) w[g] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(m + 4 * g));
#pragma GCC unroll 16
  for (int g = 0; g < 16; ++g) {
    if (g >= 4) {  // words 4g..4g+3 from the previous sixteen
      __m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
      x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
      w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
    }
    __m128i wk = _mm_add_epi32(w[g & 3], _mm_load_si128(reinterpret_cast<const __m128i*>(kK + 4 * g)));
    st1 = _mm_sha256rnds2_epu32(st1, st0, wk);
    st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(wk, 0x0e));
  }

  st0 = _mm_add_epi32(st0, abef);
  st1 = _mm_add_epi32(st1, cdgh);
  tmp = _mm_shuffle_epi32(st0, 0x1b);            // FEBA
  st1 = _mm_shuffle_epi32(st1, 0xb1);            // DCHG
  st0 = _mm_blend_epi16(tmp, st1, 0xf0);         // DCBA
  st1 = _mm_alignr_epi8(st1, tmp, 8);            // HGFE
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), st0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), st1);
}

}  // namespace otedama::crypto::scrypt_detail
