// The Algorithm "randomx" (rx/0): the pool's share check and the miner's nonce search.
#include <stdexcept>

#include "crypto/crypto.h"
#include "crypto/randomx.h"

namespace otedama::crypto {
namespace {

constexpr size_t kNonceSize = 4;  // Monero: 4 bytes, little-endian, at offset 39

void check_work(const Work& work) {
  if (work.nonce_offset > work.blob.size() || work.blob.size() - work.nonce_offset < kNonceSize)
    throw std::invalid_argument("RandomX: nonce offset " + std::to_string(work.nonce_offset) +
                                " leaves no room for a 4-byte nonce in a " +
                                std::to_string(work.blob.size()) + "-byte blob");
}

void check_nonce(uint64_t nonce) {
  if (nonce > 0xffffffffull)
    throw std::invalid_argument("RandomX: nonce " + std::to_string(nonce) +
                                " does not fit the 4-byte nonce field");
}

void put_nonce(Bytes& blob, size_t offset, uint64_t nonce) {
  for (size_t i = 0; i < kNonceSize; ++i) blob[offset + i] = uint8_t(nonce >> (8 * i));
}

class RandomXAlgorithm final : public Algorithm {
 public:
  explicit RandomXAlgorithm(const AlgorithmOptions& o)
      : mode_(o.randomx_fast ? RandomXMode::fast : RandomXMode::light),
        hasher_(mode_, RandomXContexts::shared(o.large_pages, o.init_threads)) {}

  std::string_view name() const override { return "randomx"; }

  std::string variant() const override {
    std::string v = mode_ == RandomXMode::fast ? "fast (dataset), " : "light (cache), ";
    return v + randomx_features_text(randomx_cpu());
  }

  // Whether the current key's memory got large pages (false before the first hash).
  bool large_pages() const override { return hasher_.epoch() && hasher_.epoch()->large_pages(); }

  PowResult hash(const Work& work, uint64_t nonce) override {
    check_work(work);
    check_nonce(nonce);
    blob_ = work.blob;
    put_nonce(blob_, work.nonce_offset, nonce);
    return PowResult{hasher_.hash(work.seed, blob_), {}};
  }

  uint64_t search(const Work& work, uint64_t first, uint64_t last, std::vector<Found>& found,
                  const std::atomic<bool>* stop) override {
    check_work(work);
    check_nonce(last);
    if (first > last || (stop && stop->load(std::memory_order_relaxed))) return 0;
    blob_ = work.blob;
    // Pipelined: while the VM runs nonce n, the input of n+1 is already being prepared.
    put_nonce(blob_, work.nonce_offset, first);
    hasher_.begin(work.seed, blob_);
    uint64_t pending = first;
    uint64_t hashed = 0;
    auto check = [&](const Hash256& h) {
      ++hashed;
      if (pow_value(h) <= work.target) found.push_back(Found{pending, PowResult{h, {}}});
    };
    while (pending < last && !(stop && stop->load(std::memory_order_relaxed))) {
      put_nonce(blob_, work.nonce_offset, pending + 1);
      check(hasher_.next(blob_));
      ++pending;
    }
    check(hasher_.finish());
    return hashed;
  }

 private:
  RandomXMode mode_;
  RandomXHasher hasher_;
  Bytes blob_;  // the work's blob with the nonce written in
};

}  // namespace

std::unique_ptr<Algorithm> make_randomx_algorithm(const AlgorithmOptions& options) {
  return std::make_unique<RandomXAlgorithm>(options);
}

}  // namespace otedama::crypto
