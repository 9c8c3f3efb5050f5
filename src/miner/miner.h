// miner: the built-in CPU miner. sha256d and scrypt speak Stratum v1 (subscribe, authorize,
// version rolling when the pool offers it); randomx speaks Monero-style Stratum (login, pushed
// jobs, submit, keepalived, the nicehash extension; docs/stratum-monero.md) as XMRig does.
// Both reconnect with back-off, fail over across several pool URLs (plain or TLS), search
// nonces on all threads with the PoW library and submit shares.
//
// Fail-over: a pool that refuses the connection or resets it is left at once for the next URL
// (after a long session the preferred one is retried first, once); one that does not accept
// the connection within 3 s, sends no job within response_timeout or leaves a share unanswered
// that long is left too. Only after every URL failed in turn does the miner back off
// (reconnect_min doubling up to reconnect_max). On a backup pool it checks the preferred one
// every failback_interval with a real login (subscribe + authorize + a job, or a Monero login
// with a job) and returns as soon as that one gives work again.
// client.reconnect [host, port, wait] (Stratum v1, every element optional): the miner closes
// the session, waits `wait` seconds (at most 300) and connects to host:port with the TLS
// setting of the current URL, or to the same pool without a host. The redirect lasts one
// session: when it fails or ends, the configured URLs take over again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  std::string algo = "sha256d";  // sha256d | scrypt (Stratum v1), randomx (Monero Stratum)
  unsigned threads = 0;          // 0 = every hardware thread
  // randomx: "auto" = fast (2 GiB dataset), falling back to light when the dataset cannot be
  // allocated; "fast" (no fall-back: the run ends with the error); "light" (256 MiB cache).
  std::string randomx_mode = "auto";
  bool large_pages = true;  // randomx: try large pages (huge pages) first
  unsigned init_threads = 0;  // randomx: dataset initialization threads; 0 = every hardware thread
  std::chrono::milliseconds keepalive_interval{60000};  // randomx: keepalived when the pool offers it
  std::chrono::milliseconds report_interval{10000};
  std::chrono::milliseconds reconnect_min{500}, reconnect_max{10000};
  // A connected pool that sends no job, or leaves a share unanswered, this long is left.
  std::chrono::milliseconds response_timeout{10000};
  // On a backup pool: how often to check whether the preferred (first) pool gives work again.
  std::chrono::milliseconds failback_interval{15000};
  size_t max_line = 64 << 20;  // notify lines of a P2P coinbase paying thousands are large
};

struct MinerStats {
  uint64_t hashes = 0;
  uint64_t accepted = 0, rejected = 0;
  double hashrate = 0;       // H/s over the last report interval (0 before the first)
  double difficulty = 0;     // current share difficulty
  std::string pool;          // host:port connected to, "" when disconnected
  std::string last_error;    // the last rejection reason or connection error
  uint64_t jobs = 0;         // jobs received (mining.notify; Monero: login, getjob, job)
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

// ---- Monero-style Stratum (randomx) ----

// A job's "target" as XMRig reads it -> the 64-bit target that a hash's top 64 bits (bytes
// 24..31, little-endian) must be below. 8 hex digits: the little-endian top 32 bits of the
// 64-bit target; 16 digits: the little-endian 64-bit target. Throws std::invalid_argument for
// other lengths, non-hex digits or a zero target.
uint64_t monero_target64(std::string_view target_hex);
// The difficulty a target stands for: floor((2^64-1) / target64). 0 for target64 0.
uint64_t monero_difficulty(uint64_t target64);
// Whether a RandomX hash meets target64 (its top 64 bits below it).
bool monero_hash_meets(const Hash256& hash, uint64_t target64);

// The nonces search thread `index` of `threads` tries on one job (inclusive). With nicehash
// the nonce's top byte stays what the job's blob says (`top_byte`) and the threads share the
// low 24 bits; otherwise they share all 32 bits. Every thread gets a disjoint range.
struct NonceRange {
  uint32_t first = 0, last = 0;
};
NonceRange monero_nonce_range(unsigned index, unsigned threads, bool nicehash, uint8_t top_byte);

class Miner {
 public:
  explicit Miner(MinerConfig config);
  ~Miner();
  Miner(const Miner&) = delete;
  Miner& operator=(const Miner&) = delete;

  // Throws std::invalid_argument for a bad configuration (URLs, algorithm, mode, user).
  // Runs until stop(); reports through `report` every interval. Throws std::runtime_error when
  // the miner cannot go on (randomx fast mode without memory for the dataset).
  void run(std::function<void(const MinerStats&)> report = nullptr);
  void stop();
  MinerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otedama::miner
