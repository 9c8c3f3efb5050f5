// The sha256d nonce search on SHA-NI and AVX-512 at once, in one thread.
//
// sha256rnds2 issues only every other cycle on this class of CPU (Zen 5: latency 4,
// reciprocal throughput 2), which caps SHA-NI alone near 124 cycles per nonce, while
// AVX-512 alone is bound by the vector pipes. They use different execution resources, so this
// kernel interleaves them step by step: each SHA-NI quad of rounds is followed by
// kVectorPerStep AVX-512 rounds. With one SHA-NI nonce beside 16 vector lanes the schedules
// line up exactly (hash 1: quads 1..15 against vector rounds 4..63; hash 2: quads 0..15
// against rounds 0..60). More SHA-NI work per iteration (more streams, or a chain of
// nonces) spilled registers or grew the code past the caches and measured slower.
//
// Like sha256_avx512.cpp this file sets its own target after the library headers.
#include <immintrin.h>

#include "crypto/sha256.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,sha,sse4.1,ssse3")
// GCC 12's rotate intrinsics start from _mm512_undefined_epi32(), which -Wmaybe-uninitialized flags.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace otedama::crypto::sha256_detail {
namespace {

#define OTEDAMA_INLINE inline __attribute__((always_inline))

constexpr int kVectorLanes = 16;
constexpr int kShaChain = int(kHybridShaNonces);  // SHA-NI nonces per iteration, one after another
constexpr int kShaQuads = 31;  // SHA-NI steps per nonce
constexpr uint32_t kStep = kVectorLanes + kShaChain;
constexpr int kVectorPerStep = (121 + kShaChain * kShaQuads - 1) / (kShaChain * kShaQuads);

// ---- AVX-512 part (as in sha256_avx512.cpp) --------------------------------------------
using Z = __m512i;

OTEDAMA_INLINE Z splat(uint32_t x) { return _mm512_set1_epi32(int(x)); }
OTEDAMA_INLINE Z add(Z a, Z b) { return _mm512_add_epi32(a, b); }
OTEDAMA_INLINE Z xor3(Z a, Z b, Z c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
OTEDAMA_INLINE Z big_sigma0(Z a) { return xor3(_mm512_ror_epi32(a, 2), _mm512_ror_epi32(a, 13), _mm512_ror_epi32(a, 22)); }
OTEDAMA_INLINE Z big_sigma1(Z e) { return xor3(_mm512_ror_epi32(e, 6), _mm512_ror_epi32(e, 11), _mm512_ror_epi32(e, 25)); }
OTEDAMA_INLINE Z small_sigma0(Z w) { return xor3(_mm512_ror_epi32(w, 7), _mm512_ror_epi32(w, 18), _mm512_srli_epi32(w, 3)); }
OTEDAMA_INLINE Z small_sigma1(Z w) { return xor3(_mm512_ror_epi32(w, 17), _mm512_ror_epi32(w, 19), _mm512_srli_epi32(w, 10)); }
OTEDAMA_INLINE Z ch(Z e, Z f, Z g) { return _mm512_ternarylogic_epi32(e, f, g, 0xCA); }
OTEDAMA_INLINE Z maj(Z a, Z b, Z c) { return _mm512_ternarylogic_epi32(a, b, c, 0xE8); }
OTEDAMA_INLINE Z bswap(Z x) {
  return _mm512_ternarylogic_epi32(_mm512_rol_epi32(x, 8), _mm512_ror_epi32(x, 8), splat(0x00ff00ff), 0xE4);
}

OTEDAMA_INLINE void vector_rounds(Z (&s)[8], Z (&w)[16], int from, int to) {
  Z a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma GCC unroll 8
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

// ---- SHA-NI part (as in sha256_shani.cpp) ----------------------------------------------
OTEDAMA_INLINE __m128i k4(int quad) { return _mm_load_si128(reinterpret_cast<const __m128i*>(&kK[4 * quad])); }

OTEDAMA_INLINE void to_shani(const uint32_t state[8], __m128i& abef, __m128i& cdgh) {
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0xB1);
  __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), 0x1B);
  abef = _mm_alignr_epi8(abcd, efgh, 8);
  cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);
}

OTEDAMA_INLINE void from_shani(__m128i abef, __m128i cdgh, __m128i& abcd, __m128i& efgh) {
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  abcd = _mm_blend_epi16(feba, dchg, 0xF0);
  efgh = _mm_alignr_epi8(dchg, feba, 8);
}

OTEDAMA_INLINE __m128i next_group(__m128i m_4, __m128i m_3, __m128i m_2, __m128i m_1) {
  __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(m_4, m_3), _mm_alignr_epi8(m_1, m_2, 4));
  return _mm_sha256msg2_epu32(t, m_1);
}

// One SHA-NI message in flight: state and the rolling message schedule.
struct ShaStream {
  __m128i abef, cdgh, m[4];
};

// Quad q of rounds; half: only rounds 4q, 4q+1 (result left in cdgh).
OTEDAMA_INLINE void sha_quad(ShaStream& x, int q, bool half) {
  const int j = q & 3;
  if (q >= 4) x.m[j] = next_group(x.m[j], x.m[(j + 1) & 3], x.m[(j + 2) & 3], x.m[(j + 3) & 3]);
  const __m128i wk = _mm_add_epi32(x.m[j], k4(q));
  x.cdgh = _mm_sha256rnds2_epu32(x.cdgh, x.abef, wk);
  if (half) return;
  x.abef = _mm_sha256rnds2_epu32(x.abef, x.cdgh, _mm_shuffle_epi32(wk, 0x0E));
}

}  // namespace

uint32_t scan_shani_avx512(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out) {
  uint32_t found = 0;
  const Z lane_offsets = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const Z limit = splat(ctx.top_target);
  const __m128i w0123 = _mm_setr_epi32(int(ctx.tail[0]), int(ctx.tail[1]), int(ctx.tail[2]), 0);
  const __m128i pad1_1 = _mm_setr_epi32(int(0x80000000), 0, 0, 0);
  const __m128i pad1_3 = _mm_setr_epi32(0, 0, 0, 640);
  const __m128i pad2_3 = _mm_setr_epi32(0, 0, 0, 256);
  __m128i mid_abef, mid_cdgh, init_abef, init_cdgh;
  to_shani(ctx.midstate, mid_abef, mid_cdgh);
  to_shani(kInit, init_abef, init_cdgh);
  const __m128i r2_abef = _mm_sha256rnds2_epu32(mid_cdgh, mid_abef, _mm_add_epi32(w0123, k4(0)));

  for (uint32_t i = 0; i < count; i += kStep) {
    // Vector lanes take nonces i .. i+15, the SHA-NI chain i+16 .. (increasing output order).
    Z s[8], w[16];
    w[0] = splat(ctx.tail[0]);
    w[1] = splat(ctx.tail[1]);
    w[2] = splat(ctx.tail[2]);
    w[3] = bswap(add(splat(first + i), lane_offsets));
    w[4] = splat(0x80000000);
    for (int t = 5; t < 15; ++t) w[t] = _mm512_setzero_si512();
    w[15] = splat(640);
    const Z t1 = add(splat(ctx.round3_t1), w[3]);
    s[0] = add(t1, splat(ctx.round3_t2));
    s[1] = splat(ctx.state3[0]);
    s[2] = splat(ctx.state3[1]);
    s[3] = splat(ctx.state3[2]);
    s[4] = add(splat(ctx.state3[3]), t1);
    s[5] = splat(ctx.state3[4]);
    s[6] = splat(ctx.state3[5]);
    s[7] = splat(ctx.state3[6]);

    ShaStream x;
    uint32_t sha_pass = 0;
    // One step = one SHA-NI quad and one vector round. Vector: steps 0..59 are hash-1
    // rounds 4..63, steps 60..120 hash-2 rounds 0..60. SHA-NI: kShaChain nonces one after
    // another, kShaQuads steps each (hash-1 quads 1..15, hash-2 quads 0..15, last half).
#pragma GCC unroll 256
    for (int step = 0; step < kShaChain * kShaQuads; ++step) {
      const int k = step / kShaQuads, qs = step % kShaQuads;
      if (qs == 0) {
        x.m[0] = _mm_insert_epi32(w0123, int(__builtin_bswap32(first + i + kVectorLanes + uint32_t(k))), 3);
        x.m[1] = pad1_1;
        x.m[2] = _mm_setzero_si128();
        x.m[3] = pad1_3;
        x.abef = _mm_sha256rnds2_epu32(mid_abef, r2_abef, _mm_shuffle_epi32(_mm_add_epi32(x.m[0], k4(0)), 0x0E));
        x.cdgh = r2_abef;
      }
      if (qs < 15) {
        sha_quad(x, qs + 1, false);
      } else {
        if (qs == 15) {
          from_shani(_mm_add_epi32(x.abef, mid_abef), _mm_add_epi32(x.cdgh, mid_cdgh), x.m[0], x.m[1]);
          x.m[2] = pad1_1;
          x.m[3] = pad2_3;
          x.abef = init_abef;
          x.cdgh = init_cdgh;
        }
        sha_quad(x, qs - 15, qs == kShaQuads - 1);
      }
      if (qs == kShaQuads - 1) {
        // Final word 7 = f after round 61 (lane 0 of the ABEF left in cdgh).
        const uint32_t word = __builtin_bswap32(uint32_t(_mm_cvtsi128_si32(x.cdgh)) + kInit[7]);
        if (word <= ctx.top_target) sha_pass |= 1u << k;
      }

      // Vector rounds kVectorPerStep at a time over the sequence v = 0..120.
      for (int v = step * kVectorPerStep; v < (step + 1) * kVectorPerStep && v < 121; ++v) {
        if (v < 60) {
          vector_rounds(s, w, v + 4, v + 5);
          continue;
        }
        if (v == 60) {
          for (int j = 0; j < 8; ++j) w[j] = add(s[j], splat(ctx.midstate[j]));
          w[8] = splat(0x80000000);
          for (int t = 9; t < 15; ++t) w[t] = _mm512_setzero_si512();
          w[15] = splat(256);
          for (int j = 0; j < 8; ++j) s[j] = splat(kInit[j]);
        }
        vector_rounds(s, w, v - 60, v - 59);
      }
    }

    // Final word 7 = e after round 60.
    const Z top = bswap(add(s[4], splat(kInit[7])));
    uint32_t pass = _mm512_cmple_epu32_mask(top, limit) | sha_pass << kVectorLanes;
    if (count - i < kStep) pass &= (1u << (count - i)) - 1;
    while (pass) {
      out[found++] = first + i + uint32_t(__builtin_ctz(pass));
      pass &= pass - 1;
    }
  }
  return found;
}

}  // namespace otedama::crypto::sha256_detail

#pragma GCC pop_options
