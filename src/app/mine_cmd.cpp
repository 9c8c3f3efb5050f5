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
  spdlog::info("miner: {} on {} thread(s), user {}, pools {}", cfg.algo,
               cfg.threads ? cfg.threads : std::thread::hardware_concurrency(), cfg.user, fmt::join(cfg.urls, ", "));
  running_miner = m.get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  m->run([](const miner::MinerStats& s) {
    spdlog::info("miner: {:.2f} kH/s, accepted {}, rejected {}, difficulty {}, pool {}{}", s.hashrate / 1000, s.accepted,
                 s.rejected, s.difficulty, s.pool.empty() ? "(none)" : s.pool,
                 s.last_error.empty() ? "" : ", last error: " + s.last_error);
  });
  running_miner = nullptr;
  auto s = m->stats();
  spdlog::info("miner: stopped; accepted {}, rejected {}", s.accepted, s.rejected);
  return kExitOk;
}

}  // namespace otedama::app
