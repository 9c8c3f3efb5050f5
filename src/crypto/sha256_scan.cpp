// The sha256d nonce search: the nonce-independent precomputation, the driver that runs a
// kernel over a range in chunks (so `stop` is seen often) and confirms its candidates with
// the full 256-bit comparison, and the portable kernel.
#include <cstring>
#include <stdexcept>
#include <string>

#include "crypto/sha256.h"

namespace otedama::crypto {
namespace sha256_detail {
namespace {

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
inline uint32_t big_sigma0(uint32_t a) { return rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22); }
inline uint32_t big_sigma1(uint32_t e) { return rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25); }
inline uint32_t ch(uint32_t e, uint32_t f, uint32_t g) { return ((f ^ g) & e) ^ g; }
inline uint32_t maj(uint32_t a, uint32_t b, uint32_t c) { return (a & b) | (c & (a | b)); }

// One round on s = {a..h}; kw = K[t] + W[t].
inline void round(uint32_t s[8], uint32_t kw) {
  uint32_t t1 = s[7] + big_sigma1(s[4]) + ch(s[4], s[5], s[6]) + kw;
  uint32_t t2 = big_sigma0(s[0]) + maj(s[0], s[1], s[2]);
  s[7] = s[6]; s[6] = s[5]; s[5] = s[4]; s[4] = s[3] + t1;
  s[3] = s[2]; s[2] = s[1]; s[1] = s[0]; s[0] = t1 + t2;
}

inline void expand(uint32_t w[64], int upto) {
  for (int t = 16; t < upto; ++t) {
    uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
}

}  // namespace

ScanContext make_scan_context(const uint8_t header[80], const U256& target) {
  ScanContext ctx{};
  std::memcpy(ctx.midstate, kInit, sizeof ctx.midstate);
  compress_portable(ctx.midstate, header, 1);
  for (int i = 0; i < 3; ++i) ctx.tail[i] = read_be32(header + 64 + 4 * i);
  std::memcpy(ctx.state3, ctx.midstate, sizeof ctx.state3);
  for (int t = 0; t < 3; ++t) round(ctx.state3, kK[t] + ctx.tail[t]);
  const uint32_t* s = ctx.state3;
  ctx.round3_t1 = s[7] + big_sigma1(s[4]) + ch(s[4], s[5], s[6]) + kK[3];
  ctx.round3_t2 = big_sigma0(s[0]) + maj(s[0], s[1], s[2]);
  ctx.top_target = uint32_t(target.w[3] >> 32);
  return ctx;
}

uint32_t scan_portable(const ScanContext& ctx, uint32_t first, uint32_t count, uint32_t* out) {
  uint32_t found = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t nonce = first + i;
    // First hash, second block: header words 16..19 then fixed padding (640 bits).
    uint32_t w[64] = {ctx.tail[0], ctx.tail[1], ctx.tail[2], __builtin_bswap32(nonce), 0x80000000};
    w[15] = 640;
    expand(w, 64);
    uint32_t s[8];
    std::memcpy(s, ctx.state3, sizeof s);
    const uint32_t t1 = ctx.round3_t1 + w[3];
    s[7] = s[6]; s[6] = s[5]; s[5] = s[4]; s[4] = s[3] + t1;
    s[3] = s[2]; s[2] = s[1]; s[1] = s[0]; s[0] = t1 + ctx.round3_t2;
    for (int t = 4; t < 64; ++t) round(s, kK[t] + w[t]);
    // Second hash: the 32-byte digest then fixed padding (256 bits).
    uint32_t v[64] = {};
    for (int j = 0; j < 8; ++j) v[j] = ctx.midstate[j] + s[j];
    v[8] = 0x80000000;
    v[15] = 256;
    expand(v, 61);
    std::memcpy(s, kInit, sizeof s);
    // Final word 7 is h after round 63 = e after round 60: rounds 61..63 are not needed.
    for (int t = 0; t <= 60; ++t) round(s, kK[t] + v[t]);
    const uint32_t top = __builtin_bswap32(kInit[7] + s[4]);
    if (top <= ctx.top_target) out[found++] = nonce;
  }
  return found;
}

}  // namespace sha256_detail

using namespace sha256_detail;

namespace {
ScanKernel kernel_for(ShaImpl impl) {
  switch (impl) {
    case ShaImpl::shani: return scan_shani;
    case ShaImpl::avx2: return scan_avx2;
    case ShaImpl::avx512: return scan_avx512;
    case ShaImpl::shani_avx512: return scan_shani_avx512;
    case ShaImpl::portable: break;
  }
  return scan_portable;
}
}  // namespace

uint64_t sha256d_scan(ShaImpl impl, const uint8_t header[80], const U256& target, uint32_t first,
                      uint32_t last, std::vector<uint32_t>& hits, const std::atomic<bool>* stop) {
  if (first > last) throw std::invalid_argument("sha256d_scan: first nonce is greater than last");
  if (!sha_impl_supported(impl))
    throw std::invalid_argument(std::string("sha256d_scan: implementation '") + to_string(impl) +
                                "' is not supported by this CPU");
  const ScanKernel kernel = kernel_for(impl);
  const ScanContext ctx = make_scan_context(header, target);
  // About a millisecond of work per chunk with the fast kernels, a few with the portable one.
  const uint32_t chunk = 16384 * sha_impl_lanes(impl);

  uint8_t h[80];
  std::memcpy(h, header, 80);
  std::vector<uint32_t> candidates(chunk);
  uint64_t done = 0;
  uint32_t n = first;
  for (;;) {
    if (stop && stop->load(std::memory_order_relaxed)) break;
    const uint64_t left = uint64_t(last) - n + 1;
    const uint32_t count = left < chunk ? uint32_t(left) : chunk;
    const uint32_t found = kernel(ctx, n, count, candidates.data());
    for (uint32_t c = 0; c < found; ++c) {
      const uint32_t nonce = candidates[c];
      for (int b = 0; b < 4; ++b) h[76 + b] = uint8_t(nonce >> (8 * b));
      const Hash256 digest = sha256d(ByteSpan(h, 80));
      if (U256::from_le_bytes(digest.data()) <= target) hits.push_back(nonce);
    }
    done += count;
    if (count == left) break;
    n += count;
  }
  return done;
}

}  // namespace otedama::crypto
