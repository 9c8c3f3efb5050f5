// RandomXContexts: epochs by (key, mode), built once, shared, the newest few kept.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

#include "crypto/crypto.h"
#include "crypto/randomx.h"

namespace otedama::crypto {

RandomXContexts::RandomXContexts(RandomXOptions options, size_t keep_per_mode)
    : options_(std::move(options)), keep_(std::max<size_t>(1, keep_per_mode)) {}

RandomXContexts::~RandomXContexts() {
  // Background builds (std::async) are joined when their last future goes.
  std::lock_guard lock(mutex_);
  entries_.clear();
}

RandomXContexts::Entries::iterator RandomXContexts::locate(ByteSpan key, RandomXMode mode) {
  return std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.mode == mode && std::ranges::equal(e.key, key);
  });
}

RandomXContexts::Entries RandomXContexts::evict(RandomXMode mode) {
  Entries gone;
  size_t held = std::count_if(entries_.begin(), entries_.end(),
                              [&](const Entry& e) { return e.mode == mode; });
  for (auto it = entries_.end(); held > keep_ && it != entries_.begin();) {
    --it;
    // A build in flight stays: someone is waiting for it.
    if (it->mode != mode ||
        it->epoch.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      continue;
    auto victim = it++;
    gone.splice(gone.end(), entries_, victim);
    --held;
  }
  return gone;
}

std::shared_ptr<const RandomXEpoch> RandomXContexts::wait(const Future& epoch, uint64_t id) {
  try {
    return epoch.get();
  } catch (...) {
    // Forget the failed build so that the next request tries again.
    std::lock_guard lock(mutex_);
    entries_.remove_if([&](const Entry& e) { return e.id == id; });
    throw;
  }
}

std::shared_ptr<const RandomXEpoch> RandomXContexts::get(ByteSpan key, RandomXMode mode) {
  check_randomx_key(key);
  std::unique_lock lock(mutex_);
  if (auto it = locate(key, mode); it != entries_.end()) {
    entries_.splice(entries_.begin(), entries_, it);
    Future epoch = it->epoch;
    uint64_t id = it->id;
    lock.unlock();
    return wait(epoch, id);
  }
  std::promise<std::shared_ptr<const RandomXEpoch>> promise;
  Future epoch = promise.get_future().share();
  uint64_t id = next_id_++;
  entries_.push_front(Entry{id, Bytes(key.begin(), key.end()), mode, epoch});
  Entries gone = evict(mode);
  lock.unlock();
  gone.clear();
  // Built here, outside the lock: other keys stay usable meanwhile.
  try {
    promise.set_value(RandomXEpoch::build(key, mode, options_));
  } catch (...) {
    promise.set_exception(std::current_exception());
  }
  return wait(epoch, id);
}

void RandomXContexts::prepare(ByteSpan key, RandomXMode mode) {
  check_randomx_key(key);
  std::unique_lock lock(mutex_);
  if (locate(key, mode) != entries_.end()) return;
  Future epoch = std::async(std::launch::async,
                            [key = Bytes(key.begin(), key.end()), mode, options = options_] {
                              return RandomXEpoch::build(key, mode, options);
                            })
                     .share();
  // A prepared key counts as the most recent one: it is the next epoch's.
  entries_.push_front(Entry{next_id_++, Bytes(key.begin(), key.end()), mode, epoch});
  Entries gone = evict(mode);
  lock.unlock();
}

std::shared_ptr<const RandomXEpoch> RandomXContexts::find(ByteSpan key, RandomXMode mode) const {
  std::lock_guard lock(mutex_);
  for (const Entry& e : entries_)
    if (e.mode == mode && std::ranges::equal(e.key, key)) {
      if (e.epoch.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return nullptr;
      try {
        return e.epoch.get();
      } catch (...) {
        return nullptr;
      }
    }
  return nullptr;
}

size_t RandomXContexts::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

RandomXContexts& RandomXContexts::shared(bool large_pages, unsigned init_threads) {
  static std::mutex mutex;
  static std::map<std::pair<bool, unsigned>, std::unique_ptr<RandomXContexts>> instances;
  std::lock_guard lock(mutex);
  auto& slot = instances[{large_pages, init_threads}];
  if (!slot) {
    RandomXOptions o;
    o.large_pages = large_pages;
    o.init_threads = init_threads;
    o.log = [](std::string_view line) { crypto_log(line); };
    // Progress in tenths, so a 2 GiB dataset build shows that it is moving.
    o.progress = [last = std::make_shared<std::atomic<int>>(-1)](uint64_t done, uint64_t total) {
      int tenth = total ? int(done * 10 / total) : 10;
      if (tenth > last->exchange(tenth))
        crypto_log("RandomX dataset initialization " + std::to_string(tenth * 10) + "%");
    };
    slot = std::make_unique<RandomXContexts>(std::move(o));
  }
  return *slot;
}

}  // namespace otedama::crypto
