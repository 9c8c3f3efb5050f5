#include "core/core.h"

#include <cmath>
#include <cstring>

namespace otedama {

U256 U256::from_le_bytes(const uint8_t* p) {
  U256 r;
  for (int i = 0; i < 4; ++i) {
    uint64_t v = 0;
    for (int b = 7; b >= 0; --b) v = (v << 8) | p[i * 8 + b];
    r.w[i] = v;
  }
  return r;
}

U256 U256::from_be_bytes(const uint8_t* p) {
  uint8_t le[32];
  for (int i = 0; i < 32; ++i) le[i] = p[31 - i];
  return from_le_bytes(le);
}

void U256::to_le_bytes(uint8_t* out) const {
  for (int i = 0; i < 4; ++i)
    for (int b = 0; b < 8; ++b) out[i * 8 + b] = uint8_t(w[i] >> (8 * b));
}

void U256::to_be_bytes(uint8_t* out) const {
  uint8_t le[32];
  to_le_bytes(le);
  for (int i = 0; i < 32; ++i) out[i] = le[31 - i];
}

std::string U256::to_hex() const {
  uint8_t be[32];
  to_be_bytes(be);
  return otedama::to_hex(ByteSpan(be, 32));
}

U256 U256::from_hex(std::string_view be_hex) {
  if (be_hex.size() > 64) throw std::invalid_argument("256-bit hex number longer than 64 digits");
  std::string padded(64 - be_hex.size(), '0');
  padded += be_hex;
  Bytes b = otedama::from_hex(padded);
  return from_be_bytes(b.data());
}

U256 U256::from_compact(uint32_t bits) {
  uint32_t size = bits >> 24;
  uint32_t word = bits & 0x007fffff;
  if (bits & 0x00800000) return U256{};  // negative
  U256 r = U256::from_u64(word);
  if (size <= 3) return r >> (8 * (3 - size));
  if (size > 34 || (size == 34 && word > 0xff) || (size == 33 && word > 0xffff)) return U256{};
  return r << (8 * (size - 3));
}

int U256::bits() const {
  for (int i = 3; i >= 0; --i)
    if (w[i]) return i * 64 + (64 - __builtin_clzll(w[i]));
  return 0;
}

double U256::to_double() const {
  double r = 0;
  for (int i = 3; i >= 0; --i) r = r * 18446744073709551616.0 + double(w[i]);
  return r;
}

U256 U256::operator>>(unsigned n) const {
  U256 r;
  if (n >= 256) return r;
  unsigned limbs = n / 64, sh = n % 64;
  for (unsigned i = 0; i + limbs < 4; ++i) {
    uint64_t v = w[i + limbs] >> sh;
    if (sh && i + limbs + 1 < 4) v |= w[i + limbs + 1] << (64 - sh);
    r.w[i] = v;
  }
  return r;
}

U256 U256::operator<<(unsigned n) const {
  U256 r;
  if (n >= 256) return r;
  unsigned limbs = n / 64, sh = n % 64;
  for (int i = 3; i >= int(limbs); --i) {
    uint64_t v = w[i - limbs] << sh;
    if (sh && i - int(limbs) - 1 >= 0) v |= w[i - limbs - 1] >> (64 - sh);
    r.w[i] = v;
  }
  return r;
}

namespace {
// Value as mantissa * 2^exp with a 64-bit mantissa (top bit set unless zero).
void split(const U256& v, uint64_t& mant, int& exp) {
  int b = v.bits();
  if (b <= 64) { mant = v.w[0]; exp = 0; return; }
  mant = (v >> (b - 64)).w[0];
  exp = b - 64;
}
U256 from_mant_exp(long double mant, int exp) {
  // mant < 2^64 expected; scale mant*2^exp into U256, saturating.
  if (mant <= 0) return U256{};
  int e2;
  long double frac = std::frexp(mant, &e2);  // mant = frac * 2^e2, frac in [0.5,1)
  int total = e2 + exp;                        // value = frac * 2^total
  if (total > 256) return U256::max();
  if (total <= 0) return U256{};
  // take 64 bits of frac
  uint64_t m = uint64_t(std::ldexp(frac, 64));
  int shift = total - 64;
  U256 r = U256::from_u64(m);
  return shift >= 0 ? r << unsigned(shift) : r >> unsigned(-shift);
}
}  // namespace

U256 target_from_difficulty(double difficulty, const U256& diff1_target) {
  if (!(difficulty > 0) || std::isinf(difficulty)) return U256::from_u64(1);
  uint64_t mant;
  int exp;
  split(diff1_target, mant, exp);
  long double q = (long double)mant / (long double)difficulty;
  int e2;
  long double frac = std::frexp(q, &e2);
  U256 r = from_mant_exp(std::ldexp(frac, 63), exp + e2 - 63);
  if (r.is_zero()) r = U256::from_u64(1);
  return r;
}

double difficulty_from_target(const U256& target, const U256& diff1_target) {
  if (target.is_zero()) return INFINITY;
  return diff1_target.to_double() / target.to_double();
}

U256 target_from_difficulty_2_256(double difficulty) {
  if (difficulty <= 1.0) return U256::max();
  return target_from_difficulty(difficulty, U256::max());
}

}  // namespace otedama
