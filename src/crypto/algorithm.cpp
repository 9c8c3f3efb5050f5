// The registry of proof-of-work algorithms by name.
#include <stdexcept>

#include "crypto/crypto.h"

namespace otedama::crypto {

std::vector<std::string> algorithm_names() { return {"sha256d", "scrypt", "randomx", "ethash", "etchash", "kawpow"}; }

std::unique_ptr<Algorithm> make_algorithm(std::string_view name, const AlgorithmOptions& options) {
  if (name == "sha256d") return make_sha256d_algorithm(options);
  if (name == "scrypt") return make_scrypt_algorithm(options);
  if (name == "randomx") return make_randomx_algorithm(options);
  if (name == "ethash") return make_ethash_algorithm(EthashVariant::ethash, options);
  if (name == "etchash") return make_ethash_algorithm(EthashVariant::etchash, options);
  if (name == "kawpow") return make_kawpow_algorithm(options);
  std::string names;
  for (const auto& n : algorithm_names()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown algorithm '" + std::string(name) + "' (known: " + names + ")");
}

}  // namespace otedama::crypto
