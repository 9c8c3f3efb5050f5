// sha256d (Bitcoin) behind the Algorithm interface: hash() for the pool, search() for the miner.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "crypto/crypto.h"

namespace otedama::crypto {
namespace {

constexpr size_t kHeaderSize = 80;
constexpr size_t kNonceOffset = 76;

void check_work(const Work& work) {
  if (work.blob.size() != kHeaderSize)
    throw std::invalid_argument("sha256d: header must be 80 bytes, got " + std::to_string(work.blob.size()));
  if (work.nonce_offset != kNonceOffset)
    throw std::invalid_argument("sha256d: nonce offset must be 76, got " + std::to_string(work.nonce_offset));
}

void check_nonce(uint64_t nonce) {
  if (nonce > 0xffffffffull) throw std::invalid_argument("sha256d: nonce " + std::to_string(nonce) + " exceeds 32 bits");
}

class Sha256dAlgorithm final : public Algorithm {
 public:
  explicit Sha256dAlgorithm(ShaImpl impl) : impl_(impl) {}

  std::string_view name() const override { return "sha256d"; }

  std::string variant() const override {
    unsigned lanes = sha_impl_lanes(impl_);
    return lanes == 1 ? std::string(to_string(impl_)) : std::string(to_string(impl_)) + " x" + std::to_string(lanes);
  }

  PowResult hash(const Work& work, uint64_t nonce) override {
    check_work(work);
    check_nonce(nonce);
    uint8_t header[kHeaderSize];
    std::copy(work.blob.begin(), work.blob.end(), header);
    for (int b = 0; b < 4; ++b) header[kNonceOffset + b] = uint8_t(nonce >> (8 * b));
    PowResult r;
    r.hash = sha256d(ByteSpan(header, kHeaderSize));
    return r;
  }

  uint64_t search(const Work& work, uint64_t first, uint64_t last, std::vector<Found>& found,
                  const std::atomic<bool>* stop) override {
    check_work(work);
    check_nonce(last);
    if (first > last) throw std::invalid_argument("sha256d: search range is empty (first > last)");
    hits_.clear();
    uint64_t done = sha256d_scan(impl_, work.blob.data(), work.target, uint32_t(first), uint32_t(last), hits_, stop);
    for (uint32_t nonce : hits_) found.push_back(Found{nonce, hash(work, nonce)});
    return done;
  }

 private:
  ShaImpl impl_;
  std::vector<uint32_t> hits_;
};

}  // namespace

std::unique_ptr<Algorithm> make_sha256d_algorithm(const AlgorithmOptions& options) {
  ShaImpl impl;
  if (options.variant == "auto") {
    impl = best_sha_impl();
  } else if (auto named = sha_impl_from_string(options.variant)) {
    impl = *named;
    if (!sha_impl_supported(impl))
      throw std::invalid_argument("sha256d: variant '" + options.variant + "' is not supported by this CPU");
  } else {
    throw std::invalid_argument("sha256d: unknown variant '" + options.variant +
                                "' (expected auto, portable, sha-ni, avx2, avx512 or sha-ni+avx512)");
  }
  return std::make_unique<Sha256dAlgorithm>(impl);
}

}  // namespace otedama::crypto
