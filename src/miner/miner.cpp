// The miner's frame, common to both protocols: one network thread owns the session with the
// pool in use (fail-over to the next URL, back-off, return to the preferred pool when it
// answers again), worker threads search on the protocol's current work, and run() reports
// the counters every interval. Each protocol (stratum_v1.cpp, monero_stratum.cpp) supplies
// the messages and the search.
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <thread>

#include "miner/client.h"

namespace otedama::miner {

using clock_type = std::chrono::steady_clock;

MinerCore::MinerCore(MinerConfig c) : cfg(std::move(c)) {
  if (cfg.urls.empty()) throw std::invalid_argument("at least one pool URL is needed");
  for (const auto& u : cfg.urls) {
    urls.push_back(parse_pool_url(u));
    if (urls.back().tls && !tls_context_) tls_context_ = make_client_tls_context();
  }
  if (cfg.user.empty()) throw std::invalid_argument("--user ADDRESS.WORKER is required");
  if (cfg.threads == 0) cfg.threads = std::max(1u, std::thread::hardware_concurrency());
  if (cfg.threads > 1024) throw std::invalid_argument("--threads must be at most 1024");
  if (cfg.max_line < 1024) throw std::invalid_argument("max_line must be at least 1024 bytes");
}

void MinerCore::set_error(const std::string& e) {
  std::lock_guard lock(stats_mutex_);
  last_error_ = e;
}

void MinerCore::fail(const std::string& e) {
  {
    std::lock_guard lock(stats_mutex_);
    last_error_ = e;
    if (fatal_.empty()) fatal_ = e;
  }
  spdlog::error("miner: {}", e);
  stopping = true;
}

bool MinerCore::send(const nlohmann::json& msg) {
  std::shared_ptr<PoolLink> link;
  {
    std::lock_guard lock(link_mutex_);
    link = link_;
  }
  return link && link->send_line(msg.dump());
}

std::string MinerCore::pool() const {
  std::lock_guard lock(stats_mutex_);
  return pool_name_;
}

void MinerCore::session(Protocol& protocol, size_t index) {
  const PoolUrl& url = urls[index];
  std::string error;
  std::shared_ptr<PoolLink> link = PoolLink::open(url, tls_context_.get(), stopping, error);
  if (!link) {
    set_error(error);
    spdlog::warn("miner: {}", error);
    return;
  }
  const std::string name = url.host + ":" + std::to_string(url.port);
  {
    std::lock_guard lock(link_mutex_);
    link_ = link;
  }
  {
    std::lock_guard lock(stats_mutex_);
    pool_name_ = name;
  }
  if (url.tls)
    spdlog::info("miner: connected to {} over {}; the pool's certificate is not verified (self-signed "
                 "pool certificates are accepted)", name, link->tls_version());
  else
    spdlog::info("miner: connected to {}", name);
  protocol.on_connected();

  auto next_probe = clock_type::now() + std::chrono::seconds(15);
  auto on_line = [&](const std::string& line) { return protocol.on_line(line); };
  while (!stopping) {
    error.clear();
    if (!link->read_lines(std::chrono::milliseconds(200), cfg.max_line, on_line, error)) {
      if (!error.empty()) set_error(error);
      if (!error.empty()) spdlog::warn("miner: {}: {}", name, error);
      break;
    }
    if (!protocol.on_tick()) break;
    // On a backup pool, go back to the preferred one as soon as it answers.
    if (index > 0 && clock_type::now() >= next_probe) {
      next_probe = clock_type::now() + std::chrono::seconds(15);
      if (pool_answers(urls[0], std::chrono::seconds(2))) {
        spdlog::info("miner: preferred pool {}:{} is back", urls[0].host, urls[0].port);
        break;
      }
    }
  }
  protocol.on_disconnected();
  {
    std::lock_guard lock(link_mutex_);
    link_.reset();
  }
  link.reset();  // closes, unless a worker is sending right now (then it closes after that)
  {
    std::lock_guard lock(stats_mutex_);
    pool_name_.clear();
  }
  spdlog::info("miner: disconnected from {}", name);
}

void MinerCore::network_loop(Protocol& protocol) {
  auto backoff = cfg.reconnect_min;
  size_t index = 0;
  while (!stopping) {
    auto started = clock_type::now();
    session(protocol, index);
    if (stopping) break;
    reconnects.fetch_add(1);
    bool was_long = clock_type::now() - started > std::chrono::seconds(10);
    // After a long session go straight back to the preferred pool; else try the next one.
    index = was_long ? 0 : (index + 1) % urls.size();
    if (was_long) backoff = cfg.reconnect_min;
    if (index == 0 && !was_long) {
      auto until = clock_type::now() + backoff;
      while (!stopping && clock_type::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      backoff = std::min(backoff * 2, cfg.reconnect_max);
    }
  }
}

MinerStats MinerCore::snapshot(double rate) const {
  MinerStats s;
  s.hashes = hashes.load();
  s.accepted = accepted.load();
  s.rejected = rejected.load();
  s.jobs = jobs.load();
  s.reconnects = reconnects.load();
  s.hashrate = rate;
  s.difficulty = difficulty;
  std::lock_guard lock(stats_mutex_);
  s.pool = pool_name_;
  s.last_error = last_error_;
  return s;
}

MinerStats MinerCore::stats() const {
  double rate;
  {
    std::lock_guard lock(stats_mutex_);
    rate = last_.hashrate;
  }
  return snapshot(rate);  // the counters and errors as of now, the rate of the last interval
}

void MinerCore::run(Protocol& protocol, const std::function<void(const MinerStats&)>& report) {
  std::thread net([&] { network_loop(protocol); });
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < cfg.threads; ++i)
    workers.emplace_back([&, i] {
      try {
        protocol.worker(i);
      } catch (const std::exception& e) {
        fail(std::string("search thread failed: ") + e.what());
      }
    });
  uint64_t last_hashes = 0;
  auto last_time = clock_type::now();
  auto next_report = last_time + cfg.report_interval;
  while (!stopping) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = clock_type::now();
    if (now < next_report) continue;
    uint64_t h = hashes.load();
    double rate = double(h - last_hashes) / std::chrono::duration<double>(now - last_time).count();
    last_hashes = h;
    last_time = now;
    next_report = now + cfg.report_interval;
    MinerStats s = snapshot(rate);
    {
      std::lock_guard lock(stats_mutex_);
      last_ = s;
    }
    if (report) report(s);
  }
  net.join();
  for (auto& t : workers) t.join();
  MinerStats s = snapshot(0);
  std::string fatal;
  {
    std::lock_guard lock(stats_mutex_);
    last_ = s;
    fatal = fatal_;
  }
  if (!fatal.empty()) throw std::runtime_error(fatal);
}

// ---- Miner ---------------------------------------------------------------------------------

struct Miner::Impl {
  MinerCore core;
  std::unique_ptr<Protocol> protocol;
  explicit Impl(MinerConfig c) : core(std::move(c)) {
    if (core.cfg.algo == "randomx")
      protocol = make_monero_stratum(core);
    else if (core.cfg.algo == "sha256d" || core.cfg.algo == "scrypt")
      protocol = make_stratum_v1(core);
    else
      throw std::invalid_argument("the miner mines sha256d, scrypt (Stratum v1) or randomx (Monero Stratum), not '" +
                                  core.cfg.algo + "'");
  }
};

Miner::Miner(MinerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Miner::~Miner() { stop(); }

void Miner::stop() { impl_->core.stopping = true; }

MinerStats Miner::stats() const { return impl_->core.stats(); }

void Miner::run(std::function<void(const MinerStats&)> report) { impl_->core.run(*impl_->protocol, report); }

}  // namespace otedama::miner
