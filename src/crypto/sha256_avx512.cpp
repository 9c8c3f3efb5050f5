// The sha256d nonce search sixteen lanes at a time with AVX-512 (F + VL), which has the two
// things SHA-256 wants from a vector unit: a rotate (vprord) and three-input logic
// (vpternlogd: Ch, Maj and the Sigma xors in one instruction each).
//
// The build gives ISA flags by file-name suffix for shani/avx2/sse41 only, so this file
// switches the target itself, after all library headers: nothing here instantiates library
// code, and the driver calls it only when CPUID reports AVX-512F and AVX-512VL.
#include <immintrin.h>

#include "crypto/sha256.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
// GCC 12's rotate intrinsics start from _mm512_undefined_epi32(), which -Wmaybe-uninitialized flags.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace otedama::crypto::sha256_detail {
namespace {

#define OTEDAMA_INLINE inline __attribute__((always_inline))

using Z = __m512i;

OTEDAMA_INLINE Z splat(uint32_t x) { return _mm512_set1_epi32(int(x)); }
OTEDAMA_INLINE Z add(Z a, Z b) { return _mm512_add_epi32(a, b); }
OTEDAMA_INLINE Z xor3(Z a, Z b, Z c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
OTEDAMA_INLINE Z big_sigma0(Z a) { return xor3(_mm512_ror_epi32(a, 2), _mm512_ror_epi32(a, 13), _mm512_ror_epi32(a, 22)); }
OTEDAMA_INLINE Z big_sigma1(Z e) { return xor3(_mm512_ror_epi32(e, 6), _mm512_ror_epi32(e, 11), _mm512_ror_epi32(e, 25)); }
OTEDAMA_INLINE Z small_sigma0(Z w) { return xor3(_mm512_ror_epi32(w, 7), _mm512_ror_epi32(w, 18), _mm512_srli_epi32(w, 3)); }
OTEDAMA_INLINE Z small_sigma1(Z w) { return xor3(_mm512_ror_epi32(w, 17), _mm512_ror_epi32(w, 19), _mm512_srli_epi32(w, 10)); }
OTEDAMA_INLINE Z ch(Z e, Z f, Z g) { return _mm512_ternarylogic_epi32(e, f, g, 0xCA); }   // e ? f : g
OTEDAMA_INLINE Z maj(Z a, Z b, Z c) { return _mm512_ternarylogic_epi32(a, b, c, 0xE8); }  // majority
// Byte swap: bytes 0 and 2 from rol 8, bytes 1 and 3 from ror 8.
OTEDAMA_INLINE Z bswap(Z x) {
  return _mm512_ternarylogic_epi32(_mm512_rol_epi32(x, 8), _mm512_ror_epi32(x, 8), splat(0x00ff00ff), 0xE4);
}

// Rounds [from, to) on s = {a..h} with the rolling schedule w (see sha256_avx2.cpp).
OTEDAMA_INLINE void rounds(Z (&s)[8], Z (&w)[16], int from, int to) {
  Z a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma GCC unroll 64
  for (int t = from; t < to; ++t) {
    if (t >= 16)
      w[t & 15] = add(add(w[t & 15], small_sigma0(w[(t - 15) & 15])),
                      add(w[(t - 7) & 15], small_sigma1(w[(t - 2) & 15])));
    const Z t1 = add(add(h, big_sigma1(e)), add(ch(e, f, g), add(splat(kK[t]), w[t & 15])));
    const Z t2 = add(big_sigma0(a), maj(a, b, c));
    h = g; g = f; f = e; e = add(d, t1);
    d = c; c = b; b = a; a = add(t1, t2);
  }
  s[0] = a; s[1] = b; s[2] = c; s[3] = d; s[4] = e; s[5] = f; s[6] = g; s[7] = h;
}

}  // namespace

void compress_avx512_x16(uint32_t states[16][8], const uint8_t* const blocks[16]) {
  alignas(64) uint32_t lanes[16];
  Z s[8], in[8], w[16];
  for (int k = 0; k < 8; ++k) {
    for (int l = 0; l < 16; ++l) lanes[l] = states[l][k];
    in[k] = s[k] = _mm512_load_si512(lanes);
  }
  for (int t = 0; t < 16; ++t) {
    for (int l = 0; l < 16; ++l) lanes[l] = read_be32(blocks[l] + 4 * t);
    w[t] = _mm512_load_si512(lanes);
  }
  rounds(s, w, 0, 64);
  for (int k = 0; k < 8; ++k) {
    _mm512_store_si512(lanes, add(s[k], in[k]));
    for (int l = 0; l < 16; ++l) states[l][k] = lanes[l];
  }
}

uint32_t scan_avx512(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out) {
  uint32_t found = 0;
  const Z lane_offsets = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const Z limit = splat(ctx.top_target);
  for (uint32_t i = 0; i < count; i += 16) {
    const Z nonces = add(splat(first + i), lane_offsets);
    Z s[8], w[16];
    // First hash, block 2: W0..W2 header tail, W3 the nonce, then padding for 640 bits.
    w[0] = splat(ctx.tail[0]);
    w[1] = splat(ctx.tail[1]);
    w[2] = splat(ctx.tail[2]);
    w[3] = bswap(nonces);
    w[4] = splat(0x80000000);
    for (int t = 5; t < 15; ++t) w[t] = _mm512_setzero_si512();
    w[15] = splat(640);
    // Rounds 0..2 are in ctx.state3; round 3 is T1 = round3_t1 + W3.
    const Z t1 = add(splat(ctx.round3_t1), w[3]);
    s[0] = add(t1, splat(ctx.round3_t2));
    s[1] = splat(ctx.state3[0]);
    s[2] = splat(ctx.state3[1]);
    s[3] = splat(ctx.state3[2]);
    s[4] = add(splat(ctx.state3[3]), t1);
    s[5] = splat(ctx.state3[4]);
    s[6] = splat(ctx.state3[5]);
    s[7] = splat(ctx.state3[6]);
    rounds(s, w, 4, 64);
    // Second hash: the digest, then padding for 256 bits.
    for (int k = 0; k < 8; ++k) w[k] = add(s[k], splat(ctx.midstate[k]));
    w[8] = splat(0x80000000);
    for (int t = 9; t < 15; ++t) w[t] = _mm512_setzero_si512();
    w[15] = splat(256);
    for (int k = 0; k < 8; ++k) s[k] = splat(kInit[k]);
    // Final word 7 is h after round 63 = e after round 60.
    rounds(s, w, 0, 61);
    // Digest bytes 28..31 read little-endian = byte-swapped word 7.
    const Z top = bswap(add(s[4], splat(kInit[7])));
    unsigned pass = _mm512_cmple_epu32_mask(top, limit);
    if (count - i < 16) pass &= (1u << (count - i)) - 1;
    while (pass) {
      out[found++] = first + i + uint32_t(__builtin_ctz(pass));
      pass &= pass - 1;
    }
  }
  return found;
}

}  // namespace otedama::crypto::sha256_detail

#pragma GCC pop_options
