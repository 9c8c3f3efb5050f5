// SHA-256 eight lanes at a time with AVX2: lane i of every vector belongs to message i.
//
// The rounds are written as one loop with constant trip counts; fully unrolled, the message
// words that are constant in the nonce search (padding, header tail, zeros) fold away at
// compile time, which is the hand-specialised schedule other miners write out.
#include <immintrin.h>

#include "crypto/sha256.h"

namespace otedama::crypto::sha256_detail {
namespace {

#define OTEDAMA_INLINE inline __attribute__((always_inline))

using V = __m256i;

// A local copy of read_be32: this file is compiled with -mavx2, and an out-of-line copy of
// a shared inline function emitted here could be the one the linker keeps for everybody.
inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

OTEDAMA_INLINE V splat(uint32_t x) { return _mm256_set1_epi32(int(x)); }
OTEDAMA_INLINE V add(V a, V b) { return _mm256_add_epi32(a, b); }
OTEDAMA_INLINE V rotr(V x, int n) { return _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - n)); }
OTEDAMA_INLINE V big_sigma0(V a) { return _mm256_xor_si256(_mm256_xor_si256(rotr(a, 2), rotr(a, 13)), rotr(a, 22)); }
OTEDAMA_INLINE V big_sigma1(V e) { return _mm256_xor_si256(_mm256_xor_si256(rotr(e, 6), rotr(e, 11)), rotr(e, 25)); }
OTEDAMA_INLINE V small_sigma0(V w) {
  return _mm256_xor_si256(_mm256_xor_si256(rotr(w, 7), rotr(w, 18)), _mm256_srli_epi32(w, 3));
}
OTEDAMA_INLINE V small_sigma1(V w) {
  return _mm256_xor_si256(_mm256_xor_si256(rotr(w, 17), rotr(w, 19)), _mm256_srli_epi32(w, 10));
}
OTEDAMA_INLINE V ch(V e, V f, V g) { return _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256(f, g), e), g); }
OTEDAMA_INLINE V maj(V a, V b, V c) {
  return _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(c, _mm256_or_si256(a, b)));
}

// Rounds [from, to) on state s = {a..h} with the rolling 16-word schedule w (w[t & 15]
// holds W[t] once computed; rounds >= 16 compute it in place).
OTEDAMA_INLINE void rounds(V (&s)[8], V (&w)[16], int from, int to) {
  V a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma GCC unroll 64
  for (int t = from; t < to; ++t) {
    if (t >= 16)
      w[t & 15] = add(add(w[t & 15], small_sigma0(w[(t - 15) & 15])),
                      add(w[(t - 7) & 15], small_sigma1(w[(t - 2) & 15])));
    const V t1 = add(add(h, big_sigma1(e)), add(ch(e, f, g), add(splat(kK[t]), w[t & 15])));
    const V t2 = add(big_sigma0(a), maj(a, b, c));
    h = g; g = f; f = e; e = add(d, t1);
    d = c; c = b; b = a; a = add(t1, t2);
  }
  s[0] = a; s[1] = b; s[2] = c; s[3] = d; s[4] = e; s[5] = f; s[6] = g; s[7] = h;
}

}  // namespace

void compress_avx2_x8(uint32_t states[8][8], const uint8_t* const blocks[8]) {
  alignas(32) uint32_t lanes[8];
  V s[8], in[8], w[16];
  for (int k = 0; k < 8; ++k) {
    for (int l = 0; l < 8; ++l) lanes[l] = states[l][k];
    in[k] = s[k] = _mm256_load_si256(reinterpret_cast<const V*>(lanes));
  }
  for (int t = 0; t < 16; ++t) {
    for (int l = 0; l < 8; ++l) lanes[l] = load_be32(blocks[l] + 4 * t);
    w[t] = _mm256_load_si256(reinterpret_cast<const V*>(lanes));
  }
  rounds(s, w, 0, 64);
  for (int k = 0; k < 8; ++k) {
    _mm256_store_si256(reinterpret_cast<V*>(lanes), add(s[k], in[k]));
    for (int l = 0; l < 8; ++l) states[l][k] = lanes[l];
  }
}

uint32_t scan_avx2(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out) {
  uint32_t found = 0;
  const V lane_offsets = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const V byte_swap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                                       3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
  // Compared as signed after flipping the sign bit: unsigned top <= top_target.
  const V sign = splat(0x80000000);
  const V limit = _mm256_xor_si256(splat(ctx.top_target), sign);

  for (uint32_t i = 0; i < count; i += 8) {
    const V nonces = add(splat(first + i), lane_offsets);
    V s[8], w[16];
    // First hash, block 2: W0..W2 header tail, W3 the nonce, then padding for 640 bits.
    w[0] = splat(ctx.tail[0]);
    w[1] = splat(ctx.tail[1]);
    w[2] = splat(ctx.tail[2]);
    w[3] = _mm256_shuffle_epi8(nonces, byte_swap);
    w[4] = splat(0x80000000);
    for (int t = 5; t < 15; ++t) w[t] = _mm256_setzero_si256();
    w[15] = splat(640);
    // Rounds 0..2 are in ctx.state3; round 3 is T1 = round3_t1 + W3.
    for (int k = 0; k < 8; ++k) s[k] = splat(ctx.state3[k]);
    const V t1 = add(splat(ctx.round3_t1), w[3]);
    V r4[8] = {add(t1, splat(ctx.round3_t2)), s[0], s[1], s[2], add(s[3], t1), s[4], s[5], s[6]};
    rounds(r4, w, 4, 64);
    // Second hash: the digest, then padding for 256 bits.
    for (int k = 0; k < 8; ++k) w[k] = add(r4[k], splat(ctx.midstate[k]));
    w[8] = splat(0x80000000);
    for (int t = 9; t < 15; ++t) w[t] = _mm256_setzero_si256();
    w[15] = splat(256);
    for (int k = 0; k < 8; ++k) s[k] = splat(kInit[k]);
    // Final word 7 is h after round 63 = e after round 60.
    rounds(s, w, 0, 61);
    const V top = _mm256_shuffle_epi8(add(s[4], splat(kInit[7])), byte_swap);
    const V above = _mm256_cmpgt_epi32(_mm256_xor_si256(top, sign), limit);
    unsigned pass = ~unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(above))) & 0xffu;
    if (count - i < 8) pass &= (1u << (count - i)) - 1;
    while (pass) {
      const int lane = __builtin_ctz(pass);
      out[found++] = first + i + uint32_t(lane);
      pass &= pass - 1;
    }
  }
  return found;
}

}  // namespace otedama::crypto::sha256_detail
