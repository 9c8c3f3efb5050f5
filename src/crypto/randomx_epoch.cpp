// RandomXEpoch: allocate (large pages first) and build one key's cache and dataset.
#include <randomx.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "crypto/randomx.h"

namespace otedama::crypto {
namespace {

constexpr unsigned long kInitChunkItems = 1ul << 16;  // ~520 progress steps over the dataset

void say(const RandomXOptions& o, std::string& notes, const std::string& line) {
  if (!notes.empty()) notes += "; ";
  notes += line;
  if (o.log) o.log(line);
}

// Tries `alloc(flags | LARGE_PAGES)` when wanted, then `alloc(flags)`. Sets `large` to
// whether large pages were obtained.
template <class T, class Alloc>
T* allocate(Alloc alloc, randomx_flags flags, std::string_view what, const RandomXOptions& o,
            bool& large, std::string& notes) {
  if (o.large_pages) {
    if (T* p = alloc(flags | RANDOMX_FLAG_LARGE_PAGES)) {
      large = true;
      return p;
    }
    say(o, notes, "RandomX: large pages unavailable for the " + std::string(what) +
                      " (vm.nr_hugepages too low?); using regular pages");
  }
  large = false;
  if (T* p = alloc(flags)) return p;
  throw std::runtime_error("RandomX: cannot allocate the " + std::string(what));
}

// Fills the dataset from the cache on `threads` threads taking chunks of items in turn.
void init_dataset(randomx_dataset* dataset, randomx_cache* cache, unsigned threads,
                  const RandomXOptions& o) {
  const unsigned long total = randomx_dataset_item_count();
  std::atomic<unsigned long> next{0};
  std::mutex progress_mutex;
  unsigned long done = 0;
  std::exception_ptr failure;

  auto work = [&] {
    for (;;) {
      unsigned long start = next.fetch_add(kInitChunkItems);
      if (start >= total) return;
      unsigned long count = std::min(kInitChunkItems, total - start);
      randomx_init_dataset(dataset, cache, start, count);
      std::lock_guard lock(progress_mutex);
      done += count;
      if (o.progress && !failure) {
        try {
          o.progress(done, total);
        } catch (...) {
          failure = std::current_exception();
          next = total;  // stop the others
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

void check_randomx_key(ByteSpan key) {
  if (key.size() > kRandomXMaxKeySize)
    throw std::invalid_argument("RandomX key is " + std::to_string(key.size()) +
                                " bytes; at most 60 are allowed");
}

std::shared_ptr<const RandomXEpoch> RandomXEpoch::build(ByteSpan key, RandomXMode mode,
                                                        const RandomXOptions& o) {
  check_randomx_key(key);
  const auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<RandomXEpoch> e(new RandomXEpoch());
  e->key_.assign(key.begin(), key.end());
  e->mode_ = mode;

  // The cache uses the JIT (SuperscalarHash programs) and the Argon2 SIMD variant;
  // HARD_AES is a VM flag.
  const randomx_flags cache_flags =
      randomx_get_flags() & (RANDOMX_FLAG_JIT | RANDOMX_FLAG_ARGON2);
  bool cache_large = false;
  e->cache_ = allocate<randomx_cache>(randomx_alloc_cache, cache_flags, "256 MiB cache", o,
                                      cache_large, e->notes_);
  static const uint8_t empty = 0;  // librandomx wants a non-null pointer even for no key
  randomx_init_cache(e->cache_, key.empty() ? &empty : key.data(), key.size());
  e->large_pages_ = cache_large;

  if (mode == RandomXMode::fast) {
    bool dataset_large = false;
    e->dataset_ = allocate<randomx_dataset>(randomx_alloc_dataset, RANDOMX_FLAG_DEFAULT,
                                            "2 GiB dataset", o, dataset_large, e->notes_);
    e->large_pages_ = cache_large && dataset_large;
    unsigned threads = o.init_threads ? o.init_threads : std::thread::hardware_concurrency();
    init_dataset(e->dataset_, e->cache_, std::max(1u, threads), o);
    randomx_release_cache(e->cache_);  // fast VMs read only the dataset
    e->cache_ = nullptr;
  }
  e->build_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.log)
    o.log("RandomX: " + std::string(mode == RandomXMode::fast ? "dataset" : "cache") +
          " for key " + to_hex(key) + " ready in " + std::to_string(e->build_seconds_) + " s" +
          (e->large_pages_ ? " (large pages)" : ""));
  return e;
}

RandomXEpoch::~RandomXEpoch() {
  if (dataset_) randomx_release_dataset(dataset_);
  if (cache_) randomx_release_cache(cache_);
}

}  // namespace otedama::crypto
