#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "monitor/monitor.h"

namespace otedama::monitor {

ProcessStats read_process_stats() {
  ProcessStats st;
  static const double ticks = double(sysconf(_SC_CLK_TCK));
  static const double page = double(sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name (which may hold spaces) start at field 3.
    auto close = line.rfind(')');
    std::istringstream in(line.substr(close + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(in)), std::istream_iterator<std::string>());
    // f[0] is field 3 (state): utime=14, stime=15, starttime=22, vsize=23, rss=24
    if (f.size() > 21) {
      st.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      double start_ticks = std::stod(f[19]);
      st.virtual_bytes = std::stod(f[20]);
      st.resident_bytes = std::stod(f[21]) * page;
      static double boot_time = [] {
        std::ifstream s("/proc/stat");
        std::string key;
        double v = 0;
        while (s >> key) {
          if (key == "btime") {
            s >> v;
            break;
          }
        }
        return v;
      }();
      st.start_time_seconds = boot_time + start_ticks / ticks;
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (readdir(d)) ++n;
    closedir(d);
    st.open_fds = n - 3;  // ".", ".." and the directory's own descriptor
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) st.max_fds = double(rl.rlim_cur);
  return st;
}

void register_process_metrics(Metrics& registry) {
  auto& cpu = registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  auto& rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  auto& vsz = registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
  auto& start = registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  auto& fds = registry.gauge("process_open_fds", "Number of open file descriptors.");
  auto& maxfds = registry.gauge("process_max_fds", "Maximum number of open file descriptors.");
  registry
      .gauge("otedama_build_info", "Build information of the running binary (value is always 1).",
             {{"version", std::string(version())}, {"commit", std::string(git_commit())}, {"compiler", __VERSION__}})
      .set(1);
  registry.add_collector([&](Metrics&) {
    ProcessStats s = read_process_stats();
    cpu.mirror(s.cpu_seconds);
    rss.set(s.resident_bytes);
    vsz.set(s.virtual_bytes);
    start.set(s.start_time_seconds);
    fds.set(s.open_fds);
    maxfds.set(s.max_fds);
  });
}

void add_metrics_routes(http::Router& router, Metrics& registry) {
  router.add("GET", "/metrics", [&registry](const http::Request&) {
    return http::Response::text(200, registry.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace otedama::monitor
