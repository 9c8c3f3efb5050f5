// SHA-256 hashing of whole messages: padding, the portable compression, and choosing the
// kernel from CPUID.
#include "crypto/sha256.h"

#include <cpuid.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace otedama::crypto {
namespace sha256_detail {

namespace {
inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
}  // namespace

void compress_portable(uint32_t state[8], const uint8_t* data, size_t blocks) {
  for (; blocks > 0; --blocks, data += 64) {
    uint32_t w[64];
    for (int t = 0; t < 16; ++t) w[t] = read_be32(data + 4 * t);
    for (int t = 16; t < 64; ++t) {
      uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; ++t) {
      uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[t] + w[t];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g; g = f; f = e; e = d + t1;
      d = c; c = b; b = a; a = t1 + t2;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
  }
}

}  // namespace sha256_detail

using namespace sha256_detail;

namespace {

struct CpuFeatures {
  bool shani = false;
  bool avx2 = false;
  bool avx512 = false;  // F and VL
};

CpuFeatures detect_cpu() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool ssse3 = c & (1u << 9), sse41 = c & (1u << 19);
  bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.shani = (b & (1u << 29)) && ssse3 && sse41;
  if (osxsave && avx && (b & (1u << 5))) {
    unsigned xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    f.avx2 = (xcr0_lo & 6) == 6;  // the OS saves XMM and YMM state
    // AVX-512F (bit 16) and VL (bit 31), and the OS saves opmask and ZMM state.
    f.avx512 = f.avx2 && (b & (1u << 16)) && (b & (1u << 31)) && (xcr0_lo & 0xe6) == 0xe6;
  }
  return f;
}

const CpuFeatures& cpu() {
  static const CpuFeatures features = detect_cpu();
  return features;
}

void require_supported(ShaImpl impl) {
  if (!sha_impl_supported(impl))
    throw std::invalid_argument(std::string("sha256: implementation '") + to_string(impl) +
                                "' is not supported by this CPU");
}

// One message through a one-state compression function, with SHA-256 padding.
using CompressFn = void (*)(uint32_t state[8], const uint8_t* data, size_t blocks);

Hash256 hash_with(CompressFn compress, ByteSpan data) {
  uint32_t state[8];
  std::memcpy(state, kInit, sizeof state);
  size_t whole = data.size() / 64;
  if (whole) compress(state, data.data(), whole);
  uint8_t last[128] = {};
  size_t rest = data.size() - whole * 64;
  if (rest) std::memcpy(last, data.data() + whole * 64, rest);
  last[rest] = 0x80;
  size_t tail_blocks = rest < 56 ? 1 : 2;
  uint64_t bits = uint64_t(data.size()) * 8;
  write_be32(last + tail_blocks * 64 - 8, uint32_t(bits >> 32));
  write_be32(last + tail_blocks * 64 - 4, uint32_t(bits));
  compress(state, last, tail_blocks);
  Hash256 out;
  for (int i = 0; i < 8; ++i) write_be32(out.data() + 4 * i, state[i]);
  return out;
}

// The vector kernels have 8 or 16 lanes; a single message runs in all of them.
void compress_avx2_single(uint32_t state[8], const uint8_t* data, size_t blocks) {
  for (; blocks > 0; --blocks, data += 64) {
    uint32_t states[8][8];
    const uint8_t* ptrs[8];
    for (int lane = 0; lane < 8; ++lane) {
      std::memcpy(states[lane], state, 32);
      ptrs[lane] = data;
    }
    compress_avx2_x8(states, ptrs);
    std::memcpy(state, states[0], 32);
  }
}

void compress_avx512_single(uint32_t state[8], const uint8_t* data, size_t blocks) {
  for (; blocks > 0; --blocks, data += 64) {
    uint32_t states[16][8];
    const uint8_t* ptrs[16];
    for (int lane = 0; lane < 16; ++lane) {
      std::memcpy(states[lane], state, 32);
      ptrs[lane] = data;
    }
    compress_avx512_x16(states, ptrs);
    std::memcpy(state, states[0], 32);
  }
}

CompressFn compress_for(ShaImpl impl) {
  switch (impl) {
    case ShaImpl::shani: return compress_shani;
    case ShaImpl::avx2: return compress_avx2_single;
    case ShaImpl::avx512: return compress_avx512_single;
    case ShaImpl::shani_avx512: return compress_shani;
    case ShaImpl::portable: break;
  }
  return compress_portable;
}

// Single messages: SHA-NI if present; the 8-lane AVX2 kernel does not help one message.
CompressFn fastest_single() {
  static const CompressFn fn = cpu().shani ? compress_shani : compress_portable;
  return fn;
}

}  // namespace

bool sha_impl_supported(ShaImpl impl) {
  switch (impl) {
    case ShaImpl::portable: return true;
    case ShaImpl::shani: return cpu().shani;
    case ShaImpl::avx2: return cpu().avx2;
    case ShaImpl::avx512: return cpu().avx512;
    case ShaImpl::shani_avx512: return cpu().shani && cpu().avx512;
  }
  return false;
}

ShaImpl best_sha_impl() {
  if (cpu().shani && cpu().avx512) return ShaImpl::shani_avx512;
  if (cpu().avx512) return ShaImpl::avx512;
  if (cpu().shani) return ShaImpl::shani;
  if (cpu().avx2) return ShaImpl::avx2;
  return ShaImpl::portable;
}

const char* to_string(ShaImpl impl) {
  switch (impl) {
    case ShaImpl::portable: return "portable";
    case ShaImpl::shani: return "sha-ni";
    case ShaImpl::avx2: return "avx2";
    case ShaImpl::avx512: return "avx512";
    case ShaImpl::shani_avx512: return "sha-ni+avx512";
  }
  return "unknown";
}

std::optional<ShaImpl> sha_impl_from_string(std::string_view name) {
  for (ShaImpl impl : {ShaImpl::portable, ShaImpl::shani, ShaImpl::avx2, ShaImpl::avx512, ShaImpl::shani_avx512})
    if (name == to_string(impl)) return impl;
  return std::nullopt;
}

unsigned sha_impl_lanes(ShaImpl impl) {
  switch (impl) {
    case ShaImpl::shani: return kShaniStreams;
    case ShaImpl::avx2: return 8;
    case ShaImpl::avx512: return 16;
    case ShaImpl::shani_avx512: return 16 + kHybridShaNonces;
    case ShaImpl::portable: break;
  }
  return 1;
}

std::vector<ShaImpl> supported_sha_impls() {
  std::vector<ShaImpl> out;
  for (ShaImpl impl : {ShaImpl::portable, ShaImpl::shani, ShaImpl::avx2, ShaImpl::avx512, ShaImpl::shani_avx512})
    if (sha_impl_supported(impl)) out.push_back(impl);
  return out;
}

Hash256 sha256(ByteSpan data) { return hash_with(fastest_single(), data); }

Hash256 sha256d(ByteSpan data) {
  Hash256 once = hash_with(fastest_single(), data);
  return hash_with(fastest_single(), once);
}

Hash256 sha256(ShaImpl impl, ByteSpan data) {
  require_supported(impl);
  return hash_with(compress_for(impl), data);
}

Hash256 sha256d(ShaImpl impl, ByteSpan data) {
  require_supported(impl);
  Hash256 once = hash_with(compress_for(impl), data);
  return hash_with(compress_for(impl), once);
}

}  // namespace otedama::crypto
