#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/core.h"

namespace otedama {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string to_hex(ByteSpan bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    s[2 * i] = digits[bytes[i] >> 4];
    s[2 * i + 1] = digits[bytes[i] & 15];
  }
  return s;
}

Bytes from_hex(std::string_view hex) {
  if (hex.size() % 2) throw std::invalid_argument("hex string has odd length " + std::to_string(hex.size()));
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      throw std::invalid_argument("invalid hex character at position " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    out[i] = uint8_t(hi << 4 | lo);
  }
  return out;
}

Hash256 hash_from_hex(std::string_view hex) {
  Bytes b = from_hex(hex);
  if (b.size() != 32) throw std::invalid_argument("expected 32 bytes (64 hex digits), got " + std::to_string(b.size()));
  Hash256 h;
  std::copy(b.begin(), b.end(), h.begin());
  return h;
}

Hash256 reversed(const Hash256& h) {
  Hash256 r;
  std::reverse_copy(h.begin(), h.end(), r.begin());
  return r;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  // sequence of <number><unit>, units: ms s m h d; numbers may be fractional
  if (text.empty()) return std::nullopt;
  long double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit((unsigned char)text[i]) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    std::string num(text.substr(start, i - start));
    if (std::count(num.begin(), num.end(), '.') > 1) return std::nullopt;
    long double v = std::strtold(num.c_str(), nullptr);
    size_t ustart = i;
    while (i < text.size() && std::isalpha((unsigned char)text[i])) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    long double mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60000;
    else if (unit == "h") mult = 3600000;
    else if (unit == "d") mult = 86400000;
    else return std::nullopt;
    total_ms += v * mult;
  }
  if (total_ms > 1e15) return std::nullopt;
  return std::chrono::milliseconds(int64_t(std::llround(total_ms)));
}

std::string format_duration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 1000) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  std::string out;
  if (s >= 86400 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s >= 3600) { out += std::to_string(s / 3600) + "h"; s %= 3600; }
  if (s >= 60) { out += std::to_string(s / 60) + "m"; s %= 60; }
  if (s) out += std::to_string(s) + "s";
  return out;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit((unsigned char)text[i])) ++i;
  if (i == 0) return std::nullopt;
  uint64_t v = std::stoull(std::string(text.substr(0, i)));
  std::string unit(text.substr(i));
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  uint64_t mult;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KB" || unit == "kB") mult = 1000;
  else if (unit == "KiB") mult = 1024;
  else if (unit == "MB") mult = 1000000;
  else if (unit == "MiB") mult = 1ull << 20;
  else if (unit == "GB") mult = 1000000000;
  else if (unit == "GiB") mult = 1ull << 30;
  else return std::nullopt;
  if (v > UINT64_MAX / mult) return std::nullopt;
  return v * mult;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string_view version() { return OTEDAMA_VERSION; }
std::string_view git_commit() { return OTEDAMA_GIT_COMMIT; }

}  // namespace otedama
