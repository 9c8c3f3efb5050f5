// monitor: what the node reports about itself. Readiness of each component (/health,
// /ready), and the Prometheus /metrics endpoint with the process's own metrics.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "core/core.h"
#include "http/http.h"

namespace otedama::monitor {

struct ComponentState {
  std::string name;
  bool ready = false;
  std::string detail;  // why it is not ready, or what it is doing
};

// Thread-safe: components report from their own threads.
class Components {
 public:
  void set(const std::string& name, bool ready, const std::string& detail = "");
  void remove(const std::string& name);
  std::vector<ComponentState> snapshot() const;
  bool all_ready() const;

 private:
  mutable std::mutex mutex_;
  std::vector<ComponentState> states_;
};

// GET /health (liveness: 200 while the loop answers) and GET /ready (200 when every component
// is ready, else 503 listing the reasons).
void add_health_routes(http::Router& router, const Components& components);

// GET /metrics from the registry, in the text exposition format.
void add_metrics_routes(http::Router& router, Metrics& registry);

// process_start_time_seconds, process_resident_memory_bytes, process_cpu_seconds_total,
// process_virtual_memory_bytes, process_open_fds, process_max_fds, otedama_build_info.
void register_process_metrics(Metrics& registry);

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  double open_fds = 0;
  double max_fds = 0;
};
ProcessStats read_process_stats();

}  // namespace otedama::monitor
