#include "stats/stats.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace otedama::stats {

namespace {

constexpr size_t kMaxBlocks = 1000;
constexpr int64_t kActiveSeconds = 15 * 60;
constexpr int64_t kForgetSeconds = 24 * 3600;

int64_t seconds_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Difficulty summed in fixed time buckets: bucket e covers [e*g, (e+1)*g) seconds.
struct Ring {
  int64_t granularity;
  std::vector<double> sum;
  std::vector<int64_t> epoch;

  Ring(int64_t g, size_t n) : granularity(g), sum(n, 0), epoch(n, INT64_MIN) {}

  static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

  void add(int64_t sec, double v) {
    int64_t e = floor_div(sec, granularity);
    size_t slot = size_t(((e % int64_t(sum.size())) + int64_t(sum.size())) % int64_t(sum.size()));
    if (epoch[slot] != e) {
      if (epoch[slot] > e) return;  // older than what the ring still holds
      epoch[slot] = e;
      sum[slot] = 0;
    }
    sum[slot] += v;
  }

  // The current bucket and the window/granularity - 1 before it.
  double total(int64_t now, int64_t window) const {
    int64_t current = floor_div(now, granularity);
    int64_t first = current - window / granularity + 1;
    double t = 0;
    for (size_t i = 0; i < sum.size(); ++i)
      if (epoch[i] >= first && epoch[i] <= current) t += sum[i];
    return t;
  }
};

struct Rings {
  Ring seconds{1, 60}, minutes{60, 60}, quarters{900, 96};
  void add(int64_t sec, double v) {
    seconds.add(sec, v);
    minutes.add(sec, v);
    quarters.add(sec, v);
  }
  // Difficulty sums over 1m, 15m, 1h, 24h.
  Hashrates sums(int64_t now) const {
    return {seconds.total(now, 60), minutes.total(now, 900), minutes.total(now, 3600), quarters.total(now, 86400)};
  }
  void merge_into(Hashrates& h, int64_t now) const {
    Hashrates s = sums(now);
    h.m1 += s.m1, h.m15 += s.m15, h.h1 += s.h1, h.h24 += s.h24;
  }
};

Hashrates to_rate(Hashrates sums, double factor, double age_seconds) {
  auto rate = [&](double sum, double window) { return sum * factor / std::max(1.0, std::min(window, age_seconds)); };
  return {rate(sums.m1, 60), rate(sums.m15, 900), rate(sums.h1, 3600), rate(sums.h24, 86400)};
}

struct Worker {
  std::string miner, worker;
  Rings rings;
  ShareCounts shares;
  double last_difficulty = 0;
  Clock::time_point last_share{}, first_share{};
};

}  // namespace

struct Collector::PoolData {
  mutable std::mutex mutex;
  std::string name, coin, algorithm;
  double factor = 1;
  Rings rings;
  ShareCounts shares;
  uint64_t blocks_found = 0, height = 0;
  double network_difficulty = 0, round_work = 0;
  Clock::time_point last_block{}, started{};
  std::map<std::pair<std::string, std::string>, Worker> workers;  // (miner, worker)
};

const char* to_string(ShareResult r) {
  switch (r) {
    case ShareResult::valid: return "valid";
    case ShareResult::stale: return "stale";
    case ShareResult::duplicate: return "duplicate";
    case ShareResult::invalid: return "invalid";
    case ShareResult::low_difficulty: return "low_difficulty";
  }
  return "invalid";
}

const char* to_string(Event::Kind k) {
  switch (k) {
    case Event::Kind::share: return "share";
    case Event::Kind::block: return "block";
    case Event::Kind::payment: return "payment";
    case Event::Kind::miner_state: return "miner_state";
  }
  return "share";
}

void ShareCounts::add(ShareResult r) {
  switch (r) {
    case ShareResult::valid: ++valid; break;
    case ShareResult::stale: ++stale; break;
    case ShareResult::duplicate: ++duplicate; break;
    case ShareResult::invalid: ++invalid; break;
    case ShareResult::low_difficulty: ++low_difficulty; break;
  }
}

void ShareCounts::add(const ShareCounts& o) {
  valid += o.valid, stale += o.stale, duplicate += o.duplicate, invalid += o.invalid, low_difficulty += o.low_difficulty;
}

double hashes_per_difficulty1(const U256& diff1_target) {
  if (diff1_target.is_zero()) throw std::invalid_argument("difficulty-1 target is zero");
  return std::ldexp(1.0, 256) / diff1_target.to_double();
}

std::optional<double> hashes_per_difficulty1(std::string_view algorithm) {
  U256 sha_diff1 = U256::from_compact(0x1d00ffff);
  if (algorithm == "sha256d") return hashes_per_difficulty1(sha_diff1);
  if (algorithm == "scrypt") return hashes_per_difficulty1(sha_diff1 << 16);
  if (algorithm == "randomx" || algorithm == "rx/0") return 1.0;
  return std::nullopt;
}

std::pair<std::string, std::string> split_login(std::string_view login) {
  auto plus = login.find('+');
  if (plus != std::string_view::npos) login = login.substr(0, plus);
  auto dot = login.find('.');
  std::string address(login.substr(0, dot));
  std::string worker = dot == std::string_view::npos ? "" : std::string(login.substr(dot + 1));
  if (worker.empty()) worker = "default";
  return {address, worker};
}

Collector::Collector(Clock::time_point started)
    : started_(started),
      subs_(std::make_shared<const std::vector<std::pair<uint64_t, std::function<void(const Event&)>>>>()) {}
Collector::~Collector() = default;

void Collector::register_pool(const std::string& name, const std::string& coin, const std::string& algorithm,
                              double factor) {
  if (!(factor > 0)) throw std::invalid_argument("stats: pool " + name + ": hashes per difficulty 1 must be > 0");
  std::lock_guard lock(pools_mutex_);
  auto& p = pools_[name];
  if (!p) {
    p = std::make_unique<PoolData>();
    p->started = started_;
  }
  std::lock_guard plock(p->mutex);
  p->name = name, p->coin = coin, p->algorithm = algorithm, p->factor = factor;
}

Collector::PoolData* Collector::find(const std::string& name) const {
  std::lock_guard lock(pools_mutex_);
  auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : it->second.get();  // pools are never removed
}

void Collector::set_network(const std::string& pool, uint64_t height, double network_difficulty) {
  if (PoolData* p = find(pool)) {
    std::lock_guard lock(p->mutex);
    p->height = height;
    p->network_difficulty = network_difficulty;
  }
}

bool Collector::record_share(const Share& s) {
  PoolData* p = find(s.pool);
  if (!p) return false;
  {
    std::lock_guard lock(p->mutex);
    int64_t sec = seconds_of(s.time);
    p->shares.add(s.result);
    auto& w = p->workers[{s.miner, s.worker}];
    if (w.shares.total() == 0) w.miner = s.miner, w.worker = s.worker, w.first_share = s.time;
    w.shares.add(s.result);
    w.last_difficulty = s.difficulty;
    w.last_share = std::max(w.last_share, s.time);
    if (s.result == ShareResult::valid && s.difficulty > 0) {
      p->rings.add(sec, s.difficulty);
      w.rings.add(sec, s.difficulty);
      p->round_work += s.difficulty;
    }
  }
  publish({Event::Kind::share, s});
  return true;
}

void Collector::record_block(Block b) {
  {
    std::lock_guard lock(blocks_mutex_);
    for (auto& known : blocks_) {
      if (!b.hash.empty() && known.hash == b.hash) {
        known.status = b.status;
        if (b.reward > 0) known.reward = b.reward;
        b = known;
        goto publish;
      }
    }
    if (PoolData* p = find(b.pool)) {
      std::lock_guard plock(p->mutex);
      ++p->blocks_found;
      p->last_block = b.time;
      if (b.network_difficulty <= 0) b.network_difficulty = p->network_difficulty;
      if (b.coin.empty()) b.coin = p->coin;
      b.effort = b.network_difficulty > 0 ? p->round_work / b.network_difficulty : 0;
      p->round_work = 0;
    }
    blocks_.push_back(b);
    if (blocks_.size() > kMaxBlocks) blocks_.erase(blocks_.begin());
  }
publish:
  publish({Event::Kind::block, std::move(b)});
}

void Collector::record_payment(const Payment& payment) { publish({Event::Kind::payment, payment}); }

void Collector::set_miner_state(const MinerState& state) {
  bool changed;
  {
    std::lock_guard lock(miner_mutex_);
    changed = !miner_state_known_ || state.running != miner_state_.running || state.algorithm != miner_state_.algorithm ||
              state.pool_url != miner_state_.pool_url || state.threads != miner_state_.threads;
    miner_state_ = state;
    miner_state_known_ = true;
  }
  if (changed) publish({Event::Kind::miner_state, state});  // hashrate updates ride on the hashrate topic
}

MinerState Collector::miner_state() const {
  std::lock_guard lock(miner_mutex_);
  return miner_state_;
}

namespace {

double age_of(Clock::time_point started, int64_t now) { return double(now - seconds_of(started)) + 1; }

WorkerStats worker_stats(const std::string& pool, const Worker& w, double factor, double age, int64_t now) {
  WorkerStats ws;
  ws.pool = pool, ws.miner = w.miner, ws.worker = w.worker;
  ws.hashrate = to_rate(w.rings.sums(now), factor, age);
  ws.shares = w.shares;
  ws.last_difficulty = w.last_difficulty;
  ws.last_share = w.last_share;
  ws.first_share = w.first_share;
  return ws;
}

}  // namespace

std::vector<PoolStats> Collector::pools(Clock::time_point now) const {
  std::vector<PoolData*> all;
  {
    std::lock_guard lock(pools_mutex_);
    for (const auto& [_, p] : pools_) all.push_back(p.get());
  }
  std::vector<PoolStats> out;
  int64_t n = seconds_of(now);
  for (PoolData* p : all) {
    std::lock_guard lock(p->mutex);
    PoolStats s;
    s.name = p->name, s.coin = p->coin, s.algorithm = p->algorithm, s.hashes_per_difficulty1 = p->factor;
    double age = age_of(p->started, n);
    s.hashrate = to_rate(p->rings.sums(n), p->factor, age);
    s.shares = p->shares;
    std::map<std::string, bool> miners;
    for (const auto& [_, w] : p->workers) {
      if (n - seconds_of(w.last_share) < kActiveSeconds) {
        ++s.workers;
        miners[w.miner] = true;
      }
    }
    s.miners = miners.size();
    s.blocks_found = p->blocks_found, s.height = p->height, s.network_difficulty = p->network_difficulty;
    s.round_work = p->round_work;
    s.effort = p->network_difficulty > 0 ? p->round_work / p->network_difficulty : 0;
    s.last_block = p->last_block, s.started = p->started;
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<PoolStats> Collector::pool(const std::string& name, Clock::time_point now) const {
  for (auto& p : pools(now))
    if (p.name == name) return p;
  return std::nullopt;
}

std::vector<WorkerStats> Collector::workers(const std::string& pool, Clock::time_point now) const {
  std::vector<PoolData*> all;
  {
    std::lock_guard lock(pools_mutex_);
    for (const auto& [name, p] : pools_)
      if (pool.empty() || name == pool) all.push_back(p.get());
  }
  int64_t n = seconds_of(now);
  std::vector<WorkerStats> out;
  for (PoolData* p : all) {
    std::lock_guard lock(p->mutex);
    double age = age_of(p->started, n);
    for (const auto& [_, w] : p->workers) out.push_back(worker_stats(p->name, w, p->factor, age, n));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.last_share > b.last_share; });
  return out;
}

std::optional<MinerStats> Collector::miner(const std::string& address, const std::string& pool, Clock::time_point now) const {
  MinerStats m;
  m.address = address;
  bool found = false;
  for (auto& w : workers(pool, now)) {
    if (w.miner != address) continue;
    found = true;
    m.hashrate.m1 += w.hashrate.m1, m.hashrate.m15 += w.hashrate.m15, m.hashrate.h1 += w.hashrate.h1,
        m.hashrate.h24 += w.hashrate.h24;
    m.shares.add(w.shares);
    m.last_share = std::max(m.last_share, w.last_share);
    m.workers.push_back(std::move(w));
  }
  if (!found) return std::nullopt;
  return m;
}

BlockPage Collector::blocks(const std::string& pool, const std::string& coin, size_t offset, size_t limit) const {
  std::lock_guard lock(blocks_mutex_);
  BlockPage page;
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
    if ((!pool.empty() && it->pool != pool) || (!coin.empty() && it->coin != coin)) continue;
    if (page.total >= offset && page.blocks.size() < limit) page.blocks.push_back(*it);
    ++page.total;
  }
  return page;
}

void Collector::prune(Clock::time_point now) {
  std::vector<PoolData*> all;
  {
    std::lock_guard lock(pools_mutex_);
    for (const auto& [_, p] : pools_) all.push_back(p.get());
  }
  int64_t n = seconds_of(now);
  for (PoolData* p : all) {
    std::lock_guard lock(p->mutex);
    std::erase_if(p->workers, [&](const auto& kv) { return n - seconds_of(kv.second.last_share) > kForgetSeconds; });
  }
}

uint64_t Collector::subscribe(std::function<void(const Event&)> callback) {
  std::lock_guard lock(subs_mutex_);
  auto next = std::make_shared<std::vector<std::pair<uint64_t, std::function<void(const Event&)>>>>(*subs_);
  uint64_t id = next_sub_++;
  next->emplace_back(id, std::move(callback));
  subs_ = std::move(next);
  return id;
}

void Collector::unsubscribe(uint64_t id) {
  std::lock_guard lock(subs_mutex_);
  auto next = std::make_shared<std::vector<std::pair<uint64_t, std::function<void(const Event&)>>>>(*subs_);
  std::erase_if(*next, [&](const auto& s) { return s.first == id; });
  subs_ = std::move(next);
}

void Collector::publish(const Event& e) {
  std::shared_ptr<const std::vector<std::pair<uint64_t, std::function<void(const Event&)>>>> subs;
  {
    std::lock_guard lock(subs_mutex_);
    subs = subs_;
  }
  for (const auto& [_, cb] : *subs) cb(e);
}

void register_metrics(Metrics& registry, Collector& c) {
  registry.add_collector([&c](Metrics& m) {
    for (const auto& p : c.pools()) {
      Labels base = {{"coin", p.coin}, {"pool", p.name}};
      const std::pair<const char*, double> windows[] = {
          {"1m", p.hashrate.m1}, {"15m", p.hashrate.m15}, {"1h", p.hashrate.h1}, {"24h", p.hashrate.h24}};
      for (const auto& [w, v] : windows) {
        Labels l = base;
        l.emplace_back("window", w);
        m.gauge("otedama_pool_hashrate_hashes_per_second", "Pool hashrate from valid shares over a window.", l).set(v);
      }
      m.gauge("otedama_pool_miners", "Miners (addresses) with a share in the last 15 minutes.", base).set(double(p.miners));
      m.gauge("otedama_pool_workers", "Workers with a share in the last 15 minutes.", base).set(double(p.workers));
      m.gauge("otedama_pool_effort_ratio", "Valid share work since the last block / network difficulty.", base).set(p.effort);
      m.gauge("otedama_pool_network_difficulty", "The coin's network difficulty in the pool's difficulty unit.", base)
          .set(p.network_difficulty);
    }
    auto ms = c.miner_state();
    m.gauge("otedama_miner_running", "1 while the built-in CPU miner runs.").set(ms.running ? 1 : 0);
    m.gauge("otedama_miner_hashrate_hashes_per_second", "The built-in CPU miner's own hashrate.").set(ms.running ? ms.hashrate : 0);
  });
}

Collector& collector() {
  static Collector c;
  return c;
}

}  // namespace otedama::stats
