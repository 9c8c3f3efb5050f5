// Keccak-f[1600] / Keccak-f[800] and the legacy Keccak sponge (pad10*1 with domain byte 0x01).
#include "crypto/keccak.h"

#include <bit>
#include <cstring>

namespace otedama::crypto {
namespace {

constexpr uint64_t kRoundConstants[24] = {
    0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000,
    0x000000000000808b, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008a, 0x0000000000000088, 0x0000000080008009, 0x000000008000000a,
    0x000000008000808b, 0x800000000000008b, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008};

// Rotation offsets (rho), indexed x + 5*y.
constexpr unsigned kRho[25] = {0,  1,  62, 28, 27, 36, 44, 6,  55, 20, 3,  10, 43,
                               25, 39, 41, 45, 15, 21, 8,  18, 2,  61, 56, 14};

// One generic round body for both widths; the loops have constant bounds, so GCC unrolls
// them and keeps the state in registers.
template <typename Word>
inline void keccak_round(Word st[25], Word round_constant) {
  constexpr unsigned bits = sizeof(Word) * 8;
  Word c[5];
#pragma GCC unroll 5
  for (int x = 0; x < 5; ++x) c[x] = st[x] ^ st[x + 5] ^ st[x + 10] ^ st[x + 15] ^ st[x + 20];
#pragma GCC unroll 5
  for (int x = 0; x < 5; ++x) {
    const Word d = c[(x + 4) % 5] ^ std::rotl(c[(x + 1) % 5], 1);
#pragma GCC unroll 5
    for (int y = 0; y < 25; y += 5) st[x + y] ^= d;
  }
  // rho and pi: B[y, 2x + 3y] = rotl(A[x, y], rho[x, y]).
  Word b[25];
#pragma GCC unroll 5
  for (int y = 0; y < 5; ++y)
#pragma GCC unroll 5
    for (int x = 0; x < 5; ++x)
      b[y + 5 * ((2 * x + 3 * y) % 5)] = std::rotl(st[x + 5 * y], kRho[x + 5 * y] % bits);
  // chi and iota.
#pragma GCC unroll 5
  for (int y = 0; y < 25; y += 5)
#pragma GCC unroll 5
    for (int x = 0; x < 5; ++x) st[x + y] = b[x + y] ^ (~b[(x + 1) % 5 + y] & b[(x + 2) % 5 + y]);
  st[0] ^= round_constant;
}

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

inline void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Absorbs `data` at `rate` bytes per block, pads with 0x01 ... 0x80, squeezes `out_len`
// bytes (out_len <= rate, which holds for Keccak-256/512).
void keccak_sponge(size_t rate, ByteSpan data, uint8_t* out, size_t out_len) {
  uint64_t st[25] = {};
  const size_t rate_lanes = rate / 8;
  while (data.size() >= rate) {
    for (size_t i = 0; i < rate_lanes; ++i) st[i] ^= load_le64(data.data() + 8 * i);
    keccakf1600(st);
    data = data.subspan(rate);
  }
  uint8_t block[200] = {};
  if (!data.empty()) std::memcpy(block, data.data(), data.size());
  block[data.size()] ^= 0x01;
  block[rate - 1] ^= 0x80;
  for (size_t i = 0; i < rate_lanes; ++i) st[i] ^= load_le64(block + 8 * i);
  keccakf1600(st);
  uint8_t squeezed[200];
  for (size_t i = 0; i < 25; ++i) store_le64(squeezed + 8 * i, st[i]);
  std::memcpy(out, squeezed, out_len);
}

}  // namespace

void keccakf1600(uint64_t st[25]) {
  for (int r = 0; r < 24; ++r) keccak_round<uint64_t>(st, kRoundConstants[r]);
}

void keccakf800(uint32_t st[25]) {
  // Keccak-f[800] has 22 rounds; its round constants are the low halves of the 1600 ones.
  for (int r = 0; r < 22; ++r) keccak_round<uint32_t>(st, static_cast<uint32_t>(kRoundConstants[r]));
}

Hash256 keccak256(ByteSpan data) {
  Hash256 out;
  keccak_sponge(136, data, out.data(), out.size());
  return out;
}

std::array<uint8_t, 64> keccak512(ByteSpan data) {
  std::array<uint8_t, 64> out;
  keccak_sponge(72, data, out.data(), out.size());
  return out;
}

void keccak512_64(uint8_t data[64]) {
  uint64_t st[25] = {};
  for (int i = 0; i < 8; ++i) st[i] = load_le64(data + 8 * i);
  st[8] = 0x01 | (0x80ull << 56);  // 64 bytes fill all but the last lane of the 72-byte rate
  keccakf1600(st);
  for (int i = 0; i < 8; ++i) store_le64(data + 8 * i, st[i]);
}

}  // namespace otedama::crypto
