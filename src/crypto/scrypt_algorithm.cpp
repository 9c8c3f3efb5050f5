// The scrypt (N=1024, r=1, p=1) Algorithm: Litecoin/Dogecoin proof of work on 80-byte headers.
#include <cstring>
#include <stdexcept>
#include <string>

#include "crypto/crypto.h"

namespace otedama::crypto {
namespace {

void check_work(const Work& work) {
  if (work.blob.size() != 80)
    throw std::invalid_argument("scrypt: work blob must be an 80-byte header, got " +
                                std::to_string(work.blob.size()) + " bytes");
  if (work.nonce_offset != 76)
    throw std::invalid_argument("scrypt: nonce offset must be 76, got " + std::to_string(work.nonce_offset));
}

class ScryptAlgorithm final : public Algorithm {
 public:
  explicit ScryptAlgorithm(ScryptImpl impl) : impl_(impl) {}

  std::string_view name() const override { return "scrypt"; }
  std::string variant() const override {
    unsigned lanes = scrypt_lanes(impl_);
    return lanes == 1 ? std::string(to_string(impl_)) : std::string(to_string(impl_)) + " x" + std::to_string(lanes);
  }

  PowResult hash(const Work& work, uint64_t nonce) override {
    check_work(work);
    if (nonce > 0xffffffffull) throw std::invalid_argument("scrypt: nonce must fit in 32 bits");
    Bytes header = work.blob;
    for (int i = 0; i < 4; ++i) header[76 + i] = uint8_t(nonce >> (8 * i));
    return PowResult{scrypt_1024_1_1(header), {}};
  }

  uint64_t search(const Work& work, uint64_t first, uint64_t last, std::vector<Found>& found,
                  const std::atomic<bool>* stop) override {
    check_work(work);
    if (first > last) return 0;
    if (first > 0xffffffffull) throw std::invalid_argument("scrypt: first nonce must fit in 32 bits");
    if (last > 0xffffffffull) last = 0xffffffffull;  // the nonce field is 32 bits
    hits_.clear();
    uint64_t n = scrypt_scan(impl_, work.blob.data(), work.target, uint32_t(first), uint32_t(last), hits_, stop);
    for (const ScryptHit& h : hits_) found.push_back(Found{h.nonce, PowResult{h.hash, {}}});
    return n;
  }

 private:
  ScryptImpl impl_;
  std::vector<ScryptHit> hits_;
};

}  // namespace

std::unique_ptr<Algorithm> make_scrypt_algorithm(const AlgorithmOptions& options) {
  ScryptImpl impl;
  const std::string& v = options.variant;
  if (v == "auto" || v.empty()) impl = best_scrypt_impl();
  else if (v == "portable") impl = ScryptImpl::portable;
  else if (v == "sse2") impl = ScryptImpl::sse2;
  else if (v == "avx2") impl = ScryptImpl::avx2;
  else if (v == "avx512") impl = ScryptImpl::avx512;
  else throw std::invalid_argument("scrypt: unknown variant '" + v + "' (auto, portable, sse2, avx2, avx512)");
  if (!scrypt_impl_supported(impl))
    throw std::invalid_argument("scrypt: variant '" + v + "' is not supported on this CPU");
  return std::make_unique<ScryptAlgorithm>(impl);
}

}  // namespace otedama::crypto
