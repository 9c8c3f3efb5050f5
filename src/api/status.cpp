#include "api/internal.h"

namespace otedama::api {

double unix_seconds(Clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return 0;
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

nlohmann::json hashrates_json(const stats::Hashrates& h) {
  return {{"1m", h.m1}, {"15m", h.m15}, {"1h", h.h1}, {"24h", h.h24}};
}

nlohmann::json shares_json(const stats::ShareCounts& s) {
  return {{"valid", s.valid},     {"stale", s.stale},   {"duplicate", s.duplicate},
          {"invalid", s.invalid}, {"low_difficulty", s.low_difficulty}, {"total", s.total()}};
}

nlohmann::json worker_json(const stats::WorkerStats& w, const std::string& coin) {
  return {{"pool", w.pool},
          {"coin", coin},
          {"miner", w.miner},
          {"worker", w.worker},
          {"hashrate", hashrates_json(w.hashrate)},
          {"difficulty", w.last_difficulty},
          {"last_share", unix_seconds(w.last_share)},
          {"first_share", unix_seconds(w.first_share)},
          {"shares", shares_json(w.shares)}};
}

nlohmann::json block_json(const stats::Block& b) {
  return {{"pool", b.pool},     {"coin", b.coin},     {"height", b.height},
          {"hash", b.hash},     {"miner", b.miner},   {"worker", b.worker},
          {"status", b.status}, {"effort", b.effort}, {"network_difficulty", b.network_difficulty},
          {"reward", b.reward}, {"time", unix_seconds(b.time)}};
}

nlohmann::json payment_json(const stats::Payment& p) {
  return {{"pool", p.pool},   {"coin", p.coin}, {"address", p.address},
          {"amount", p.amount}, {"txid", p.txid}, {"time", unix_seconds(p.time)}};
}

nlohmann::json miner_state_json(const stats::MinerState& m) {
  return {{"running", m.running},   {"algorithm", m.algorithm}, {"pool", m.pool_url}, {"threads", m.threads},
          {"hashrate", m.hashrate}, {"accepted", m.accepted},   {"rejected", m.rejected}, {"detail", m.detail}};
}

nlohmann::json status_json(const NodeInfo& node) {
  using namespace std::chrono;
  const auto& c = *node.config;
  nlohmann::json components = nlohmann::json::array();
  bool ready = true;
  for (const auto& s : node.components->snapshot()) {
    components.push_back({{"name", s.name}, {"ready", s.ready}, {"detail", s.detail}});
    ready = ready && s.ready;
  }
  std::vector<PoolView> running = node.pools ? node.pools() : std::vector<PoolView>{};
  nlohmann::json pools = nlohmann::json::array();
  nlohmann::json coins = nlohmann::json::array();
  for (const auto& p : c.pools) {
    nlohmann::json j = {{"name", p.name},
                        {"enabled", p.enable},
                        {"coin", p.coin},
                        {"algorithm", p.algorithm},
                        {"address", p.address.to_string()},
                        {"reward_system", config::to_string(p.reward_system)},
                        {"fee_percentage", p.fee_percentage},
                        {"running", false}};
    for (const auto& r : running) {
      if (r.name != p.name) continue;
      j["running"] = true;
      j["height"] = r.height;
      j["network_difficulty"] = r.network_difficulty;
      j["connections"] = r.connections;
      coins.push_back({{"pool", r.name}, {"coin", r.coin}, {"height", r.height}});
    }
    pools.push_back(std::move(j));
  }
  double uptime = duration<double>(steady_clock::now() - node.started).count();
  nlohmann::json mining = {{"algorithm", c.mining.algorithm},
                           {"enable_cpu", c.mining.enable_cpu},
                           {"enable_gpu", c.mining.enable_gpu},
                           {"enable_asic", c.mining.enable_asic},
                           {"running", false},
                           {"hashrate", 0.0}};
  if (node.miner.state) {
    auto m = node.miner.state();
    mining["running"] = m.running;
    mining["hashrate"] = m.hashrate;
    mining["miner"] = miner_state_json(m);
    if (!m.algorithm.empty()) mining["algorithm"] = m.algorithm;
  }
  nlohmann::json p2p = {{"enabled", c.p2p.enable && bool(node.peers)}, {"peers", nlohmann::json::array()}};
  if (node.peers)
    for (const auto& peer : node.peers())
      p2p["peers"].push_back({{"address", peer.address}, {"outbound", peer.outbound}, {"latency_ms", peer.latency_ms},
                              {"height", peer.height}});
  return {{"name", c.app.name},
          {"version", std::string(version())},
          {"commit", std::string(git_commit())},
          {"mode", config::to_string(c.app.mode)},
          {"uptime_seconds", uptime},
          {"ready", ready},
          {"components", components},
          {"mining", mining},
          {"coins", coins},
          {"p2p", p2p},
          {"auth", {{"enabled", c.api.auth.enabled}}},
          {"pools", pools}};
}

void add_api_routes(http::Router& router, const NodeInfo& node) {
  router.add("GET", "/api/status", [node](const http::Request&) { return http::Response::json(200, status_json(node).dump()); });
}

}  // namespace otedama::api
