// `otedama mine`: the built-in miner in the foreground; SIGINT/SIGTERM stop it.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <thread>

#include <csignal>
#include <cstdio>

#include "app/app.h"
#include "miner/miner.h"

namespace otedama::app {

namespace {
std::atomic<miner::Miner*> running_miner{nullptr};
void on_signal(int) {
  if (auto* m = running_miner.load()) m->stop();
}
}  // namespace

int mine(const MineOptions& o) {
  miner::MinerConfig cfg;
  cfg.urls = o.urls;
  cfg.user = o.user;
  cfg.password = o.password;
  cfg.algo = o.algo;
  cfg.threads = o.threads;
  cfg.randomx_mode = o.randomx_mode;
  cfg.large_pages = o.large_pages;
  if (!(o.report_seconds > 0)) {
    fprintf(stderr, "error: --report must be a positive number of seconds\n");
    return kExitUsage;
  }
  cfg.report_interval = std::chrono::milliseconds(int64_t(o.report_seconds * 1000));
  std::unique_ptr<miner::Miner> m;
  try {
    m = std::make_unique<miner::Miner>(cfg);
  } catch (const std::invalid_argument& e) {
    fprintf(stderr, "error: %s\n", e.what());
    return kExitUsage;
  }
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  const bool randomx = cfg.algo == "randomx";
  spdlog::info("miner: {}{} on {} thread(s), {}, user {}, pools {}", cfg.algo,
               randomx ? " (" + cfg.randomx_mode + " mode" + (cfg.large_pages ? "" : ", no large pages") + ")" : "",
               cfg.threads ? cfg.threads : std::thread::hardware_concurrency(),
               randomx ? "Monero Stratum" : "Stratum v1", cfg.user, fmt::join(cfg.urls, ", "));
  running_miner = m.get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  int rc = kExitOk;
  try {
    m->run([randomx](const miner::MinerStats& s) {
      // RandomX runs at hundreds of H/s per thread, the others at kH/s to MH/s.
      std::string rate = randomx ? fmt::format("{:.1f} H/s", s.hashrate) : fmt::format("{:.2f} kH/s", s.hashrate / 1000);
      spdlog::info("miner: {}, accepted {}, rejected {}, difficulty {}, pool {}{}", rate, s.accepted, s.rejected,
                   s.difficulty, s.pool.empty() ? "(none)" : s.pool,
                   s.last_error.empty() ? "" : ", last error: " + s.last_error);
    });
  } catch (const std::exception& e) {
    spdlog::error("miner: stopped: {}", e.what());
    rc = 1;
  }
  running_miner = nullptr;
  auto s = m->stats();
  spdlog::info("miner: stopped; accepted {}, rejected {}", s.accepted, s.rejected);
  return rc;
}

}  // namespace otedama::app
