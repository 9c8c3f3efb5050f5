// miner: the built-in CPU miner. A Stratum v1 client (subscribe, authorize, version rolling
// when the pool offers it, reconnect with back-off, fail-over across several pool URLs) that
// searches nonces on all threads with the PoW library and submits shares.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/core.h"

namespace otedama::miner {

struct PoolUrl {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
};
// stratum+tcp://host:port (also stratum://, tcp://, or bare host:port); stratum+ssl:// or
// stratum+tls:// for TLS (1.2 or later; the pool's certificate is not verified, since pools
// mostly use self-signed ones). Throws std::invalid_argument.
PoolUrl parse_pool_url(const std::string& url);

struct MinerConfig {
  std::vector<std::string> urls;  // tried in order; the first is preferred
  std::string user;               // ADDRESS.WORKER
  std::string password = "x";
  std::string algo = "sha256d";  // sha256d | scrypt
  unsigned threads = 0;          // 0 = every hardware thread
  std::chrono::milliseconds report_interval{10000};
  std::chrono::milliseconds reconnect_min{500}, reconnect_max{30000};
  size_t max_line = 64 << 20;  // notify lines of a P2P coinbase paying thousands are large
};

struct MinerStats {
  uint64_t hashes = 0;
  uint64_t accepted = 0, rejected = 0;
  double hashrate = 0;       // H/s over the last report interval
  double difficulty = 0;     // current share difficulty
  std::string pool;          // host:port connected to, "" when disconnected
  std::string last_error;    // the last rejection reason or connection error
  uint64_t jobs = 0;         // mining.notify messages received
  uint64_t reconnects = 0;
};

// Stratum job as received (mining.notify), with the session's extranonce.
struct StratumJob {
  std::string id;
  Hash256 prevhash{};  // header byte order
  Bytes coinb1, coinb2;
  std::vector<Hash256> merkle_branch;
  uint32_t version = 0, nbits = 0, ntime = 0;
  bool clean = false;
};

// Builds the 80-byte header of a job for an extranonce (the Stratum merkle fold).
std::array<uint8_t, 80> build_header(const StratumJob& job, ByteSpan extranonce1, ByteSpan extranonce2,
                                     uint32_t version, uint32_t ntime, uint32_t nonce);
// The Stratum prevhash field (8 words, each byte-swapped) to header byte order, and back.
Hash256 stratum_prevhash_to_header(std::string_view hex);
// Share target for a Stratum difficulty: sha256d diff 1 = 0x00000000ffff...; scrypt x65536.
U256 share_target(const std::string& algo, double difficulty);

class Miner {
 public:
  explicit Miner(MinerConfig config);
  ~Miner();
  Miner(const Miner&) = delete;
  Miner& operator=(const Miner&) = delete;

  // Runs until stop() (or *stop_flag becomes true); reports through `report` every interval.
  void run(std::function<void(const MinerStats&)> report = nullptr);
  void stop();
  MinerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otedama::miner
