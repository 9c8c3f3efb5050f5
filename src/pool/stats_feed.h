// Internal to the pool module: what both pools tell the statistics collector (src/stats) about
// shares and blocks, in one place.
#pragma once

#include <string>
#include <string_view>

#include "stats/stats.h"
#include "stratum/stratum.h"

namespace otedama::pool {

inline stats::ShareResult stats_result(int stratum_code) {
  if (stratum_code == stratum::error::job_not_found) return stats::ShareResult::stale;
  if (stratum_code == stratum::error::duplicate) return stats::ShareResult::duplicate;
  if (stratum_code == stratum::error::low_difficulty) return stats::ShareResult::low_difficulty;
  return stats::ShareResult::invalid;
}

inline void feed_share(const std::string& pool, std::string_view login, double difficulty, stats::ShareResult result) {
  auto [miner, worker] = stats::split_login(login);
  stats::Share s;
  s.pool = pool;
  s.miner = std::move(miner);
  s.worker = std::move(worker);
  s.difficulty = difficulty;
  s.result = result;
  stats::collector().record_share(s);
}

// A session's rejected share (the server found it bad before the pool saw it).
inline void feed_rejection(const std::string& pool, const stratum::Session& session, int code) {
  feed_share(pool, session.workers().empty() ? std::string_view() : std::string_view(session.workers()[0]),
             session.difficulty(), stats_result(code));
}

inline void feed_block(const std::string& pool, const std::string& coin, uint64_t height, const std::string& hash,
                       std::string_view login, double network_difficulty) {
  auto [miner, worker] = stats::split_login(login);
  stats::Block b;
  b.pool = pool;
  b.coin = coin;
  b.height = height;
  b.hash = hash;
  b.miner = std::move(miner);
  b.worker = std::move(worker);
  b.status = "submitted";
  b.network_difficulty = network_difficulty;
  stats::collector().record_block(std::move(b));
}

inline void feed_block_status(const std::string& pool, const std::string& hash, const char* status) {
  stats::Block b;
  b.pool = pool;
  b.hash = hash;
  b.status = status;
  stats::collector().record_block(std::move(b));
}

}  // namespace otedama::pool
