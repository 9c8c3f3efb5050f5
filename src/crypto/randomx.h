// RandomX (rx/0, Monero) through the reference library librandomx. Nothing here
// re-implements RandomX; this layer owns the heavy state and its lifetime:
//
//   RandomXEpoch     one key's cache (256 MiB, light mode) and, in fast mode, its
//                    2 GiB dataset. Immutable once built; shared by every thread.
//   RandomXContexts  a thread-safe, key-indexed set of epochs. Keeps the most recent
//                    few (Monero switches seeds every 2048 blocks and shares for the old
//                    seed keep arriving for a while); shared_ptr keeps one in use alive.
//   RandomXHasher    one thread's VM; follows the key of each call, re-pointing its VM
//                    at the matching epoch.
//
// No I/O: large-page outcomes are returned (RandomXEpoch::large_pages / notes) and
// optionally passed to a log callback the caller supplies.
#pragma once

#include <cfenv>
#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"

// librandomx's opaque types (its header stays out of ours).
struct randomx_cache;
struct randomx_dataset;
struct randomx_vm;

namespace otedama::crypto {

class Algorithm;
struct AlgorithmOptions;

enum class RandomXMode { light, fast };

// librandomx hashes keys of any length, but only their first 60 bytes seed the
// SuperscalarHash generator; we accept 0..60 bytes so every key byte counts.
inline constexpr size_t kRandomXMaxKeySize = 60;
// Throws std::invalid_argument for a key over kRandomXMaxKeySize bytes.
void check_randomx_key(ByteSpan key);

struct RandomXOptions {
  bool large_pages = true;     // try large pages first, fall back to regular pages
  unsigned init_threads = 0;   // dataset initialization threads; 0 = all hardware threads
  // Optional: one line per notable event (large pages refused, epoch built).
  std::function<void(std::string_view)> log;
  // Optional: dataset initialization progress in items (called from the init threads,
  // serialized, `done` increasing, ending with done == total).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// The CPU features librandomx will use here (randomx_get_flags()).
struct RandomXCpu {
  bool jit = false;
  bool hard_aes = false;
  bool argon2_ssse3 = false;
  bool argon2_avx2 = false;
};
RandomXCpu randomx_cpu();
// "jit, hard-aes, argon2-avx2"
std::string randomx_features_text(const RandomXCpu& cpu);

// One key's cache (and dataset in fast mode).
class RandomXEpoch {
 public:
  // Builds the cache (and the dataset, over options.init_threads threads). Throws
  // std::invalid_argument for a key over 60 bytes, std::runtime_error when memory
  // cannot be had even without large pages.
  static std::shared_ptr<const RandomXEpoch> build(ByteSpan key, RandomXMode mode,
                                                   const RandomXOptions& options = {});
  ~RandomXEpoch();
  RandomXEpoch(const RandomXEpoch&) = delete;
  RandomXEpoch& operator=(const RandomXEpoch&) = delete;

  const Bytes& key() const { return key_; }
  RandomXMode mode() const { return mode_; }
  // Every allocation (cache, and dataset in fast mode) got large pages.
  bool large_pages() const { return large_pages_; }
  // Human-readable outcome, e.g. "large pages unavailable for the 2 GiB dataset; using
  // regular pages". Empty when nothing is worth saying.
  const std::string& notes() const { return notes_; }
  double build_seconds() const { return build_seconds_; }
  // Light mode: the cache. Fast mode: the dataset (its cache is released once the
  // dataset is built; fast VMs never read it).
  randomx_cache* cache() const { return cache_; }
  randomx_dataset* dataset() const { return dataset_; }

 private:
  RandomXEpoch() = default;
  Bytes key_;
  RandomXMode mode_ = RandomXMode::light;
  bool large_pages_ = false;
  std::string notes_;
  double build_seconds_ = 0;
  randomx_cache* cache_ = nullptr;
  randomx_dataset* dataset_ = nullptr;
};

// Thread-safe set of epochs by (key, mode). A build runs outside the lock, so threads
// hashing against other keys are never held up by it; callers of get() for the key
// being built wait for that one build.
class RandomXContexts {
 public:
  explicit RandomXContexts(RandomXOptions options = {}, size_t keep_per_mode = 2);
  ~RandomXContexts();  // waits for builds in flight
  RandomXContexts(const RandomXContexts&) = delete;
  RandomXContexts& operator=(const RandomXContexts&) = delete;

  // The epoch for this key, built on the caller's thread if nobody has started it.
  std::shared_ptr<const RandomXEpoch> get(ByteSpan key, RandomXMode mode);
  std::shared_ptr<const RandomXEpoch> get(const Hash256& seed, RandomXMode mode) {
    return get(ByteSpan(seed), mode);
  }
  // Starts building in the background (e.g. for Monero's next_seed_hash) and returns at
  // once; a later get() picks it up.
  void prepare(ByteSpan key, RandomXMode mode);
  // The epoch if already built; never blocks, never builds.
  std::shared_ptr<const RandomXEpoch> find(ByteSpan key, RandomXMode mode) const;
  // Number of epochs held (built or building).
  size_t size() const;
  const RandomXOptions& options() const { return options_; }

  // Process-wide instances, one per (large_pages, init_threads), living until exit.
  static RandomXContexts& shared(bool large_pages = true, unsigned init_threads = 0);

 private:
  struct Entry {
    uint64_t id;
    Bytes key;
    RandomXMode mode;
    std::shared_future<std::shared_ptr<const RandomXEpoch>> epoch;
  };
  using Entries = std::list<Entry>;  // most recently used first
  using Future = std::shared_future<std::shared_ptr<const RandomXEpoch>>;
  Entries::iterator locate(ByteSpan key, RandomXMode mode);
  // Drops the oldest built epochs of `mode` beyond keep_; returns them so that they are
  // freed after the lock is released.
  Entries evict(RandomXMode mode);
  std::shared_ptr<const RandomXEpoch> wait(const Future& epoch, uint64_t id);

  RandomXOptions options_;
  size_t keep_;
  mutable std::mutex mutex_;
  uint64_t next_id_ = 0;
  Entries entries_;
};

// One thread's RandomX VM. Not thread-safe: make one per thread.
class RandomXHasher {
 public:
  explicit RandomXHasher(RandomXMode mode = RandomXMode::light,
                         RandomXContexts& contexts = RandomXContexts::shared());
  ~RandomXHasher();
  RandomXHasher(const RandomXHasher&) = delete;
  RandomXHasher& operator=(const RandomXHasher&) = delete;

  Hash256 hash(const Hash256& seed, ByteSpan input) { return hash(ByteSpan(seed), input); }
  Hash256 hash(ByteSpan key, ByteSpan input);

  // Pipelined hashing (randomx_calculate_hash_first/next/last): begin() starts `input`,
  // next() returns the previous input's hash and starts `input`, finish() returns the
  // last one's. Between begin() and finish() do not call hash() or change keys.
  void begin(ByteSpan key, ByteSpan input);
  Hash256 next(ByteSpan input);
  Hash256 finish();

  RandomXMode mode() const { return mode_; }
  // The epoch of the last key used (nullptr before the first call).
  const std::shared_ptr<const RandomXEpoch>& epoch() const { return epoch_; }

 private:
  void use_key(ByteSpan key);
  RandomXContexts* contexts_;
  RandomXMode mode_;
  std::shared_ptr<const RandomXEpoch> epoch_;
  randomx_vm* vm_ = nullptr;
  bool pipelining_ = false;
  std::fenv_t saved_fenv_{};  // hash_first/next change the rounding mode; finish() restores
};

// One-off light-mode hash (the key's cache is kept in RandomXContexts::shared(), so
// repeated calls with one key are cheap). key: 0..60 bytes.
Hash256 randomx_hash(ByteSpan key, ByteSpan input);

// The Algorithm "randomx": key = work.seed, input = work.blob with the 4-byte
// little-endian nonce at work.nonce_offset. Options: randomx_fast, large_pages,
// init_threads. Defined in randomx_algorithm.cpp.
std::unique_ptr<Algorithm> make_randomx_algorithm(const AlgorithmOptions& options);

}  // namespace otedama::crypto
