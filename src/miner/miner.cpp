// The miner's frame, common to both protocols: one network thread owns the session with the
// pool in use (fail-over to the next URL, back-off, return to the preferred pool when it
// answers again), worker threads search on the protocol's current work, and run() reports
// the counters every interval. Each protocol (stratum_v1.cpp, monero_stratum.cpp) supplies
// the messages and the search.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
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
  if (cfg.response_timeout.count() <= 0 || cfg.failback_interval.count() <= 0 || cfg.reconnect_min.count() <= 0 ||
      cfg.reconnect_max < cfg.reconnect_min)
    throw std::invalid_argument("miner timeouts must be positive (and reconnect_max at least reconnect_min)");
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

PoolUrl MinerCore::current_url() const {
  std::lock_guard lock(stats_mutex_);
  return current_url_;
}

void MinerCore::request_reconnect(ReconnectRequest request) { reconnect_request_ = std::move(request); }

void MinerCore::pause(std::chrono::milliseconds d) const {
  auto until = clock_type::now() + d;
  while (!stopping && clock_type::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

bool MinerCore::probe_preferred(Protocol& protocol, const std::atomic<bool>& abort) {
  std::string error;
  auto link = PoolLink::open(urls[0], tls_context_.get(), abort, error, std::chrono::seconds(2));
  if (!link) return false;
  return protocol.probe(*link, cfg.response_timeout, abort);
}

MinerCore::SessionEnd MinerCore::session(Protocol& protocol, const PoolUrl& url, bool preferred) {
  SessionEnd end;
  std::string error;
  std::shared_ptr<PoolLink> link = PoolLink::open(url, tls_context_.get(), stopping, error);
  if (!link) {
    set_error(error);
    spdlog::warn("miner: {}", error);
    return end;
  }
  const std::string name = url.host + ":" + std::to_string(url.port);
  {
    std::lock_guard lock(link_mutex_);
    link_ = link;
  }
  {
    std::lock_guard lock(stats_mutex_);
    pool_name_ = name;
    current_url_ = url;
  }
  if (url.tls)
    spdlog::info("miner: connected to {} over {}; the pool's certificate is not verified (self-signed "
                 "pool certificates are accepted)", name, link->tls_version());
  else
    spdlog::info("miner: connected to {}", name);
  reconnect_request_.reset();
  protocol.on_connected();

  const auto connected_at = clock_type::now();
  const uint64_t jobs_at_start = jobs.load();
  auto next_probe = connected_at + cfg.failback_interval;
  std::atomic<bool> probe_abort{false};
  std::future<bool> probe;  // fail-back check of the preferred pool, on its own thread
  auto on_line = [&](const std::string& line) { return protocol.on_line(line); };
  while (!stopping) {
    error.clear();
    if (!link->read_lines(std::chrono::milliseconds(200), cfg.max_line, on_line, error)) {
      if (!error.empty()) set_error(error);
      if (!error.empty()) spdlog::warn("miner: {}: {}", name, error);
      break;
    }
    if (!protocol.on_tick()) break;
    auto now = clock_type::now();
    if (!end.got_work && jobs.load() != jobs_at_start) end.got_work = true;
    if (!end.got_work && now - connected_at >= cfg.response_timeout) {
      error = "no job from " + name + " within " + std::to_string(cfg.response_timeout.count()) + " ms";
      set_error(error);
      spdlog::warn("miner: {}", error);
      break;
    }
    if (preferred) continue;
    if (probe.valid()) {
      if (probe.wait_for(std::chrono::seconds(0)) != std::future_status::ready) continue;
      if (probe.get()) {
        spdlog::info("miner: preferred pool {}:{} gives work again", urls[0].host, urls[0].port);
        end.failback = true;
        break;
      }
      next_probe = now + cfg.failback_interval;
    } else if (now >= next_probe) {
      probe = std::async(std::launch::async, [&] { return probe_preferred(protocol, probe_abort); });
    }
  }
  probe_abort = true;
  if (probe.valid()) probe.wait();  // at most one poll round or the 2 s connect timeout
  end.reconnect = std::move(reconnect_request_);
  reconnect_request_.reset();
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
  return end;
}

void MinerCore::network_loop(Protocol& protocol) {
  constexpr int kMaxRedirectsWithoutWork = 4;  // a pool bouncing the miner around gets no more
  constexpr auto kMaxReconnectWait = std::chrono::seconds(300);
  auto backoff = cfg.reconnect_min;
  size_t index = 0;
  std::optional<PoolUrl> redirect;  // client.reconnect's target, for one session
  int redirects = 0;                // followed in a row without getting work
  while (!stopping) {
    const PoolUrl url = redirect ? *redirect : urls[index];
    auto started = clock_type::now();
    SessionEnd end = session(protocol, url, !redirect && index == 0);
    if (stopping) break;
    reconnects.fetch_add(1);
    if (end.got_work) redirects = 0;
    if (end.reconnect && redirects < kMaxRedirectsWithoutWork) {
      ++redirects;
      auto wait = std::min<std::chrono::seconds>(end.reconnect->wait, kMaxReconnectWait);
      if (end.reconnect->target) {
        PoolUrl target = *end.reconnect->target;
        target.tls = url.tls;
        redirect.reset();
        auto same = [&](const PoolUrl& u) { return u.host == target.host && u.port == target.port && u.tls == target.tls; };
        if (auto it = std::find_if(urls.begin(), urls.end(), same); it != urls.end())
          index = size_t(it - urls.begin());  // one of ours: go on from there
        else
          redirect = target;
        spdlog::info("miner: {}:{} asks to reconnect to {}:{}{}", url.host, url.port, target.host, target.port,
                     wait.count() ? " in " + std::to_string(wait.count()) + " s" : "");
      } else {
        spdlog::info("miner: {}:{} asks to reconnect{}", url.host, url.port,
                     wait.count() ? " in " + std::to_string(wait.count()) + " s" : "");
      }
      pause(wait);
      continue;
    }
    if (end.reconnect) spdlog::warn("miner: ignoring client.reconnect: {} redirects in a row without work", redirects);
    // A redirected session counts as one on the URL that sent it: when it fails, the next one.
    redirect.reset();
    if (end.failback) {
      index = 0;
      backoff = cfg.reconnect_min;
      continue;
    }
    // After a long session go straight back to the preferred pool (once); else try the next one.
    bool was_long = end.got_work && clock_type::now() - started > std::chrono::seconds(10);
    index = was_long ? 0 : (index + 1) % urls.size();
    if (was_long) backoff = cfg.reconnect_min;
    if (index == 0 && !was_long) {  // every URL failed in turn
      pause(backoff);
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
