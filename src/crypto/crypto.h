// crypto: proof-of-work and hashing kernels behind one Algorithm interface. No I/O here.
//
// The pool checks one header against a target with Algorithm::hash(); the miner searches a
// nonce range with Algorithm::search(). Instances are not thread-safe: make one per thread.
// Heavy shared state (RandomX caches/datasets, Ethash epoch contexts) is shared between
// instances internally and kept alive while any instance uses it.
//
// Byte orders: every hash is returned as the raw digest, in the order the function outputs
// it. How that digest compares with a target is the algorithm's rule (pow_value()):
// SHA256d, scrypt and RandomX read it as a little-endian 256-bit number, Ethash and KawPow
// as a big-endian one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "crypto/keccak.h"
#include "crypto/sha256.h"
#include "crypto/scrypt.h"
#include "crypto/ethash.h"
#include "crypto/randomx.h"

namespace otedama::crypto {

// What a miner searches over and a pool checks.
struct Work {
  // sha256d/scrypt: the 80-byte header (nonce field at nonce_offset is overwritten).
  // randomx: the hashing blob (nonce at nonce_offset, 4 bytes, e.g. 39 for Monero).
  // ethash/etchash/kawpow: the 32-byte header hash; the 64-bit nonce is passed separately.
  Bytes blob;
  size_t nonce_offset = 76;
  uint64_t height = 0;  // ethash/etchash/kawpow: block number (epoch and period follow)
  Hash256 seed{};       // randomx: the key (Monero seed hash)
  U256 target = U256::max();  // accept when pow_value(hash) <= target
};

struct PowResult {
  Hash256 hash{};  // the PoW digest (ethash/kawpow: final hash)
  Hash256 mix{};   // ethash/kawpow: mix hash; zero otherwise
};

struct Found {
  uint64_t nonce = 0;
  PowResult result;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual std::string_view name() const = 0;
  // The kernel in use, e.g. "sha-ni x4", "avx2 x8", "portable", "fast (dataset)".
  virtual std::string variant() const = 0;
  virtual bool large_pages() const { return false; }

  // Pool side: the PoW of `work` with `nonce` (written into a copy of the blob where the
  // algorithm keeps its nonce there).
  virtual PowResult hash(const Work& work, uint64_t nonce) = 0;
  // The number compared with the target.
  virtual U256 pow_value(const Hash256& hash) const { return U256::from_le_bytes(hash.data()); }
  bool meets(const Work& work, const PowResult& r) const { return pow_value(r.hash) <= work.target; }

  // Miner side: every nonce in [first, last] (inclusive) whose PoW meets work.target is
  // appended to `found`. Returns the number of nonces hashed (fewer when *stop became true).
  virtual uint64_t search(const Work& work, uint64_t first, uint64_t last, std::vector<Found>& found,
                          const std::atomic<bool>* stop = nullptr) = 0;
};

struct AlgorithmOptions {
  std::string variant = "auto";  // sha256d: auto|portable|sha-ni|avx2|avx512|sha-ni+avx512;
                                 // scrypt: auto|portable|sse2|avx2|avx512; ethash/kawpow: auto|light|full
  bool randomx_fast = false;     // RandomX: fast mode (2 GiB dataset) instead of light (256 MiB cache)
  bool large_pages = true;       // try large pages, fall back with a log line
  unsigned init_threads = 0;     // dataset/DAG initialization threads; 0 = all
};

// Where long-running work (RandomX datasets, DAG builds, large-page fallbacks) reports, one
// line per event: crypto/ does no I/O itself, the app routes it to its log. Default: silent.
void set_crypto_log(std::function<void(std::string_view)> sink);
void crypto_log(std::string_view line);

// Names: sha256d, scrypt, randomx, ethash, etchash, kawpow. Throws std::invalid_argument
// for an unknown name or variant.
std::unique_ptr<Algorithm> make_algorithm(std::string_view name, const AlgorithmOptions& options = {});
std::vector<std::string> algorithm_names();

}  // namespace otedama::crypto
