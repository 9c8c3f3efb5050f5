// Base58 and Base58Check (Bitcoin alphabet).
#include "chain/chain.h"

#include <algorithm>

#include "crypto/sha256.h"

namespace otedama::chain {

namespace {

constexpr char kAlphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

int digit_of(char c) {
  const char* p = std::find(kAlphabet, kAlphabet + 58, c);
  return p == kAlphabet + 58 ? -1 : int(p - kAlphabet);
}

}  // namespace

std::string base58_encode(ByteSpan data) {
  size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0) ++zeros;
  // Base-58 digits, least significant first; log(256)/log(58) < 1.37.
  std::vector<uint8_t> digits;
  digits.reserve((data.size() - zeros) * 138 / 100 + 1);
  for (size_t i = zeros; i < data.size(); ++i) {
    uint32_t carry = data[i];
    for (auto& d : digits) {
      carry += uint32_t(d) << 8;
      d = uint8_t(carry % 58);
      carry /= 58;
    }
    while (carry) {
      digits.push_back(uint8_t(carry % 58));
      carry /= 58;
    }
  }
  std::string out(zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(kAlphabet[*it]);
  return out;
}

Bytes base58_decode(std::string_view text) {
  size_t ones = 0;
  while (ones < text.size() && text[ones] == '1') ++ones;
  std::vector<uint8_t> bytes;  // least significant first
  bytes.reserve(text.size() * 733 / 1000 + 1);
  for (size_t i = ones; i < text.size(); ++i) {
    int d = digit_of(text[i]);
    if (d < 0)
      throw std::invalid_argument("invalid Base58 character '" + std::string(1, text[i]) + "' at position " +
                                  std::to_string(i));
    uint32_t carry = uint32_t(d);
    for (auto& b : bytes) {
      carry += uint32_t(b) * 58;
      b = uint8_t(carry & 0xff);
      carry >>= 8;
    }
    while (carry) {
      bytes.push_back(uint8_t(carry & 0xff));
      carry >>= 8;
    }
  }
  Bytes out(ones, 0);
  out.insert(out.end(), bytes.rbegin(), bytes.rend());
  return out;
}

std::string base58check_encode(ByteSpan payload) {
  Bytes full(payload.begin(), payload.end());
  Hash256 check = crypto::sha256d(payload);
  full.insert(full.end(), check.begin(), check.begin() + 4);
  return base58_encode(full);
}

Bytes base58check_decode(std::string_view text) {
  if (text.empty()) throw std::invalid_argument("empty Base58Check string");
  Bytes raw = base58_decode(text);
  if (raw.size() < 5) throw std::invalid_argument("Base58Check string too short for a version byte and a checksum");
  Bytes payload(raw.begin(), raw.end() - 4);
  Hash256 check = crypto::sha256d(payload);
  if (!std::equal(check.begin(), check.begin() + 4, raw.end() - 4))
    throw std::invalid_argument("bad Base58Check checksum (mistyped address?)");
  return payload;
}

}  // namespace otedama::chain
