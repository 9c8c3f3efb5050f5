// The Monero-style Stratum client (randomx, rx/0), as docs/stratum-monero.md specifies and
// XMRig speaks it: login (its answer carries the session id, the first job and the
// extensions), pushed `job` notifications, submit, getjob, keepalived.
//
// Work: the network thread parses each job and publishes it with a new generation number;
// RandomX keys (seed hashes) are built by EpochKeeper on its own thread, so the network
// thread never blocks on a 2 GiB dataset. Each worker owns a RandomXHasher and searches its
// own nonce range of the current job with pipelined hashing, checking the generation after
// every hash; a share is a hash whose top 64 bits are below the job's 64-bit target.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "crypto/randomx.h"
#include "miner/client.h"

namespace otedama::miner {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using crypto::RandomXMode;

// ---- targets and nonce ranges (miner.h) ----------------------------------------------------

uint64_t monero_target64(std::string_view hex) {
  if (hex.size() != 8 && hex.size() != 16)
    throw std::invalid_argument("target '" + std::string(hex.substr(0, 40)) + "' is not 8 or 16 hex digits");
  Bytes raw = from_hex(hex);  // throws on non-hex digits
  uint64_t v = 0;
  for (size_t i = raw.size(); i-- > 0;) v = (v << 8) | raw[i];  // little-endian
  if (raw.size() == 4) v <<= 32;                                 // the top 32 bits
  if (v == 0) throw std::invalid_argument("target is zero");
  return v;
}

uint64_t monero_difficulty(uint64_t target64) { return target64 ? UINT64_MAX / target64 : 0; }

bool monero_hash_meets(const Hash256& hash, uint64_t target64) {
  uint64_t top = 0;
  for (int i = 31; i >= 24; --i) top = (top << 8) | hash[size_t(i)];
  return top < target64;
}

NonceRange monero_nonce_range(unsigned index, unsigned threads, bool nicehash, uint8_t top_byte) {
  if (threads == 0 || index >= threads) throw std::invalid_argument("monero_nonce_range: bad thread index");
  const uint64_t span = nicehash ? (1ull << 24) : (1ull << 32);
  const uint64_t base = nicehash ? uint64_t(top_byte) << 24 : 0;
  // Thread i gets [span*i/n, span*(i+1)/n): disjoint, covering the whole space.
  uint64_t first = span * index / threads, end = span * (index + 1) / threads;
  if (end == first) end = first + 1;  // more threads than nonces: never with real thread counts
  return NonceRange{uint32_t(base + first), uint32_t(base + end - 1)};
}

namespace {

constexpr size_t kNonceSize = 4;
constexpr size_t kMaxBlobSize = 512;  // XMRig's limit is 408; Monero's hashing blob is ~76

// The nonce's offset in a Monero hashing blob: after the major and minor version and the
// timestamp (varints) and the 32-byte previous block id. 39 on today's chain.
size_t nonce_offset(const Bytes& blob) {
  size_t pos = 0;
  for (int field = 0; field < 3; ++field) {
    for (int i = 0;; ++i) {
      if (pos >= blob.size() || i == 10) throw std::invalid_argument("blob: bad header varints");
      if (!(blob[pos++] & 0x80)) break;
    }
  }
  return pos + 32;
}

struct Job {
  std::string id;
  Bytes blob;
  size_t nonce_offset = 39;
  uint64_t target64 = 0;
  uint64_t difficulty = 0;
  Bytes seed, next_seed;
  uint64_t height = 0;
  bool nicehash = false;
  uint64_t generation = 0;
};

std::string field_string(const json& j, const char* name, bool required = true) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) throw std::invalid_argument(std::string("job has no ") + name);
    return {};
  }
  if (!it->is_string()) throw std::invalid_argument(std::string("job ") + name + " is not a string");
  return it->get<std::string>();
}

Bytes seed_from_hex(const std::string& hex, const char* name) {
  if (hex.size() != 64) throw std::invalid_argument(std::string("job ") + name + " is not 64 hex digits");
  try {
    return from_hex(hex);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("job ") + name + " is not hex");
  }
}

// A JOB object (login answer, getjob answer, job notification). Throws std::invalid_argument
// naming what is wrong.
Job parse_job(const json& j, bool nicehash) {
  if (!j.is_object()) throw std::invalid_argument("job is not an object");
  Job job;
  job.nicehash = nicehash;
  job.id = field_string(j, "job_id");
  if (job.id.empty() || job.id.size() > 256) throw std::invalid_argument("job_id is empty or too long");
  std::string blob = field_string(j, "blob");
  if (blob.size() > 2 * kMaxBlobSize) throw std::invalid_argument("job blob is longer than " + std::to_string(kMaxBlobSize) + " bytes");
  try {
    job.blob = from_hex(blob);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("job blob is not hex: ") + e.what());
  }
  job.nonce_offset = nonce_offset(job.blob);
  if (job.blob.size() < job.nonce_offset + kNonceSize)
    throw std::invalid_argument("job blob is " + std::to_string(job.blob.size()) + " bytes, too short for the nonce at offset " +
                                std::to_string(job.nonce_offset));
  try {
    job.target64 = monero_target64(field_string(j, "target"));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("job target: ") + e.what());
  }
  job.difficulty = monero_difficulty(job.target64);
  std::string algo = field_string(j, "algo", false);
  if (!algo.empty() && algo != "rx/0")
    throw std::invalid_argument("job algorithm '" + algo.substr(0, 40) + "' is not rx/0");
  job.seed = seed_from_hex(field_string(j, "seed_hash"), "seed_hash");
  std::string next = field_string(j, "next_seed_hash", false);
  if (!next.empty()) job.next_seed = seed_from_hex(next, "next_seed_hash");
  if (auto h = j.find("height"); h != j.end() && !h->is_null()) {
    if (!h->is_number_unsigned()) throw std::invalid_argument("job height is not a non-negative integer");
    job.height = h->get<uint64_t>();
  }
  return job;
}

void put_nonce(Bytes& blob, size_t offset, uint32_t nonce) {
  for (size_t i = 0; i < kNonceSize; ++i) blob[offset + i] = uint8_t(nonce >> (8 * i));
}

struct BuildAborted : std::runtime_error {
  BuildAborted() : std::runtime_error("stopping") {}
};

// Builds the RandomX epochs the jobs need, one at a time on its own thread: the current
// seed first, then (when the pool announces it) the next one, so that the switch at the
// next epoch finds it ready. In auto mode, a fast-mode build that cannot get memory for the
// dataset switches the miner to light mode.
class EpochKeeper {
 public:
  EpochKeeper(MinerCore& core, RandomXMode mode, bool fallback)
      : core_(core), contexts_(options(core), 2), mode_(mode), fallback_(fallback) {
    thread_ = std::thread([this] { build_loop(); });
  }
  ~EpochKeeper() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  crypto::RandomXContexts& contexts() { return contexts_; }

  // The seeds the current job needs and the pool expects next (empty: none announced).
  void want(const Bytes& seed, const Bytes& next) {
    {
      std::lock_guard lock(mutex_);
      if (wanted_ == seed && next_ == next) return;
      wanted_ = seed;
      next_ = next;
    }
    cv_.notify_all();
  }

  // The epoch for `seed` once built, else nullptr.
  std::shared_ptr<const crypto::RandomXEpoch> ready(const Bytes& seed) const {
    std::lock_guard lock(mutex_);
    if (current_ && current_->key() == seed) return current_;
    return nullptr;
  }

 private:
  static crypto::RandomXOptions options(MinerCore& core) {
    crypto::RandomXOptions o;
    o.large_pages = core.cfg.large_pages;
    o.init_threads = core.cfg.init_threads;
    o.log = [](std::string_view line) { spdlog::info("miner: {}", line); };
    // Progress in tenths; stop() aborts a build in progress (crypto/ stops on a throw here).
    o.progress = [&core, last = std::make_shared<std::atomic<int>>(-1)](uint64_t done, uint64_t total) {
      if (core.stopping) throw BuildAborted();
      int tenth = total ? int(done * 10 / total) : 10;
      if (tenth > last->exchange(tenth) && tenth < 10)
        spdlog::info("miner: RandomX dataset initialization {}%", tenth * 10);
      if (tenth == 10) last->store(-1);  // the next dataset reports from 0 again
    };
    return o;
  }

  // Builds `seed` in the current mode; false (with the miner stopped or failed) when it
  // cannot be had.
  std::shared_ptr<const crypto::RandomXEpoch> build(const Bytes& seed, bool needed) {
    for (;;) {
      RandomXMode mode = mode_;
      try {
        if (mode == RandomXMode::fast)
          spdlog::info("miner: building the RandomX dataset for seed {} (2 GiB; takes a while)", to_hex(seed));
        return contexts_.get(seed, mode);
      } catch (const BuildAborted&) {
        return nullptr;
      } catch (const std::exception& e) {
        if (core_.stopping) return nullptr;
        if (mode == RandomXMode::fast && fallback_) {
          spdlog::warn("miner: {}; falling back to RandomX light mode (256 MiB cache, much slower)", e.what());
          core_.set_error(std::string(e.what()) + "; using light mode");
          mode_ = RandomXMode::light;
          continue;
        }
        if (needed) core_.fail(std::string("cannot build the RandomX epoch: ") + e.what());
        else spdlog::warn("miner: cannot prepare the next RandomX epoch: {}", e.what());
        return nullptr;
      }
    }
  }

  void build_loop() {
    for (;;) {
      Bytes seed, next;
      bool prepare_next = false;
      {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(200), [&] {
          return quit_ || (!wanted_.empty() && (!current_ || current_->key() != wanted_)) ||
                 (!next_.empty() && next_ != wanted_ && next_ != prepared_);
        });
        if (quit_ || core_.stopping) return;
        seed = wanted_;
        next = next_;
        prepare_next = current_ && current_->key() == wanted_ && !next.empty() && next != wanted_ && next != prepared_;
        if (seed.empty() || (current_ && current_->key() == seed && !prepare_next)) continue;
      }
      if (prepare_next) {
        // Ahead of the epoch switch, while the workers keep hashing the current one.
        spdlog::info("miner: preparing the next RandomX epoch (seed {})", to_hex(next));
        build(next, false);
        std::lock_guard lock(mutex_);
        prepared_ = next;
        continue;
      }
      auto epoch = build(seed, true);
      if (!epoch) {
        if (core_.stopping) return;
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        current_ = epoch;
      }
      if (!epoch->notes().empty()) core_.set_error(epoch->notes());
      spdlog::info("miner: RandomX {} mode ready for seed {} in {:.1f} s{}",
                   epoch->mode() == RandomXMode::fast ? "fast" : "light", to_hex(seed), epoch->build_seconds(),
                   epoch->large_pages() ? ", large pages" : ", regular pages");
    }
  }

  MinerCore& core_;
  crypto::RandomXContexts contexts_;
  std::atomic<RandomXMode> mode_;
  bool fallback_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Bytes wanted_, next_, prepared_;
  std::shared_ptr<const crypto::RandomXEpoch> current_;
  bool quit_ = false;
  std::thread thread_;
};

enum class Request { login, getjob, keepalived, submit };

class MoneroStratum final : public Protocol {
 public:
  explicit MoneroStratum(MinerCore& core) : core_(core), cfg_(core.cfg) {
    const std::string& m = cfg_.randomx_mode;
    if (m != "auto" && m != "fast" && m != "light")
      throw std::invalid_argument("--randomx-mode must be auto, fast or light, not '" + m + "'");
    crypto::randomx_cpu();  // librandomx is linked and usable
    keeper_ = std::make_unique<EpochKeeper>(core, m == "light" ? RandomXMode::light : RandomXMode::fast, m == "auto");
  }

  void on_connected() override {
    {
      std::lock_guard lock(mutex_);
      session_id_.clear();
      nicehash_ = keepalive_ = false;
      pending_.clear();
    }
    json params = {{"login", cfg_.user},
                   {"pass", cfg_.password},
                   {"agent", "otedama/" + std::string(version())},
                   {"algo", json::array({"rx/0"})}};
    send_request(Request::login, "login", std::move(params));
  }

  // A login of its own on the probe link: the pool gives work when the answer carries a job.
  bool probe(PoolLink& link, std::chrono::milliseconds timeout, const std::atomic<bool>& abort) override {
    json params = {{"login", cfg_.user},
                   {"pass", cfg_.password},
                   {"agent", "otedama/" + std::string(version())},
                   {"algo", json::array({"rx/0"})}};
    if (!link.send_line(json{{"id", 1}, {"jsonrpc", "2.0"}, {"method", "login"}, {"params", params}}.dump())) return false;
    bool done = false, ok = false;
    auto deadline = clock_type::now() + timeout;
    std::string error;
    auto on_line = [&](const std::string& line) {
      json m = json::parse(line, nullptr, false);
      if (!m.is_object()) return !(done = true);
      if (!m.contains("id") || m["id"] != 1) return true;  // notifications
      done = true;
      const json& result = m.contains("result") ? m["result"] : json();
      ok = (!m.contains("error") || m["error"].is_null()) && result.is_object() && result.contains("job") &&
           result["job"].is_object();
      return false;
    };
    while (!abort && !done && clock_type::now() < deadline)
      if (!link.read_lines(std::chrono::milliseconds(200), cfg_.max_line, on_line, error)) break;
    return ok;
  }

  bool on_line(const std::string& line) override {
    json msg;
    try {
      msg = json::parse(line);
    } catch (const std::exception& e) {
      return drop("pool sent malformed JSON: " + std::string(e.what()));
    }
    if (!msg.is_object()) return drop("pool sent a JSON value that is not an object: " + line.substr(0, 80));
    auto method = msg.find("method");
    if (method != msg.end()) {
      if (!method->is_string()) return drop("pool sent a message whose method is not a string");
      if (*method == "job") {
        auto params = msg.find("params");
        if (params == msg.end()) return drop("job notification without params");
        return take_job(*params, "job notification");
      }
      spdlog::debug("miner: ignoring pool method {}", method->get<std::string>());
      return true;
    }
    return on_reply(msg);
  }

  bool on_tick() override {
    std::string session;
    bool keepalive;
    {
      std::lock_guard lock(mutex_);
      session = session_id_;
      keepalive = keepalive_;
    }
    if (session.empty()) return true;
    if (want_job_.exchange(false)) send_request(Request::getjob, "getjob", {{"id", session}});
    if (keepalive && clock_type::now() - last_send() >= cfg_.keepalive_interval)
      send_request(Request::keepalived, "keepalived", {{"id", session}});
    return true;
  }

  void on_disconnected() override {
    std::lock_guard lock(work_mutex_);
    work_.reset();
    generation_.fetch_add(1);
  }

  void worker(unsigned index) override {
    std::unique_ptr<crypto::RandomXHasher> hasher;
    Bytes blob;
    uint64_t exhausted_generation = 0;
    while (!core_.stopping) {
      std::shared_ptr<const Job> w;
      {
        std::lock_guard lock(work_mutex_);
        w = work_;
      }
      if (!w || w->generation == exhausted_generation) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      auto epoch = keeper_->ready(w->seed);
      if (!epoch) {  // the key is being built
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      if (!hasher || hasher->mode() != epoch->mode())
        hasher = std::make_unique<crypto::RandomXHasher>(epoch->mode(), keeper_->contexts());
      NonceRange range = monero_nonce_range(index, cfg_.threads, w->nicehash, w->blob[w->nonce_offset + 3]);
      if (search(*hasher, *w, range, blob)) {
        // This thread's whole range is done and no new job came: ask for one.
        exhausted_generation = w->generation;
        want_job_ = true;
        core_.set_error("nonce range exhausted on job " + w->id + "; asked the pool for a new job");
      }
    }
  }

 private:
  // Hashes range on job w until a new job comes or stop(); true when the range ran out.
  bool search(crypto::RandomXHasher& hasher, const Job& w, NonceRange range, Bytes& blob) {
    auto current = [&] { return generation_.load(std::memory_order_relaxed) == w.generation && !core_.stopping; };
    blob = w.blob;
    uint32_t nonce = range.first;
    put_nonce(blob, w.nonce_offset, nonce);
    hasher.begin(w.seed, blob);
    // While the VM runs `nonce`, the next input is already in: next() returns nonce's hash.
    while (nonce < range.last && current()) {
      put_nonce(blob, w.nonce_offset, nonce + 1);
      Hash256 h = hasher.next(blob);
      core_.hashes.fetch_add(1, std::memory_order_relaxed);
      if (monero_hash_meets(h, w.target64) && current()) submit(w, nonce, h);
      ++nonce;
    }
    bool live = current();
    Hash256 h = hasher.finish();
    if (!live) return false;  // the last hash belongs to a replaced job: dropped
    core_.hashes.fetch_add(1, std::memory_order_relaxed);
    if (monero_hash_meets(h, w.target64)) submit(w, nonce, h);
    return true;
  }

  void submit(const Job& w, uint32_t nonce, const Hash256& hash) {
    std::string session;
    {
      std::lock_guard lock(mutex_);
      session = session_id_;
    }
    uint8_t le[4] = {uint8_t(nonce), uint8_t(nonce >> 8), uint8_t(nonce >> 16), uint8_t(nonce >> 24)};
    send_request(Request::submit, "submit",
                 {{"id", session}, {"job_id", w.id}, {"nonce", to_hex(ByteSpan(le, 4))}, {"result", to_hex(hash)}});
  }

  void send_request(Request kind, const char* method, json params) {
    uint64_t id;
    {
      std::lock_guard lock(mutex_);
      id = next_id_++;
      pending_[id] = kind;
      last_send_ = clock_type::now();
    }
    if (!core_.send({{"id", id}, {"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}})) {
      std::lock_guard lock(mutex_);
      pending_.erase(id);
    }
  }

  clock_type::time_point last_send() {
    std::lock_guard lock(mutex_);
    return last_send_;
  }

  bool drop(const std::string& why) {
    core_.set_error(why);
    spdlog::warn("miner: {}: {}; reconnecting", core_.pool(), why);
    return false;
  }

  static std::string error_text(const json& error) {
    if (error.is_object() && error.contains("message") && error["message"].is_string())
      return error["message"].get<std::string>();
    return error.dump().substr(0, 200);
  }

  bool take_job(const json& j, const char* where) {
    bool nicehash;
    {
      std::lock_guard lock(mutex_);
      nicehash = nicehash_;
    }
    Job job;
    try {
      job = parse_job(j, nicehash);
    } catch (const std::exception& e) {
      return drop(std::string("bad ") + where + ": " + e.what());
    }
    core_.jobs.fetch_add(1);
    core_.difficulty = double(job.difficulty);
    keeper_->want(job.seed, job.next_seed);
    spdlog::debug("miner: job {} height {} difficulty {}", job.id, job.height, job.difficulty);
    auto w = std::make_shared<Job>(std::move(job));
    std::lock_guard lock(work_mutex_);
    w->generation = generation_.load() + 1;
    work_ = std::move(w);
    generation_.store(work_->generation);
    return true;
  }

  bool on_reply(const json& msg) {
    auto id_it = msg.find("id");
    if (id_it == msg.end() || !id_it->is_number_unsigned()) {
      spdlog::debug("miner: ignoring a reply without a known id: {}", msg.dump().substr(0, 200));
      return true;
    }
    uint64_t id = id_it->get<uint64_t>();
    Request kind;
    {
      std::lock_guard lock(mutex_);
      auto p = pending_.find(id);
      if (p == pending_.end()) {
        spdlog::debug("miner: ignoring a reply to unknown request {}", id);
        return true;
      }
      kind = p->second;
      pending_.erase(p);
    }
    const json error = msg.contains("error") ? msg["error"] : json();
    const json result = msg.contains("result") ? msg["result"] : json();
    switch (kind) {
      case Request::login: {
        if (!error.is_null()) return drop("login refused: " + error_text(error));
        if (!result.is_object() || !result.contains("id") || !result["id"].is_string() || result["id"].get<std::string>().empty())
          return drop("login answer has no session id");
        bool nicehash = false, keepalive = false;
        if (auto ext = result.find("extensions"); ext != result.end() && ext->is_array())
          for (const auto& e : *ext) {
            if (e == "nicehash") nicehash = true;
            if (e == "keepalive") keepalive = true;
          }
        {
          std::lock_guard lock(mutex_);
          session_id_ = result["id"].get<std::string>();
          nicehash_ = nicehash;
          keepalive_ = keepalive;
        }
        spdlog::info("miner: logged in to {} as {}{}", core_.pool(), cfg_.user, nicehash ? " (nicehash)" : "");
        if (auto job = result.find("job"); job != result.end() && !job->is_null()) return take_job(*job, "login job");
        return true;
      }
      case Request::getjob:
        if (!error.is_null()) {
          core_.set_error("getjob refused: " + error_text(error));
          return true;
        }
        if (result.is_null()) return true;  // no new work yet
        return take_job(result, "getjob answer");
      case Request::keepalived:
        if (!error.is_null()) spdlog::debug("miner: keepalived answered with an error: {}", error_text(error));
        return true;
      case Request::submit: {
        if (error.is_null() && !result.is_null()) {
          core_.accepted.fetch_add(1);
          return true;
        }
        core_.rejected.fetch_add(1);
        std::string why = error.is_null() ? "no result" : error_text(error);
        core_.set_error("share rejected: " + why);
        spdlog::warn("miner: share rejected: {}", why);
        // The pool no longer knows this session: log in again.
        if (why == "Unauthenticated" || why == "Unauthenticated.") return drop("the pool lost the session (Unauthenticated)");
        return true;
      }
    }
    return true;
  }

  MinerCore& core_;
  const MinerConfig& cfg_;
  std::unique_ptr<EpochKeeper> keeper_;

  std::mutex mutex_;  // session state and pending requests
  std::string session_id_;
  bool nicehash_ = false, keepalive_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Request> pending_;
  clock_type::time_point last_send_ = clock_type::now();
  std::atomic<bool> want_job_{false};

  std::mutex work_mutex_;
  std::shared_ptr<const Job> work_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace

std::unique_ptr<Protocol> make_monero_stratum(MinerCore& core) { return std::make_unique<MoneroStratum>(core); }

}  // namespace otedama::miner
