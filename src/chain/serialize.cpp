// Bitcoin serialization primitives and script numbers.
#include "chain/chain.h"

#include <algorithm>

namespace otedama::chain {

std::string display_hex(const Hash256& internal) { return to_hex(reversed(internal)); }

Hash256 hash_from_display(std::string_view display) { return reversed(hash_from_hex(display)); }

void append_le32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

void append_le64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

void append_varint(Bytes& out, uint64_t n) {
  if (n < 0xfd) {
    out.push_back(uint8_t(n));
  } else if (n <= 0xffff) {
    out.push_back(0xfd);
    out.push_back(uint8_t(n));
    out.push_back(uint8_t(n >> 8));
  } else if (n <= 0xffffffff) {
    out.push_back(0xfe);
    append_le32(out, uint32_t(n));
  } else {
    out.push_back(0xff);
    append_le64(out, n);
  }
}

void append_push(Bytes& out, ByteSpan data) {
  size_t n = data.size();
  if (n < 0x4c) {
    out.push_back(uint8_t(n));
  } else if (n <= 0xff) {
    out.push_back(0x4c);
    out.push_back(uint8_t(n));
  } else if (n <= 0xffff) {
    out.push_back(0x4d);
    out.push_back(uint8_t(n));
    out.push_back(uint8_t(n >> 8));
  } else {
    out.push_back(0x4e);
    append_le32(out, uint32_t(n));
  }
  out.insert(out.end(), data.begin(), data.end());
}

Bytes script_number(int64_t n) {
  if (n < 0) throw std::invalid_argument("script_number: negative numbers are not supported");
  if (n == 0) return {0x00};                      // OP_0
  if (n <= 16) return {uint8_t(0x50 + n)};        // OP_1..OP_16, as CScript::operator<<(int64) does
  Bytes num;
  for (uint64_t v = uint64_t(n); v; v >>= 8) num.push_back(uint8_t(v & 0xff));
  if (num.back() & 0x80) num.push_back(0x00);     // CScriptNum: keep the sign bit clear
  Bytes out;
  append_push(out, num);
  return out;
}

}  // namespace otedama::chain
