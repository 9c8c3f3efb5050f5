// pool: the mining pool's logic on top of chain/ (templates, blocks), stratum/ (miners) and
// crypto/ (share checks): jobs from the daemon's templates, share validation, vardiff, block
// submission and the pool's metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "pool/vardiff.h"

namespace boost::asio {
class io_context;
}

namespace otedama::pool {

// Readiness reports: (ready, what it is doing or why it is not ready). Called from any thread.
using StatusCallback = std::function<void(bool ready, const std::string& detail)>;

struct PoolSnapshot {
  std::string name, coin, algorithm;
  uint64_t height = 0;            // of the current job
  double network_difficulty = 0;  // in Stratum difficulty units of the algorithm
  uint64_t connections = 0;
  uint64_t shares_valid = 0, shares_stale = 0, shares_duplicate = 0, shares_invalid = 0;
  uint64_t blocks_found = 0, blocks_accepted = 0;
  std::string last_block_hash;  // display hex
};

// A Bitcoin-family pool (bitcoin: sha256d, litecoin: scrypt) fed by a Bitcoin-Core-style daemon.
class BitcoinPool {
 public:
  // Throws std::invalid_argument for a pool config it cannot serve (no daemon, wrong coin).
  BitcoinPool(boost::asio::io_context& io, const config::PoolConfig& config, StatusCallback status);
  ~BitcoinPool();
  BitcoinPool(const BitcoinPool&) = delete;
  BitcoinPool& operator=(const BitcoinPool&) = delete;

  // Binds the Stratum port now (std::runtime_error naming the address when it cannot), then
  // starts talking to the daemon in the background.
  void start();
  void stop();
  // A new tip was announced (blocknotify): fetch a new template now.
  void block_notify();
  uint16_t stratum_port() const;
  PoolSnapshot snapshot() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace otedama::pool
