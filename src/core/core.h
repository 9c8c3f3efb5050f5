// core: the bottom layer. Bytes and hex, 256-bit integers, durations and sizes,
// logging set-up, the metrics registry and small helpers every other module uses.
// No module below depends on anything here but the standard library and spdlog/fmt.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otedama {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using Hash256 = std::array<uint8_t, 32>;

// ---- hex ---------------------------------------------------------------------------

// Lowercase hex of the bytes, in the given order.
std::string to_hex(ByteSpan bytes);
// Parses hex (upper or lower case). Throws std::invalid_argument with a clear message on
// odd length or a non-hex character.
Bytes from_hex(std::string_view hex);
// Parses exactly 32 bytes of hex; throws std::invalid_argument otherwise.
Hash256 hash_from_hex(std::string_view hex);
// Reversed byte order (display form of Bitcoin hashes).
Hash256 reversed(const Hash256& h);

// ---- 256-bit unsigned integer ---------------------------------------------------------

// Targets and hash values. Limbs are little-endian: w[0] is the least significant.
struct U256 {
  std::array<uint64_t, 4> w{};

  static U256 from_le_bytes(const uint8_t* p);  // 32 bytes, least significant first
  static U256 from_be_bytes(const uint8_t* p);  // 32 bytes, most significant first
  static U256 from_u64(uint64_t v) { U256 r; r.w[0] = v; return r; }
  static U256 max() { U256 r; r.w = {~0ull, ~0ull, ~0ull, ~0ull}; return r; }
  // Bitcoin compact "bits" (nBits) to target; negative/overflowing encodings give 0.
  static U256 from_compact(uint32_t bits);
  // Big-endian hex of up to 64 digits (leading zeros optional).
  static U256 from_hex(std::string_view be_hex);

  void to_le_bytes(uint8_t* out) const;
  void to_be_bytes(uint8_t* out) const;
  std::string to_hex() const;  // 64 digits, big-endian
  double to_double() const;
  bool is_zero() const { return (w[0] | w[1] | w[2] | w[3]) == 0; }
  int bits() const;  // index of the highest set bit + 1; 0 for zero

  friend auto operator<=>(const U256& a, const U256& b) {
    for (int i = 3; i >= 0; --i)
      if (a.w[i] != b.w[i]) return a.w[i] <=> b.w[i];
    return std::strong_ordering::equal;
  }
  friend bool operator==(const U256& a, const U256& b) = default;
  U256 operator>>(unsigned n) const;
  U256 operator<<(unsigned n) const;
};

// target = base / difficulty, for any positive difficulty (fractional ones too), clamped to
// [1, U256::max()]. 64 bits of precision: enough for share targets.
U256 target_from_difficulty(double difficulty, const U256& diff1_target);
// difficulty = base / target (inverse of the above); 0 target gives +inf.
double difficulty_from_target(const U256& target, const U256& diff1_target);
// 2^256 / difficulty style targets (Ethash, Monero): base is 2^256-1.
U256 target_from_difficulty_2_256(double difficulty);

// ---- durations and sizes ------------------------------------------------------------

// "500ms", "5s", "2h", "1h30m", "24h", "7d"; a bare number is refused (units are required).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);
// "512", "64KiB", "10MB", "1GiB" (KB = 1000, KiB = 1024).
std::optional<uint64_t> parse_size(std::string_view text);

// Edit distance, for did-you-mean suggestions.
size_t edit_distance(std::string_view a, std::string_view b);

// ---- metrics ----------------------------------------------------------------------------

// A Prometheus-style registry: counters, gauges and histograms with labels, rendered in the
// text exposition format (0.0.4). Registration takes a lock; updates are lock-free atomics,
// so the share's hot path can count without contention. Handles stay valid for the
// registry's lifetime.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  // For counters mirrored from a monotonic source (e.g. the kernel's CPU time).
  void mirror(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  uint64_t bucket_count(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }  // not cumulative
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (+Inf)
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                       const Labels& labels = {});
  // Called under no lock before each render, to refresh gauges derived from elsewhere.
  void add_collector(std::function<void(Metrics&)> collect);
  std::string render();  // text exposition format

 private:
  struct Family;
  Family& family(const std::string& name, const std::string& help, int type);
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::vector<std::function<void(Metrics&)>> collectors_;
};

// The process-wide registry that /metrics serves.
Metrics& metrics();

// ---- version --------------------------------------------------------------------------

std::string_view version();     // "0.1.0"
std::string_view git_commit();  // short hash or "unknown"

}  // namespace otedama
