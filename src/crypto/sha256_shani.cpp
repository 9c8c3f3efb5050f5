// SHA-256 with the x86 SHA extensions (sha256rnds2 / sha256msg1 / sha256msg2).
//
// sha256rnds2 does two rounds with a latency of about 4 cycles; a new one can start every
// 1-2 cycles (every 2 on Zen 5, measured), so one message leaves the unit mostly idle. The
// nonce search therefore runs kStreams independent nonces interleaved instruction by
// instruction (2, 3 and 4 streams measured within noise of each other on Zen 5).
//
// State layout used by the instructions: "ABEF" holds lanes {F, E, B, A} (lane 0 = F) and
// "CDGH" holds {H, G, D, C}. One sha256rnds2(cdgh, abef, wk) returns the ABEF after two
// rounds using wk lanes 0 and 1; the old ABEF becomes the new CDGH. So a quad of rounds is
// cdgh = rnds2(cdgh, abef, wk); abef = rnds2(abef, cdgh, wk >> 64), the roles alternating.
#include <immintrin.h>

#include <cstring>

#include "crypto/sha256.h"

namespace otedama::crypto::sha256_detail {
namespace {

#define OTEDAMA_INLINE inline __attribute__((always_inline))

constexpr int kStreams = int(kShaniStreams);

OTEDAMA_INLINE __m128i k4(int quad) { return _mm_load_si128(reinterpret_cast<const __m128i*>(&kK[4 * quad])); }

// state[0..7] -> (ABEF, CDGH)
OTEDAMA_INLINE void to_shani(const uint32_t state[8], __m128i& abef, __m128i& cdgh) {
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0xB1);
  __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), 0x1B);
  abef = _mm_alignr_epi8(abcd, efgh, 8);
  cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);
}

// (ABEF, CDGH) -> words {A,B,C,D} and {E,F,G,H} in lane order.
OTEDAMA_INLINE void from_shani(__m128i abef, __m128i cdgh, __m128i& abcd, __m128i& efgh) {
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  abcd = _mm_blend_epi16(feba, dchg, 0xF0);
  efgh = _mm_alignr_epi8(dchg, feba, 8);
}

// Message group j (W[4j..4j+3], j >= 4) from the previous four, computed in place of m[j-4].
OTEDAMA_INLINE __m128i next_group(__m128i m_4, __m128i m_3, __m128i m_2, __m128i m_1) {
  __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(m_4, m_3), _mm_alignr_epi8(m_1, m_2, 4));
  return _mm_sha256msg2_epu32(t, m_1);
}

// N independent compressions of one block each, message words already in m[s][0..3] (lane
// order W0..W3 etc.), from state (abef, cdgh). Quads [from_quad, 16); half_last: stop after
// rounds 60..61 (only the first sha256rnds2 of the last quad; its result goes to cdgh).
template <int N>
OTEDAMA_INLINE void rounds(__m128i (&abef)[N], __m128i (&cdgh)[N], __m128i (&m)[N][4], int from_quad,
                           bool half_last) {
#pragma GCC unroll 16
  for (int q = from_quad; q < 16; ++q) {
    const int j = q & 3;
    __m128i wk[N];
#pragma GCC unroll 4
    for (int s = 0; s < N; ++s) {
      if (q >= 4) m[s][j] = next_group(m[s][j], m[s][(j + 1) & 3], m[s][(j + 2) & 3], m[s][(j + 3) & 3]);
      wk[s] = _mm_add_epi32(m[s][j], k4(q));
    }
#pragma GCC unroll 4
    for (int s = 0; s < N; ++s) cdgh[s] = _mm_sha256rnds2_epu32(cdgh[s], abef[s], wk[s]);
    if (q == 15 && half_last) return;
#pragma GCC unroll 4
    for (int s = 0; s < N; ++s) abef[s] = _mm_sha256rnds2_epu32(abef[s], cdgh[s], _mm_shuffle_epi32(wk[s], 0x0E));
  }
}

}  // namespace

void compress_shani(uint32_t state[8], const uint8_t* data, size_t blocks) {
  const __m128i bswap_mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i abef[1], cdgh[1];
  to_shani(state, abef[0], cdgh[0]);
  for (; blocks > 0; --blocks, data += 64) {
    const __m128i abef_in = abef[0], cdgh_in = cdgh[0];
    __m128i m[1][4];
    for (int j = 0; j < 4; ++j)
      m[0][j] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * j)), bswap_mask);
    rounds<1>(abef, cdgh, m, 0, false);
    abef[0] = _mm_add_epi32(abef[0], abef_in);
    cdgh[0] = _mm_add_epi32(cdgh[0], cdgh_in);
  }
  __m128i abcd, efgh;
  from_shani(abef[0], cdgh[0], abcd, efgh);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), abcd);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), efgh);
}

uint32_t scan_shani(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out) {
  uint32_t found = 0;
  // First hash, block 2 = {W0, W1, W2, nonce | 0x80000000, 0, 0, 0 | 0, 0, 0, 0 | 0, 0, 0, 640}.
  const __m128i w0123 = _mm_setr_epi32(int(ctx.tail[0]), int(ctx.tail[1]), int(ctx.tail[2]), 0);
  const __m128i pad1_1 = _mm_setr_epi32(int(0x80000000), 0, 0, 0);
  const __m128i pad1_3 = _mm_setr_epi32(0, 0, 0, 640);
  // Second hash: {digest words 0..7 | 0x80000000, 0, 0, 0 | 0, 0, 0, 256}.
  const __m128i pad2_3 = _mm_setr_epi32(0, 0, 0, 256);
  __m128i mid_abef, mid_cdgh, init_abef, init_cdgh;
  to_shani(ctx.midstate, mid_abef, mid_cdgh);
  to_shani(kInit, init_abef, init_cdgh);
  // Rounds 0..1 use only W0 and W1: done once. After them ABEF is r2_abef, CDGH the old ABEF.
  const __m128i r2_abef = _mm_sha256rnds2_epu32(mid_cdgh, mid_abef, _mm_add_epi32(w0123, k4(0)));
  const uint32_t top_target = ctx.top_target;

  for (uint32_t i = 0; i < count; i += kStreams) {
    __m128i abef[kStreams], cdgh[kStreams], m[kStreams][4];
#pragma GCC unroll 4
    for (int s = 0; s < kStreams; ++s) {
      m[s][0] = _mm_insert_epi32(w0123, int(__builtin_bswap32(first + i + uint32_t(s))), 3);
      m[s][1] = pad1_1;
      m[s][2] = _mm_setzero_si128();
      m[s][3] = pad1_3;
      // Rounds 2..3, finishing quad 0.
      abef[s] = _mm_sha256rnds2_epu32(mid_abef, r2_abef, _mm_shuffle_epi32(_mm_add_epi32(m[s][0], k4(0)), 0x0E));
      cdgh[s] = r2_abef;
    }
    rounds<kStreams>(abef, cdgh, m, 1, false);
#pragma GCC unroll 4
    for (int s = 0; s < kStreams; ++s) {
      from_shani(_mm_add_epi32(abef[s], mid_abef), _mm_add_epi32(cdgh[s], mid_cdgh), m[s][0], m[s][1]);
      m[s][2] = pad1_1;
      m[s][3] = pad2_3;
      abef[s] = init_abef;
      cdgh[s] = init_cdgh;
    }
    // The final word 7 is h after round 63 = f after round 61: lane 0 of the ABEF that the
    // first half of the last quad leaves in cdgh.
    rounds<kStreams>(abef, cdgh, m, 0, true);
    for (int s = 0; s < kStreams; ++s) {
      const uint32_t top = __builtin_bswap32(uint32_t(_mm_cvtsi128_si32(cdgh[s])) + kInit[7]);
      if (top <= top_target && i + uint32_t(s) < count) out[found++] = first + i + uint32_t(s);
    }
  }
  return found;
}

}  // namespace otedama::crypto::sha256_detail
