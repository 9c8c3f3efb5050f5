// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <filesystem>

#include "api/api.h"
#include "app/app.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "monitor/monitor.h"

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

  std::vector<Listener> listeners;
  if (c.monitoring.health.enabled) {
    auto r = std::make_shared<http::Router>();
    monitor::add_health_routes(*r, components);
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
  for (const auto& p : c.pools) {
    if (!p.enable) continue;
    if (!p.daemon.configured())
      components.set("pool:" + p.name, false, "no coin daemon configured (pool.daemon.url)");
    else
      components.set("pool:" + p.name, false,
                     "pool serving for coin '" + (p.coin.empty() ? std::string("none") : p.coin) +
                         "' is not available in this build yet");
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
    for (auto& s : servers) s->stop();
    *deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(4500);
    wait_drained();
  });

  io.run();
  servers.clear();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return kExitOk;
}

}  // namespace otedama::app
