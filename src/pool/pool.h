// pool: the mining pool's logic on top of chain/ (templates, blocks), stratum/ (miners) and
// crypto/ (share checks): jobs from the daemon's templates, share validation, vardiff, block
// submission and the pool's metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "pool/vardiff.h"

namespace boost::asio {
class io_context;
}
namespace otedama::store {
class Store;
}
namespace otedama::p2p {
class Node;
}

namespace otedama::pool {

class Ledger;  // the pools' accounting (internal: pool/ledger.h)

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

// What the node needs of any pool, whatever its coin.
class Pool {
 public:
  virtual ~Pool() = default;
  // Binds the Stratum port now (std::runtime_error naming the address when it cannot), then
  // starts talking to the daemon in the background.
  virtual void start() = 0;
  virtual void stop() = 0;
  // A new tip was announced (blocknotify): fetch a new template now.
  virtual void block_notify() = 0;
  virtual uint16_t stratum_port() const = 0;
  virtual PoolSnapshot snapshot() const = 0;
  // Where miners go when this pool loses its coin daemon: the node supplies other nodes'
  // Stratum endpoints (P2P peers, federated pools); nullopt when it knows none. Asked on the
  // pool's own threads, after pool.failover's entries, each candidate used only if it accepts
  // a TCP connection. Pools that do not redirect their miners ignore it.
  using FailoverSource = std::function<std::optional<config::Address>()>;
  virtual void set_failover_source(FailoverSource) {}
};

// The pool for the config's coin (bitcoin, litecoin: BitcoinPool; monero: MoneroPool).
// Throws std::invalid_argument for a coin no pool serves or a config it cannot serve.
// With a ledger (Accounting::ledger()), accepted shares and found blocks are accounted.
// With a P2P node (Bitcoin family only), the pool mines on the share chain: each miner's jobs
// commit to its own payout script and pay the chain's PPLNS window (docs/p2p.md).
std::unique_ptr<Pool> make_pool(boost::asio::io_context& io, const config::PoolConfig& config, StatusCallback status,
                                std::shared_ptr<Ledger> ledger = nullptr, std::shared_ptr<p2p::Node> p2p = nullptr);

// The node's accounting (docs/storage.md, docs/operations.md): the store, one reward window per
// coin rebuilt from the stored shares (the ledger the pools feed), and one accounting thread
// that writes found blocks and PPS credits, follows each pending block on its daemon (confirmed
// after coinbase maturity, orphaned blocks reversed) and, with pool.payouts.enabled, pays payable
// balances through the coin's wallet every interval (the daemon's wallet for the Bitcoin family,
// monero-wallet-rpc at payouts.wallet_url for Monero).
class Accounting {
 public:
  // Opens store::open(store::options_from_config(config)). Throws store::StoreError (with the
  // path or DSN) or std::invalid_argument for a pool config it cannot account.
  explicit Accounting(const config::Config& config);
  Accounting(const config::Config& config, std::shared_ptr<store::Store> store);
  ~Accounting();  // stop()
  Accounting(const Accounting&) = delete;
  Accounting& operator=(const Accounting&) = delete;

  void start();  // the accounting thread
  // Stops the thread, writes what the ledger holds and closes the store (after the pools stopped).
  void stop();
  store::Store& store();
  std::shared_ptr<Ledger> ledger() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A Bitcoin-family pool (bitcoin: sha256d, litecoin: scrypt) fed by a Bitcoin-Core-style daemon.
class BitcoinPool final : public Pool {
 public:
  // Throws std::invalid_argument for a pool config it cannot serve (no daemon, wrong coin).
  BitcoinPool(boost::asio::io_context& io, const config::PoolConfig& config, StatusCallback status,
              std::shared_ptr<Ledger> ledger = nullptr, std::shared_ptr<p2p::Node> p2p = nullptr);
  ~BitcoinPool();
  BitcoinPool(const BitcoinPool&) = delete;
  BitcoinPool& operator=(const BitcoinPool&) = delete;

  void start() override;
  void stop() override;
  void block_notify() override;
  uint16_t stratum_port() const override;
  PoolSnapshot snapshot() const override;
  // Daemon loss: after two failed daemon calls in a row, or a failure more
  // than 3 s after the last good answer, the pool stops handing out work: shares on earlier
  // jobs are stale, every session gets client.reconnect to the first live failover target
  // (pool.failover, then this source) and is closed, and mining.authorize is refused (with the
  // same client.reconnect) until a template comes again. Without a live target the sessions
  // are only closed: miners with several pool URLs move on at once. Thread-safe.
  void set_failover_source(FailoverSource source) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// A Monero pool (coin monero, RandomX) fed by monerod: Monero-style Stratum on the pool's own
// address (docs/stratum-monero.md), a per-connection extra nonce in the template's reserved
// area, RandomX share checks on worker threads (fast mode with the 2 GiB dataset when memory
// allows and it is built, light mode meanwhile and otherwise), blocks submitted at once.
class MoneroPool final : public Pool {
 public:
  // Throws std::invalid_argument for a pool config it cannot serve.
  MoneroPool(boost::asio::io_context& io, const config::PoolConfig& config, StatusCallback status,
             std::shared_ptr<Ledger> ledger = nullptr);
  ~MoneroPool();
  MoneroPool(const MoneroPool&) = delete;
  MoneroPool& operator=(const MoneroPool&) = delete;

  void start() override;
  void stop() override;
  void block_notify() override;
  uint16_t stratum_port() const override;
  PoolSnapshot snapshot() const override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace otedama::pool
