#include <nlohmann/json.hpp>

#include "api/api.h"

namespace otedama::api {

namespace {

nlohmann::json status_json(const NodeInfo& node) {
  using namespace std::chrono;
  const auto& c = *node.config;
  nlohmann::json components = nlohmann::json::array();
  bool ready = true;
  for (const auto& s : node.components->snapshot()) {
    components.push_back({{"name", s.name}, {"ready", s.ready}, {"detail", s.detail}});
    ready = ready && s.ready;
  }
  nlohmann::json pools = nlohmann::json::array();
  for (const auto& p : c.pools) {
    pools.push_back({{"name", p.name},
                     {"enabled", p.enable},
                     {"coin", p.coin},
                     {"algorithm", p.algorithm},
                     {"address", p.address.to_string()},
                     {"reward_system", config::to_string(p.reward_system)},
                     {"fee_percentage", p.fee_percentage}});
  }
  double uptime = duration<double>(steady_clock::now() - node.started).count();
  return {{"name", c.app.name},
          {"version", std::string(version())},
          {"commit", std::string(git_commit())},
          {"mode", config::to_string(c.app.mode)},
          {"uptime_seconds", uptime},
          {"ready", ready},
          {"components", components},
          {"mining",
           {{"algorithm", c.mining.algorithm},
            {"enable_cpu", c.mining.enable_cpu},
            {"enable_gpu", c.mining.enable_gpu},
            {"enable_asic", c.mining.enable_asic}}},
          {"pools", pools}};
}

}  // namespace

void add_api_routes(http::Router& router, const NodeInfo& node) {
  router.add("GET", "/api/status", [node](const http::Request&) { return http::Response::json(200, status_json(node).dump()); });
}

}  // namespace otedama::api
