// api: the REST API under /api/ on api.address. Read-only endpoints are public; control
// endpoints (added by later parts) need a bearer token.
#pragma once

#include <chrono>

#include "config/config.h"
#include "http/http.h"
#include "monitor/monitor.h"

namespace otedama::api {

struct NodeInfo {
  const config::Config* config = nullptr;
  const monitor::Components* components = nullptr;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// GET /api/status: version, uptime, mode, components (and each pool's summary).
void add_api_routes(http::Router& router, const NodeInfo& node);

}  // namespace otedama::api
