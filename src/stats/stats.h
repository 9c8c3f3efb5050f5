// stats: what the pools' shares add up to. A thread-safe collector the pools feed one share at
// a time (record_share), giving hashrate over 1m/15m/1h/24h per pool, per miner (address) and
// per worker, share counts by result, found blocks and the current round's effort; and an
// event bus (share, block, payment, miner state) that the API's WebSocket pushes to browsers.
//
// Hashrate = sum of valid share difficulty x hashes per difficulty 1 / window. "Hashes per
// difficulty 1" is the expected number of hashes for one share of difficulty 1, i.e.
// 2^256 / diff1_target of the pool's difficulty unit:
//   sha256d (Stratum diff1 0x00000000ffff0000...): 2^48 / 65535 = 4295032833 (about 2^32)
//   scrypt  (Stratum diff1 is the sha256d one x 65536, as the pools and miner use):
//           2^32 / 65535 = 65537 (about 2^16; NOMP-style pools use the same 2^16)
//   Monero  (difficulty = 2^256 / target, already in hashes): 1
// Each record_share is O(1): three bucket rings (1 s x 60, 1 min x 60, 15 min x 96) per pool
// and per worker; queries sum the rings. Windows are bucket-aligned: a window of W seconds at
// granularity g sums the current bucket and the W/g - 1 before it, divided by W (or by the
// time since the collector started, when that is shorter).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/core.h"

namespace otedama::stats {

using Clock = std::chrono::system_clock;

enum class ShareResult { valid, stale, duplicate, invalid, low_difficulty };
const char* to_string(ShareResult);  // "valid", "stale", "duplicate", "invalid", "low_difficulty"

// 2^256 / diff1_target (see above).
double hashes_per_difficulty1(const U256& diff1_target);
// By algorithm: sha256d, scrypt (Stratum units), randomx/rx/0 (Monero units) -> 1. nullopt
// for an algorithm whose difficulty unit is not known here.
std::optional<double> hashes_per_difficulty1(std::string_view algorithm);

// "ADDRESS.WORKER" (or "ADDRESS+DIFF", "ADDRESS.WORKER+DIFF") -> {address, worker}; the worker
// is "default" when the login names none.
std::pair<std::string, std::string> split_login(std::string_view login);

struct Share {
  std::string pool;    // the pool's name (config pool.name)
  std::string miner;   // the payout address
  std::string worker;  // the worker name ("default" if none)
  double difficulty = 0;  // the share's target difficulty (what it is credited for)
  ShareResult result = ShareResult::valid;
  Clock::time_point time = Clock::now();
};

struct Block {
  std::string pool, coin;
  uint64_t height = 0;
  std::string hash;                 // display hex
  std::string miner, worker;        // who found it
  std::string status = "submitted";  // submitted | accepted | rejected | orphaned | confirmed
  double network_difficulty = 0;
  double effort = 0;  // round work / network difficulty (1.0 = 100 %), set by record_block
  double reward = 0;  // in coins, when known
  Clock::time_point time = Clock::now();
};

struct Payment {
  std::string pool, coin, address;
  double amount = 0;
  std::string txid;
  Clock::time_point time = Clock::now();
};

struct MinerState {
  bool running = false;
  std::string algorithm, pool_url, detail;
  unsigned threads = 0;
  double hashrate = 0;  // H/s as the miner measures it
  uint64_t accepted = 0, rejected = 0;
};

struct Event {
  enum class Kind { share, block, payment, miner_state };
  Kind kind;
  std::variant<Share, Block, Payment, MinerState> data;
};
const char* to_string(Event::Kind);  // "share", "block", "payment", "miner_state"

struct Hashrates {  // H/s
  double m1 = 0, m15 = 0, h1 = 0, h24 = 0;
};

struct ShareCounts {
  uint64_t valid = 0, stale = 0, duplicate = 0, invalid = 0, low_difficulty = 0;
  uint64_t total() const { return valid + stale + duplicate + invalid + low_difficulty; }
  void add(ShareResult r);
  void add(const ShareCounts& o);
};

struct WorkerStats {
  std::string pool, miner, worker;
  Hashrates hashrate;
  ShareCounts shares;
  double last_difficulty = 0;
  Clock::time_point last_share{};
  Clock::time_point first_share{};
};

struct MinerStats {
  std::string address;
  Hashrates hashrate;
  ShareCounts shares;
  Clock::time_point last_share{};
  std::vector<WorkerStats> workers;
};

struct PoolStats {
  std::string name, coin, algorithm;
  double hashes_per_difficulty1 = 0;
  Hashrates hashrate;
  ShareCounts shares;
  uint64_t miners = 0, workers = 0;  // with a share in the last 15 minutes
  uint64_t blocks_found = 0;
  uint64_t height = 0;
  double network_difficulty = 0;  // the pool's difficulty unit
  double round_work = 0;          // valid share difficulty since the last block found
  double effort = 0;              // round_work / network_difficulty (0 while unknown)
  Clock::time_point last_block{};
  Clock::time_point started{};
};

struct BlockPage {
  std::vector<Block> blocks;  // newest first
  uint64_t total = 0;
};

class Collector {
 public:
  // `started` anchors the hashrate divisor while the node is younger than a window.
  explicit Collector(Clock::time_point started = Clock::now());
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Declares a pool before its shares arrive. Throws std::invalid_argument for a factor <= 0.
  void register_pool(const std::string& name, const std::string& coin, const std::string& algorithm,
                     double hashes_per_difficulty1);
  // The pool's current network height and difficulty (for effort and /api/stats).
  void set_network(const std::string& pool, uint64_t height, double network_difficulty);

  // The share hot path: O(1), one short lock on the pool. Shares of an unregistered pool are
  // ignored (false). Publishes a share event.
  bool record_share(const Share& share);
  // A block found by the pool (status "submitted"), or a later status change of the same hash
  // (only the status is updated then). The first record closes the round: its effort is the
  // round's work / network difficulty. Publishes a block event each time.
  void record_block(Block block);
  void record_payment(const Payment& payment);  // publishes only; payments live in the store
  // The built-in miner's state; publishes an event when it starts, stops or changes target
  // (not for hashrate updates alone).
  void set_miner_state(const MinerState& state);
  MinerState miner_state() const;

  std::vector<PoolStats> pools(Clock::time_point now = Clock::now()) const;
  std::optional<PoolStats> pool(const std::string& name, Clock::time_point now = Clock::now()) const;
  // Every worker (of one pool, or of all with ""), most recent share first.
  std::vector<WorkerStats> workers(const std::string& pool = "", Clock::time_point now = Clock::now()) const;
  std::optional<MinerStats> miner(const std::string& address, const std::string& pool = "",
                                  Clock::time_point now = Clock::now()) const;
  // Blocks kept in memory (the last 1000), newest first, optionally of one pool or coin.
  BlockPage blocks(const std::string& pool, const std::string& coin, size_t offset, size_t limit) const;
  // Forgets workers without a share in the last 24 h.
  void prune(Clock::time_point now = Clock::now());

  // Events, delivered synchronously on the thread that caused them (a pool's share path):
  // subscribers must be quick (queue or post, never block). Returns an id for unsubscribe.
  uint64_t subscribe(std::function<void(const Event&)> callback);
  void unsubscribe(uint64_t id);

 private:
  struct PoolData;
  PoolData* find(const std::string& name) const;
  void publish(const Event& e);

  Clock::time_point started_;
  mutable std::mutex pools_mutex_;  // guards the map only; each pool has its own lock
  std::map<std::string, std::unique_ptr<PoolData>> pools_;
  mutable std::mutex blocks_mutex_;
  std::vector<Block> blocks_;  // oldest first, at most kMaxBlocks
  mutable std::mutex miner_mutex_;
  MinerState miner_state_;
  bool miner_state_known_ = false;
  mutable std::mutex subs_mutex_;
  std::shared_ptr<const std::vector<std::pair<uint64_t, std::function<void(const Event&)>>>> subs_;
  uint64_t next_sub_ = 1;
};

// Gauges refreshed at each /metrics render: otedama_pool_hashrate_hashes_per_second{coin,pool,window}
// (window 1m|15m|1h|24h), otedama_pool_miners, otedama_pool_workers, otedama_pool_effort_ratio,
// otedama_pool_network_difficulty, otedama_miner_running, otedama_miner_hashrate_hashes_per_second.
void register_metrics(Metrics& registry, Collector& collector);

// The process-wide collector the node's pools feed and its API reads (like metrics()).
Collector& collector();

}  // namespace otedama::stats
