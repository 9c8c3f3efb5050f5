// scrypt: general RFC 7914 scrypt, the portable kernel, and the mining scan around the
// SIMD ROMix kernels (scrypt_sse2.cpp, scrypt_avx2.cpp).
#include "crypto/scrypt.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace otedama::crypto {
namespace {

// ---- SHA-256 (own compression: the mining path calls it 16 times per hash) -----------

constexpr uint32_t kSha256K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr uint32_t kSha256Iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}
inline void store_le32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v), p[1] = uint8_t(v >> 8), p[2] = uint8_t(v >> 16), p[3] = uint8_t(v >> 24);
}
// Words in SHA-256 (big-endian) order <-> scrypt (little-endian) order of the same bytes.
inline uint32_t swap32(uint32_t v) { return __builtin_bswap32(v); }

// One SHA-256 compression of the 16 message words `m` (already big-endian decoded).
void sha256_compress(uint32_t state[8], const uint32_t m[16]) {
  uint32_t w[64];
  std::memcpy(w, m, 64);
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = std::rotr(w[i - 15], 7) ^ std::rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = std::rotr(w[i - 2], 17) ^ std::rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int i = 0; i < 64; ++i) {
    uint32_t t1 = h + (std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                  kSha256K[i] + w[i];
    uint32_t t2 = (std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  state[0] += a, state[1] += b, state[2] += c, state[3] += d;
  state[4] += e, state[5] += f, state[6] += g, state[7] += h;
}

// Streaming SHA-256 for the general (any length) PBKDF2.
struct Sha256 {
  uint32_t h[8];
  uint8_t buf[64];
  size_t buf_len = 0;
  uint64_t total = 0;

  Sha256() { std::memcpy(h, kSha256Iv, sizeof h); }
  void block(const uint8_t* p) {
    uint32_t m[16];
    for (int i = 0; i < 16; ++i) m[i] = load_be32(p + 4 * i);
    sha256_compress(h, m);
  }
  void update(const uint8_t* p, size_t n) {
    total += n;
    if (buf_len) {
      size_t take = std::min(n, 64 - buf_len);
      std::memcpy(buf + buf_len, p, take);
      buf_len += take, p += take, n -= take;
      if (buf_len < 64) return;
      block(buf);
      buf_len = 0;
    }
    for (; n >= 64; p += 64, n -= 64) block(p);
    std::memcpy(buf, p, n);
    buf_len = n;
  }
  void final(uint8_t out[32]) {
    uint64_t bits = total * 8;
    uint8_t pad[72] = {0x80};
    size_t pad_len = (buf_len < 56 ? 56 : 120) - buf_len;
    for (int i = 0; i < 8; ++i) pad[pad_len + i] = uint8_t(bits >> (56 - 8 * i));
    update(pad, pad_len + 8);
    for (int i = 0; i < 8; ++i) store_be32(out + 4 * i, h[i]);
  }
};

// HMAC-SHA256 keyed state: hashers that have absorbed K^ipad and K^opad.
struct Hmac {
  Sha256 inner, outer;
  explicit Hmac(ByteSpan key) {
    uint8_t k[64] = {};
    if (key.size() > 64) {
      Sha256 kh;
      kh.update(key.data(), key.size());
      kh.final(k);
    } else if (!key.empty()) {
      std::memcpy(k, key.data(), key.size());
    }
    uint8_t ipad[64], opad[64];
    for (int i = 0; i < 64; ++i) ipad[i] = k[i] ^ 0x36, opad[i] = k[i] ^ 0x5c;
    inner.update(ipad, 64);
    outer.update(opad, 64);
  }
  // HMAC of the message whose inner hasher is `in` (already fed): out = H(opad || H(ipad || m)).
  void finish(Sha256 in, uint8_t out[32]) const {
    in.final(out);
    Sha256 o = outer;
    o.update(out, 32);
    o.final(out);
  }
};

// ---- Salsa20/8, BlockMix, ROMix on little-endian words ---------------------------------

inline void salsa20_8_words(uint32_t b[16]) {
  uint32_t x[16];
  std::memcpy(x, b, 64);
  auto r = [](uint32_t v, int n) { return std::rotl(v, n); };
  for (int i = 0; i < 8; i += 2) {
    x[4] ^= r(x[0] + x[12], 7), x[8] ^= r(x[4] + x[0], 9);
    x[12] ^= r(x[8] + x[4], 13), x[0] ^= r(x[12] + x[8], 18);
    x[9] ^= r(x[5] + x[1], 7), x[13] ^= r(x[9] + x[5], 9);
    x[1] ^= r(x[13] + x[9], 13), x[5] ^= r(x[1] + x[13], 18);
    x[14] ^= r(x[10] + x[6], 7), x[2] ^= r(x[14] + x[10], 9);
    x[6] ^= r(x[2] + x[14], 13), x[10] ^= r(x[6] + x[2], 18);
    x[3] ^= r(x[15] + x[11], 7), x[7] ^= r(x[3] + x[15], 9);
    x[11] ^= r(x[7] + x[3], 13), x[15] ^= r(x[11] + x[7], 18);
    x[1] ^= r(x[0] + x[3], 7), x[2] ^= r(x[1] + x[0], 9);
    x[3] ^= r(x[2] + x[1], 13), x[0] ^= r(x[3] + x[2], 18);
    x[6] ^= r(x[5] + x[4], 7), x[7] ^= r(x[6] + x[5], 9);
    x[4] ^= r(x[7] + x[6], 13), x[5] ^= r(x[4] + x[7], 18);
    x[11] ^= r(x[10] + x[9], 7), x[8] ^= r(x[11] + x[10], 9);
    x[9] ^= r(x[8] + x[11], 13), x[10] ^= r(x[9] + x[8], 18);
    x[12] ^= r(x[15] + x[14], 7), x[13] ^= r(x[12] + x[15], 9);
    x[14] ^= r(x[13] + x[12], 13), x[15] ^= r(x[14] + x[13], 18);
  }
  for (int i = 0; i < 16; ++i) b[i] += x[i];
}

// Y = BlockMix(B) for 2r 64-byte blocks: even outputs first, then odd ones.
void blockmix_words(const uint32_t* b, uint32_t* y, uint32_t r) {
  uint32_t x[16];
  std::memcpy(x, b + (2 * r - 1) * 16, 64);
  for (uint32_t i = 0; i < 2 * r; ++i) {
    for (int k = 0; k < 16; ++k) x[k] ^= b[i * 16 + k];
    salsa20_8_words(x);
    std::memcpy(y + ((i / 2) + (i & 1) * r) * 16, x, 64);
  }
}

// ROMix in place on x (32r words); v holds N * 32r words, y 32r words.
void romix_words(uint32_t* x, uint32_t* v, uint32_t* y, uint64_t N, uint32_t r) {
  const size_t words = 32 * size_t(r);
  for (uint64_t i = 0; i < N; ++i) {
    std::memcpy(v + i * words, x, words * 4);
    blockmix_words(x, y, r);
    std::memcpy(x, y, words * 4);
  }
  const uint32_t* last = x + (2 * r - 1) * 16;
  for (uint64_t i = 0; i < N; ++i) {
    uint64_t j = (uint64_t(last[1]) << 32 | last[0]) & (N - 1);
    const uint32_t* vj = v + j * words;
    for (size_t k = 0; k < words; ++k) x[k] ^= vj[k];
    blockmix_words(x, y, r);
    std::memcpy(x, y, words * 4);
  }
}

// ROMix(N = 1024, r = 1) for one lane: the portable mining kernel.
void romix_1024_portable(uint32_t x[32], uint32_t* v) {
  auto mix = [](uint32_t* b) {
    for (int k = 0; k < 16; ++k) b[k] ^= b[16 + k];
    salsa20_8_words(b);
    for (int k = 0; k < 16; ++k) b[16 + k] ^= b[k];
    salsa20_8_words(b + 16);
  };
  for (int i = 0; i < 1024; ++i) {
    std::memcpy(v + i * 32, x, 128);
    mix(x);
  }
  for (int i = 0; i < 1024; ++i) {
    const uint32_t* vj = v + (x[16] & 1023) * 32;
    for (int k = 0; k < 32; ++k) x[k] ^= vj[k];
    mix(x);
  }
}

// ---- PBKDF2-HMAC-SHA256 specialised for the 80-byte header -------------------------------
//
// The password (80 bytes) is longer than the HMAC block, so the HMAC key is SHA256(header),
// which depends on the nonce: per job only the SHA-256 state after the first 64 header
// bytes is shared. Per nonce: 1 (key) + 2 (pads) + 1 + 4 + 4 (first PBKDF2) + 4 (second)
// compressions.

struct HeaderJob {
  uint32_t w[20];    // the header as big-endian words (w[19] is the nonce slot)
  uint32_t mid[8];   // SHA-256 state after header[0..64)
};

struct HmacStates {
  uint32_t inner[8], outer[8];  // after K^ipad and K^opad
};

// The compression the mining path uses: SHA-NI where the CPU has it. (The general
// PBKDF2 above and scrypt_1024_1_1 keep the C one, so tests see both agree.)
using CompressFn = void (*)(uint32_t*, const uint32_t*);

CompressFn mining_compress() {
#if defined(__x86_64__)
  static const CompressFn f = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1")
                                  ? &scrypt_detail::sha256_compress_shani
                                  : &sha256_compress;
  return f;
#else
  return &sha256_compress;
#endif
}

HeaderJob make_job(const uint8_t header[80], CompressFn compress) {
  HeaderJob job;
  for (int i = 0; i < 20; ++i) job.w[i] = load_be32(header + 4 * i);
  std::memcpy(job.mid, kSha256Iv, sizeof job.mid);
  compress(job.mid, job.w);
  return job;
}

// B = PBKDF2(header, header, 1, 128) as 32 little-endian words; keeps the HMAC states.
void pbkdf2_80_to_128(const HeaderJob& job, uint32_t nonce, HmacStates& hs, uint32_t x[32],
                      CompressFn compress) {
  const uint32_t nonce_be = swap32(nonce);
  uint32_t m[16];
  uint32_t key[8];
  std::memcpy(key, job.mid, sizeof key);
  m[0] = job.w[16], m[1] = job.w[17], m[2] = job.w[18], m[3] = nonce_be, m[4] = 0x80000000;
  std::fill(m + 5, m + 15, 0u);
  m[15] = 80 * 8;
  compress(key, m);

  for (int i = 0; i < 8; ++i) m[i] = key[i] ^ 0x36363636;
  std::fill(m + 8, m + 16, 0x36363636u);
  std::memcpy(hs.inner, kSha256Iv, sizeof hs.inner);
  compress(hs.inner, m);
  for (int i = 0; i < 8; ++i) m[i] = key[i] ^ 0x5c5c5c5c;
  std::fill(m + 8, m + 16, 0x5c5c5c5cu);
  std::memcpy(hs.outer, kSha256Iv, sizeof hs.outer);
  compress(hs.outer, m);

  uint32_t salted[8];  // inner hash after the first 64 salt bytes, shared by the 4 blocks
  std::memcpy(salted, hs.inner, sizeof salted);
  compress(salted, job.w);
  for (uint32_t blk = 1; blk <= 4; ++blk) {
    uint32_t s[8];
    std::memcpy(s, salted, sizeof s);
    m[0] = job.w[16], m[1] = job.w[17], m[2] = job.w[18], m[3] = nonce_be, m[4] = blk;
    m[5] = 0x80000000;
    std::fill(m + 6, m + 15, 0u);
    m[15] = (64 + 80 + 4) * 8;
    compress(s, m);
    uint32_t o[8];
    std::memcpy(o, hs.outer, sizeof o);
    std::memcpy(m, s, 32);
    m[8] = 0x80000000;
    std::fill(m + 9, m + 15, 0u);
    m[15] = (64 + 32) * 8;
    compress(o, m);
    for (int k = 0; k < 8; ++k) x[(blk - 1) * 8 + k] = swap32(o[k]);
  }
}

// digest = PBKDF2(header, B', 1, 32) from the kept HMAC states.
void pbkdf2_128_to_32(const HmacStates& hs, const uint32_t x[32], uint8_t out[32], CompressFn compress) {
  uint32_t s[8], m[16];
  std::memcpy(s, hs.inner, sizeof s);
  for (int k = 0; k < 16; ++k) m[k] = swap32(x[k]);
  compress(s, m);
  for (int k = 0; k < 16; ++k) m[k] = swap32(x[16 + k]);
  compress(s, m);
  m[0] = 1, m[1] = 0x80000000;
  std::fill(m + 2, m + 15, 0u);
  m[15] = (64 + 128 + 4) * 8;
  compress(s, m);
  uint32_t o[8];
  std::memcpy(o, hs.outer, sizeof o);
  std::memcpy(m, s, 32);
  m[8] = 0x80000000;
  std::fill(m + 9, m + 15, 0u);
  m[15] = (64 + 32) * 8;
  compress(o, m);
  for (int k = 0; k < 8; ++k) store_be32(out + 4 * k, o[k]);
}

// ---- scratchpad ----------------------------------------------------------------------

constexpr size_t kLaneScratch = 1024 * 128;  // V for N = 1024, r = 1

// Per-thread scratchpad, kept between scans so that its pages are touched once.
void* thread_scratch(unsigned lanes) {
  struct Buffer {
    void* p = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer buf;
  size_t need = lanes * kLaneScratch;
  if (buf.size < need) {
    std::free(buf.p);
    buf.p = std::aligned_alloc(64, need);
    if (!buf.p) throw std::bad_alloc();
    buf.size = need;
  }
  return buf.p;
}

constexpr unsigned kMaxLanes = 16;

void run_kernel(ScryptImpl impl, uint32_t* x, void* scratch) {
  switch (impl) {
    case ScryptImpl::portable: romix_1024_portable(x, static_cast<uint32_t*>(scratch)); return;
    case ScryptImpl::sse2: scrypt_detail::romix_1024_sse2(x, scratch); return;
    case ScryptImpl::avx2: scrypt_detail::romix_1024_avx2(x, scratch); return;
    case ScryptImpl::avx512: scrypt_detail::romix_1024_avx512(x, scratch); return;
  }
}

Bytes words_to_le_bytes(const uint32_t* w, size_t n) {
  Bytes out(n * 4);
  for (size_t i = 0; i < n; ++i) store_le32(out.data() + 4 * i, w[i]);
  return out;
}
std::vector<uint32_t> le_bytes_to_words(ByteSpan b) {
  std::vector<uint32_t> w(b.size() / 4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = load_le32(b.data() + 4 * i);
  return w;
}

}  // namespace

// ---- implementations and dispatch ------------------------------------------------------

bool scrypt_impl_supported(ScryptImpl impl) {
  switch (impl) {
    case ScryptImpl::portable: return true;
#if defined(__x86_64__) || defined(__i386__)
    case ScryptImpl::sse2: return __builtin_cpu_supports("sse2");
    case ScryptImpl::avx2: return __builtin_cpu_supports("avx2");
    case ScryptImpl::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#else
    case ScryptImpl::sse2:
    case ScryptImpl::avx2:
    case ScryptImpl::avx512: return false;
#endif
  }
  return false;
}

ScryptImpl best_scrypt_impl() {
  for (ScryptImpl i : {ScryptImpl::avx512, ScryptImpl::avx2, ScryptImpl::sse2})
    if (scrypt_impl_supported(i)) return i;
  return ScryptImpl::portable;
}

const char* to_string(ScryptImpl impl) {
  switch (impl) {
    case ScryptImpl::portable: return "portable";
    case ScryptImpl::sse2: return "sse2";
    case ScryptImpl::avx2: return "avx2";
    case ScryptImpl::avx512: return "avx512";
  }
  return "unknown";
}

unsigned scrypt_lanes(ScryptImpl impl) {
  switch (impl) {
    case ScryptImpl::portable: return 1;
    case ScryptImpl::sse2: return scrypt_detail::sse2_lanes;
    case ScryptImpl::avx2: return scrypt_detail::avx2_lanes;
    case ScryptImpl::avx512: return scrypt_detail::avx512_lanes;
  }
  return 1;
}

static_assert(scrypt_detail::sse2_lanes <= kMaxLanes && scrypt_detail::avx2_lanes <= kMaxLanes &&
              scrypt_detail::avx512_lanes <= kMaxLanes);

// ---- general scrypt ----------------------------------------------------------------------

namespace scrypt_detail {

Bytes pbkdf2_hmac_sha256(ByteSpan password, ByteSpan salt, uint64_t iterations, size_t dk_len) {
  if (iterations == 0) throw std::invalid_argument("pbkdf2_hmac_sha256: iterations must be >= 1");
  if (dk_len / 32 >= 0xffffffffull)
    throw std::invalid_argument("pbkdf2_hmac_sha256: dk_len too large");
  const Hmac hmac(password);
  Bytes out(dk_len);
  for (uint32_t blk = 1; size_t(blk - 1) * 32 < dk_len; ++blk) {
    uint8_t be[4];
    store_be32(be, blk);
    Sha256 in = hmac.inner;
    in.update(salt.data(), salt.size());
    in.update(be, 4);
    uint8_t u[32], t[32];
    hmac.finish(in, u);
    std::memcpy(t, u, 32);
    for (uint64_t c = 1; c < iterations; ++c) {
      Sha256 next = hmac.inner;
      next.update(u, 32);
      hmac.finish(next, u);
      for (int k = 0; k < 32; ++k) t[k] ^= u[k];
    }
    size_t off = size_t(blk - 1) * 32;
    std::memcpy(out.data() + off, t, std::min<size_t>(32, dk_len - off));
  }
  return out;
}

Bytes salsa20_8(ByteSpan block64) {
  if (block64.size() != 64) throw std::invalid_argument("salsa20_8: block must be 64 bytes");
  auto w = le_bytes_to_words(block64);
  salsa20_8_words(w.data());
  return words_to_le_bytes(w.data(), 16);
}

Bytes blockmix_salsa8(ByteSpan block, uint32_t r) {
  if (r == 0 || block.size() != 128 * size_t(r))
    throw std::invalid_argument("blockmix_salsa8: block must be 128 * r bytes, r >= 1");
  auto w = le_bytes_to_words(block);
  std::vector<uint32_t> y(w.size());
  blockmix_words(w.data(), y.data(), r);
  return words_to_le_bytes(y.data(), y.size());
}

Bytes romix(ByteSpan block, uint64_t N, uint32_t r) {
  if (r == 0 || block.size() != 128 * size_t(r))
    throw std::invalid_argument("romix: block must be 128 * r bytes, r >= 1");
  if (N < 2 || (N & (N - 1)) != 0) throw std::invalid_argument("romix: N must be a power of two > 1");
  if (N > (uint64_t(1) << 40) / (128 * uint64_t(r)))
    throw std::invalid_argument("romix: N * r too large");
  auto x = le_bytes_to_words(block);
  std::vector<uint32_t> v(N * 32 * r), y(32 * size_t(r));
  romix_words(x.data(), v.data(), y.data(), N, r);
  return words_to_le_bytes(x.data(), x.size());
}

}  // namespace scrypt_detail

Bytes scrypt(ByteSpan password, ByteSpan salt, uint64_t N, uint32_t r, uint32_t p, size_t dk_len) {
  if (N < 2 || (N & (N - 1)) != 0) throw std::invalid_argument("scrypt: N must be a power of two > 1");
  if (r == 0 || p == 0) throw std::invalid_argument("scrypt: r and p must be >= 1");
  if (uint64_t(r) * p >= (uint64_t(1) << 30)) throw std::invalid_argument("scrypt: r * p must be < 2^30");
  if (r < 4 && N >= (uint64_t(1) << (16 * r))) throw std::invalid_argument("scrypt: N must be < 2^(16 r)");
  if (N > (uint64_t(1) << 40) / (128 * uint64_t(r)))
    throw std::invalid_argument("scrypt: N * r too large (scratchpad over 1 TiB)");
  if (dk_len == 0) throw std::invalid_argument("scrypt: dk_len must be >= 1");

  const size_t words = 32 * size_t(r);
  Bytes b = scrypt_detail::pbkdf2_hmac_sha256(password, salt, 1, words * 4 * p);
  std::vector<uint32_t> x(words), y(words), v(N * words);
  for (uint32_t i = 0; i < p; ++i) {
    uint8_t* bi = b.data() + i * words * 4;
    for (size_t k = 0; k < words; ++k) x[k] = load_le32(bi + 4 * k);
    romix_words(x.data(), v.data(), y.data(), N, r);
    for (size_t k = 0; k < words; ++k) store_le32(bi + 4 * k, x[k]);
  }
  return scrypt_detail::pbkdf2_hmac_sha256(password, b, 1, dk_len);
}

Hash256 scrypt_1024_1_1(ByteSpan input) {
  Hash256 out;
  if (input.size() == 80) {  // the header path: same code as the mining scan
    const HeaderJob job = make_job(input.data(), &sha256_compress);
    HmacStates hs;
    uint32_t x[32];
    pbkdf2_80_to_128(job, swap32(job.w[19]), hs, x, &sha256_compress);
    romix_1024_portable(x, static_cast<uint32_t*>(thread_scratch(1)));
    pbkdf2_128_to_32(hs, x, out.data(), &sha256_compress);
    return out;
  }
  Bytes dk = scrypt(input, input, 1024, 1, 1, 32);
  std::memcpy(out.data(), dk.data(), 32);
  return out;
}

// ---- mining scan -----------------------------------------------------------------------

uint64_t scrypt_scan(ScryptImpl impl, const uint8_t header[80], const U256& target, uint32_t first,
                     uint32_t last, std::vector<ScryptHit>& hits, const std::atomic<bool>* stop) {
  if (!scrypt_impl_supported(impl))
    throw std::invalid_argument(std::string("scrypt_scan: implementation '") + to_string(impl) +
                                "' is not supported on this CPU");
  if (first > last) throw std::invalid_argument("scrypt_scan: first nonce > last nonce");
  const CompressFn compress = mining_compress();
  const HeaderJob job = make_job(header, compress);
  const unsigned lanes = scrypt_lanes(impl);
  void* scratch = thread_scratch(lanes);
  alignas(64) uint32_t x[kMaxLanes * 32];
  HmacStates hs[kMaxLanes];
  uint8_t digest[32];

  const uint64_t total = uint64_t(last) - first + 1;
  uint64_t done = 0;
  while (done < total) {
    if (stop && stop->load(std::memory_order_relaxed)) break;
    const unsigned n = unsigned(std::min<uint64_t>(lanes, total - done));
    for (unsigned l = 0; l < n; ++l) pbkdf2_80_to_128(job, uint32_t(first + done + l), hs[l], x + 32 * l, compress);
    for (unsigned l = n; l < lanes; ++l) std::memcpy(x + 32 * l, x, 128);  // idle lanes: ignored
    run_kernel(impl, x, scratch);
    for (unsigned l = 0; l < n; ++l) {
      pbkdf2_128_to_32(hs[l], x + 32 * l, digest, compress);
      if (U256::from_le_bytes(digest) <= target) {
        ScryptHit hit{uint32_t(first + done + l), {}};
        std::memcpy(hit.hash.data(), digest, 32);
        hits.push_back(hit);
      }
    }
    done += n;
  }
  return done;
}

uint64_t scrypt_scan(ScryptImpl impl, const uint8_t header[80], const U256& target, uint32_t first,
                     uint32_t last, std::vector<uint32_t>& hits, const std::atomic<bool>* stop) {
  std::vector<ScryptHit> found;
  uint64_t n = scrypt_scan(impl, header, target, first, last, found, stop);
  for (const ScryptHit& h : found) hits.push_back(h.nonce);
  return n;
}

}  // namespace otedama::crypto
