// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <thread>

#include "api/api.h"
#include "app/app.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "miner/miner.h"
#include "monitor/monitor.h"
#include "pool/pool.h"

namespace otedama::app {

namespace asio = boost::asio;

namespace {

// Each Stratum connection is a descriptor: make room for pool.max_connections.
void raise_fd_limit(const config::Config& c) {
  uint64_t want = 1024;
  for (const auto& p : c.pools)
    if (p.enable) want += p.max_connections;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
  rlim_t target = std::min<rlim_t>(want, rl.rlim_max);
  rl.rlim_cur = target;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || target < want)
    spdlog::warn("file-descriptor limit is {} but pool.max_connections needs about {}; raise it (ulimit -n)",
                 target, want);
}

// The listeners a config enables, with the config key that names each address.
struct Listener {
  std::string name, key;
  config::Address address;
  std::shared_ptr<http::Router> router;
};

}  // namespace

int serve(const config::Config& c, const std::vector<std::string>& warnings) {
  try {
    setup_logging(c);
  } catch (const std::exception& e) {
    fprintf(stderr, "error: %s\n", e.what());
    return kExitUsage;
  }
  for (const auto& w : warnings) spdlog::warn("config: {}", w);
  spdlog::info("Otedama {} ({}) starting, mode {}, config {}", version(), git_commit(), config::to_string(c.app.mode),
               c.source);

  crypto::set_crypto_log([](std::string_view line) { spdlog::info("{}", line); });
  std::error_code ec;
  std::filesystem::create_directories(c.app.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create app.data_dir {}: {}", c.app.data_dir, ec.message());
    return kExitUsage;
  }
  raise_fd_limit(c);

  asio::io_context io(1);
  monitor::Components components;
  monitor::register_process_metrics(metrics());
  api::NodeInfo node{&c, &components, std::chrono::steady_clock::now()};

  std::vector<std::unique_ptr<pool::Pool>> pools;
  std::vector<Listener> listeners;
  if (c.monitoring.health.enabled) {
    auto r = std::make_shared<http::Router>();
    monitor::add_health_routes(*r, components);
    // The coin daemon's -blocknotify hook (`otedama blocknotify`): loopback callers only.
    r->add("POST", "/notify/block", [&pools](const http::Request& req) {
      if (req.remote_ip != "127.0.0.1" && req.remote_ip != "::1" && req.remote_ip != "::ffff:127.0.0.1")
        return http::Response::error(403, "block notifications are accepted from loopback only");
      std::string only = req.query.count("pool") ? req.query.at("pool") : "";
      int notified = 0;
      for (auto& p : pools)
        if (only.empty() || p->snapshot().name == only) p->block_notify(), ++notified;
      if (!only.empty() && notified == 0) return http::Response::error(404, "no pool named '" + only + "'");
      return http::Response::json(200, "{\"notified\":" + std::to_string(notified) + "}");
    });
    listeners.push_back({"health", "monitoring.health.address", c.monitoring.health.address, r});
  }
  if (c.monitoring.metrics.enabled) {
    auto r = std::make_shared<http::Router>();
    monitor::add_metrics_routes(*r, metrics());
    listeners.push_back({"metrics", "monitoring.metrics.address", c.monitoring.metrics.address, r});
  }
  if (c.api.enable) {
    auto r = std::make_shared<http::Router>();
    api::add_api_routes(*r, node);
    listeners.push_back({"api", "api.address", c.api.address, r});
  }

  // Bind every listener before serving anything: a port in use refuses the start.
  std::vector<std::unique_ptr<http::Server>> servers;
  for (const auto& l : listeners) {
    auto s = std::make_unique<http::Server>(io, l.name, l.router);
    try {
      s->listen(l.address.host, l.address.port);
    } catch (const std::exception& e) {
      spdlog::error("{} (set by {})", e.what(), l.key);
      return kExitUsage;
    }
    components.set(l.name, true, "listening on " + l.address.to_string());
    servers.push_back(std::move(s));
  }

  // Pools: a pool without a coin daemon is reported, not fatal (the example config validates).
  // Each pool binds its Stratum port now; the daemon is contacted in the background.
  for (const auto& p : c.pools) {
    if (!p.enable) continue;
    std::string component = "pool:" + p.name;
    if (!p.daemon.configured()) {
      components.set(component, false, "no coin daemon configured (pool.daemon.url)");
    } else if (p.coin == "bitcoin" || p.coin == "litecoin" || p.coin == "monero") {
      std::unique_ptr<pool::Pool> pp;
      try {
        pp = pool::make_pool(io, p, [&components, component](bool ready, const std::string& detail) {
          components.set(component, ready, detail);
        });
        pp->start();
      } catch (const std::exception& e) {
        spdlog::error("pool {}: {}", p.name, e.what());  // start() names the config key
        return kExitUsage;
      }
      spdlog::info("pool {} ({} / {}) {} listening on {}", p.name, p.coin, p.algorithm,
                   p.coin == "monero" ? "Monero-style Stratum" : "Stratum", p.address.to_string());
      pools.push_back(std::move(pp));
    } else {
      components.set(component, false,
                     "pool serving for coin '" + (p.coin.empty() ? std::string("none (pool.coin)") : p.coin) +
                         "' is not available in this build yet");
    }
  }

  // The built-in CPU miner, pointed at this node's first Bitcoin-family pool.
  std::unique_ptr<miner::Miner> cpu_miner;
  std::thread cpu_miner_thread;
  if (c.mining.enable_cpu && !pools.empty()) {
    const config::PoolConfig* target = nullptr;
    for (const auto& p : c.pools)
      if (p.enable && (p.coin == "bitcoin" || p.coin == "litecoin") && p.daemon.configured()) target = &p;
    if (target && !target->payout_address.empty()) {
      miner::MinerConfig mc;
      std::string host = target->address.host == "0.0.0.0" || target->address.host == "::" ? "127.0.0.1" : target->address.host;
      mc.urls = {"stratum+tcp://" + config::Address{host, target->address.port}.to_string()};
      mc.user = target->payout_address + ".local";
      mc.algo = target->algorithm;
      mc.threads = c.mining.cpu.threads;
      mc.report_interval = std::chrono::seconds(30);
      cpu_miner = std::make_unique<miner::Miner>(mc);
      cpu_miner_thread = std::thread([&] {
        cpu_miner->run([](const miner::MinerStats& s) {
          spdlog::info("cpu miner: {:.2f} kH/s, accepted {}, rejected {}", s.hashrate / 1000, s.accepted, s.rejected);
        });
      });
      spdlog::info("cpu miner: mining {} on {} with {} thread(s)", mc.algo, mc.urls[0],
                   mc.threads ? std::to_string(mc.threads) : std::string("all"));
    }
  }

  for (auto& s : servers) s->start();
  for (const auto& l : listeners) spdlog::info("{} listening on {}", l.name, l.address.to_string());

  // Graceful stop: stop accepting, let in-flight responses drain (at most 5 s), exit 0.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain(io);
  auto deadline = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> wait_drained = [&] {
    size_t active = 0;
    for (auto& s : servers) active += s->active_connections();
    if (active == 0 || std::chrono::steady_clock::now() >= *deadline) {
      if (active) spdlog::warn("closing {} connections that did not finish in time", active);
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](const boost::system::error_code&) { wait_drained(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
    if (cpu_miner) cpu_miner->stop();
    for (auto& p : pools) p->stop();
    for (auto& s : servers) s->stop();
    *deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(4500);
    wait_drained();
  });

  io.run();
  if (cpu_miner_thread.joinable()) cpu_miner_thread.join();
  pools.clear();
  servers.clear();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return kExitOk;
}

}  // namespace otedama::app
