#include <algorithm>
#include <nlohmann/json.hpp>

#include "monitor/monitor.h"

namespace otedama::monitor {

void Components::set(const std::string& name, bool ready, const std::string& detail) {
  std::lock_guard lock(mutex_);
  for (auto& s : states_)
    if (s.name == name) {
      s.ready = ready;
      s.detail = detail;
      return;
    }
  states_.push_back({name, ready, detail});
}

void Components::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  std::erase_if(states_, [&](const ComponentState& s) { return s.name == name; });
}

std::vector<ComponentState> Components::snapshot() const {
  std::lock_guard lock(mutex_);
  return states_;
}

bool Components::all_ready() const {
  std::lock_guard lock(mutex_);
  return std::all_of(states_.begin(), states_.end(), [](const ComponentState& s) { return s.ready; });
}

void add_health_routes(http::Router& router, const Components& components) {
  router.add("GET", "/health", [](const http::Request&) { return http::Response::json(200, R"({"status":"ok"})"); });
  router.add("GET", "/ready", [&components](const http::Request&) {
    nlohmann::json list = nlohmann::json::array();
    std::vector<std::string> reasons;
    bool ready = true;
    for (const auto& s : components.snapshot()) {
      list.push_back({{"name", s.name}, {"ready", s.ready}, {"detail", s.detail}});
      if (!s.ready) {
        ready = false;
        reasons.push_back(s.name + ": " + s.detail);
      }
    }
    nlohmann::json body = {{"status", ready ? "ready" : "not ready"}, {"components", list}, {"reasons", reasons}};
    return http::Response::json(ready ? 200 : 503, body.dump());
  });
}

}  // namespace otedama::monitor
