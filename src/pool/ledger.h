// Internal to the pool module: the pools' accounting. What a pool accepts goes to the store
// (record_share only enqueues: the store's writer group-commits off the hot path) and into an
// in-memory reward window per coin; a found block is credited from that window at once and
// its store writes go to the accounting thread (Ledger::flush). See docs/storage.md.
//
// One accounting line per coin (the store keeps everything per coin): the first enabled pool
// of a coin sets its reward system, window and fee; more pools of the same coin share it.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accounting/accounting.h"
#include "config/config.h"
#include "store/store.h"

namespace otedama::pool {

int64_t unix_ms();

// A Stratum share difficulty as accounting work. Bitcoin-family Stratum difficulties for scrypt
// carry a factor 65536 against the network's difficulty (docs/api.md); it is divided out here,
// so share work and network work (network_work()) are always in the same units.
accounting::Work share_work(const std::string& algorithm, double stratum_difficulty);

struct FoundBlock {
  std::string coin;
  int64_t height = 0;
  std::string hash;         // as the daemon names it (Bitcoin family: display hex)
  store::Amount reward = 0;  // what the block pays: subsidy + transaction fees
  std::string login;        // the finder's Stratum login ("address.worker")
  int64_t time_ms = 0;
};

class Ledger {
 public:
  // Rebuilds each coin's window from the stored shares (PPLNT: the window's duration; PPLNS:
  // the last 7 days, trimmed to the window once the network difficulty is known). Throws
  // std::invalid_argument for a pool config it cannot account (fee, window) and StoreError.
  Ledger(std::shared_ptr<store::Store> store, const std::vector<config::PoolConfig>& pools, int64_t now_ms = unix_ms());
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // The hot path, for an accepted share: enqueues it in the store and adds it to the window
  // (PPS/FPPS: accrues its value, written by flush()). O(1), one short per-coin lock, under
  // which the share is stamped and enqueued, so the store's order is the window's order.
  // A coin with no accounting line is ignored; a share the store cannot take (empty login,
  // bad difficulty) is logged and dropped.
  // Returns the store's sequence number of the share (0: not recorded), for on_durable().
  uint64_t share(const std::string& coin, std::string_view login, double stratum_difficulty, int64_t height,
                 bool block_candidate);
  // Runs fn (on the store's writer thread) once share `seq` is on disk; at once for seq 0.
  void on_durable(uint64_t seq, std::function<void()> fn);
  // The current template: network difficulty in the pool's Stratum units, the block subsidy
  // and the template's transaction fees (atomic units). PPLNS windows follow the difficulty.
  void set_network(const std::string& coin, double network_difficulty, store::Amount subsidy, store::Amount fees);
  // A found block: its credits are computed now from the window (PPLNS/PPLNT), the finder
  // (SOLO) or none (PPS/FPPS: the shares were paid already); the writes are queued. PPLNS: the
  // block's time becomes at least its window's newest share's, and later shares are stamped
  // after it (docs/storage.md: recomputing balances from the store).
  void block(const FoundBlock& found);
  // Writes the queued blocks with their credits (one transaction each, once every share of the
  // block's window is durable) and the accrued PPS/FPPS credits. What the store refuses or what
  // waits for the share writer stays queued for the next call (logged). Thread-safe; the
  // accounting thread calls it.
  void flush();

  store::Store& store() { return *store_; }
  std::shared_ptr<store::Store> store_ptr() const { return store_; }
  bool accounts(const std::string& coin) const { return lines_.count(coin) != 0; }
  // The window's weights now (sorted by account), for display and tests.
  std::vector<accounting::Weight> weights(const std::string& coin);
  // The credits computed for a block (by hash) when it was found: what flush() writes.
  std::optional<std::vector<store::Credit>> credits_of(const std::string& coin, const std::string& hash);

 private:
  struct Line {
    std::string coin, algorithm;
    config::RewardSystem system = config::RewardSystem::PPLNS;
    accounting::FeeRate fee;
    double multiple = 0;  // PPLNS: window = multiple x network difficulty
    std::mutex mutex;     // guards what follows
    std::optional<accounting::PplnsWindow> window;
    accounting::Work network_work = 0;
    store::Amount subsidy = 0, fees = 0;
    std::map<std::string, store::Amount> pps_accrued;  // account -> net credit not yet written
    uint64_t pps_shares = 0;
    // PPLNS: share times never go back and a block closes its millisecond (the next share is
    // stamped after it), so "the shares stored up to the block's time" is exactly the window
    // the block was credited from, and balances can be recomputed from the store.
    int64_t next_time = 0;  // the earliest time the next share may carry
    uint64_t last_seq = 0;  // the store's sequence number of the newest share in the window
  };
  struct PendingBlock {
    store::Block block;
    std::vector<store::Credit> credits;
    uint64_t window_seq = 0;  // written only once this share (the window's newest) is durable
  };

  Line* line(const std::string& coin);

  std::shared_ptr<store::Store> store_;
  std::map<std::string, std::unique_ptr<Line>> lines_;  // fixed after construction
  std::mutex pending_mutex_;
  std::deque<PendingBlock> pending_;
  std::map<std::string, std::vector<store::Credit>> computed_;  // coin/hash -> credits (last 100)
  std::deque<std::string> computed_order_;
  std::mutex flush_mutex_;
};

}  // namespace otedama::pool
