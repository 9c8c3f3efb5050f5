// The registry of proof-of-work algorithms by name.
#include <mutex>
#include <stdexcept>

#include "crypto/crypto.h"

namespace otedama::crypto {

namespace {
std::mutex log_mutex;
std::function<void(std::string_view)> log_sink;
}  // namespace

void set_crypto_log(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(log_mutex);
  log_sink = std::move(sink);
}

void crypto_log(std::string_view line) {
  std::lock_guard lock(log_mutex);
  if (log_sink) log_sink(line);
}

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
