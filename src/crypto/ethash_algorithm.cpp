// Ethash, etchash and KawPow behind the Algorithm interface. The pool's share check is the
// light evaluation; search() reads the full dataset when the epoch's is built (or when the
// "full" variant asks for it to be built) and falls back to light evaluation otherwise.
#include <stdexcept>
#include <string>

#include "crypto/crypto.h"

namespace otedama::crypto {
namespace {

enum class DagMode { light, full };

DagMode parse_mode(std::string_view name, const AlgorithmOptions& options) {
  if (options.variant == "auto" || options.variant == "light") return DagMode::light;
  if (options.variant == "full") return DagMode::full;
  throw std::invalid_argument(std::string(name) + ": unknown variant '" + options.variant +
                              "' (expected auto, light or full)");
}

Hash256 header_of(std::string_view name, const Work& work) {
  if (work.blob.size() != 32)
    throw std::invalid_argument(std::string(name) + ": work.blob must be the 32-byte header hash, got " +
                                std::to_string(work.blob.size()) + " bytes");
  Hash256 h;
  std::copy(work.blob.begin(), work.blob.end(), h.begin());
  return h;
}

// Shared by the three: only the context choice and the hash function differ.
class DagAlgorithm : public Algorithm {
 public:
  DagAlgorithm(std::string name, const AlgorithmOptions& options)
      : name_(std::move(name)), mode_(parse_mode(name_, options)), init_threads_(options.init_threads) {}

  std::string_view name() const override { return name_; }
  std::string variant() const override { return used_full_ ? "full (dataset)" : "light (cache)"; }
  U256 pow_value(const Hash256& hash) const override { return U256::from_be_bytes(hash.data()); }

  PowResult hash(const Work& work, uint64_t nonce) override {
    const Hash256 header = header_of(name_, work);
    const auto ctx = context(work.height);
    return to_pow(light(*ctx, work.height, header, nonce));
  }

  uint64_t search(const Work& work, uint64_t first, uint64_t last, std::vector<Found>& found,
                  const std::atomic<bool>* stop) override {
    if (first > last) throw std::invalid_argument(name_ + ": search range first > last");
    const Hash256 header = header_of(name_, work);
    const auto ctx = context(work.height);
    auto dataset = ctx->full_dataset();
    if (!dataset && mode_ == DagMode::full) dataset = ctx->build_full_dataset(init_threads_);
    used_full_ = dataset != nullptr;
    uint64_t hashed = 0;
    for (uint64_t nonce = first;; ++nonce) {
      if (stop && stop->load(std::memory_order_relaxed)) break;
      const PowResult r = to_pow(dataset ? full(*ctx, *dataset, work.height, header, nonce)
                                         : light(*ctx, work.height, header, nonce));
      ++hashed;
      if (meets(work, r)) found.push_back({nonce, r});
      if (nonce == last) break;
    }
    return hashed;
  }

 protected:
  virtual std::shared_ptr<const EthashContext> context(uint64_t height) const = 0;
  virtual EthashResult light(const EthashContext& ctx, uint64_t height, const Hash256& header,
                             uint64_t nonce) const = 0;
  virtual EthashResult full(const EthashContext& ctx, const EthashDataset& dataset, uint64_t height,
                            const Hash256& header, uint64_t nonce) const = 0;

 private:
  static PowResult to_pow(const EthashResult& r) { return PowResult{r.final_hash, r.mix}; }

  std::string name_;
  DagMode mode_;
  unsigned init_threads_;
  bool used_full_ = false;
};

class EthashAlgorithm final : public DagAlgorithm {
 public:
  EthashAlgorithm(EthashVariant v, const AlgorithmOptions& options)
      : DagAlgorithm(v == EthashVariant::etchash ? "etchash" : "ethash", options), variant_(v) {}

 protected:
  std::shared_ptr<const EthashContext> context(uint64_t height) const override {
    return ethash_context_for_block(variant_, height);
  }
  EthashResult light(const EthashContext& ctx, uint64_t, const Hash256& header, uint64_t nonce) const override {
    return ethash_hash_light(ctx, header, nonce);
  }
  EthashResult full(const EthashContext& ctx, const EthashDataset& dataset, uint64_t, const Hash256& header,
                    uint64_t nonce) const override {
    return ethash_hash_full(ctx, dataset, header, nonce);
  }

 private:
  EthashVariant variant_;
};

class KawpowAlgorithm final : public DagAlgorithm {
 public:
  explicit KawpowAlgorithm(const AlgorithmOptions& options) : DagAlgorithm("kawpow", options) {}

 protected:
  std::shared_ptr<const EthashContext> context(uint64_t height) const override {
    return kawpow_context(height / kKawpowEpochLength);
  }
  EthashResult light(const EthashContext& ctx, uint64_t height, const Hash256& header,
                     uint64_t nonce) const override {
    return kawpow_hash_light(ctx, height, header, nonce);
  }
  EthashResult full(const EthashContext& ctx, const EthashDataset& dataset, uint64_t height, const Hash256& header,
                    uint64_t nonce) const override {
    return kawpow_hash_full(ctx, dataset, height, header, nonce);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_ethash_algorithm(EthashVariant v, const AlgorithmOptions& options) {
  return std::make_unique<EthashAlgorithm>(v, options);
}

std::unique_ptr<Algorithm> make_kawpow_algorithm(const AlgorithmOptions& options) {
  return std::make_unique<KawpowAlgorithm>(options);
}

}  // namespace otedama::crypto
