// Node figures from the foundation issue: exec -> /health answering, and the idle node's CPU.
//   build/bench/node_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>

#include "http/http.h"
#include "support/support.h"

using namespace otedama;

namespace {

struct Ports {
  uint16_t api = test::free_port(), metrics = test::free_port(), health = test::free_port();
};

// The product's example config (all listeners on), moved to loopback and free ports.
std::string example_config(const Ports& p, const std::string& extra = "") {
  return "app: {name: \"Otedama\", mode: \"production\"}\n"
         "mining: {algorithm: sha256d, enable_cpu: true, enable_gpu: true, enable_asic: true}\n"
         "pool: {enable: true, address: \"127.0.0.1:" + std::to_string(test::free_port()) + "\", max_connections: 10000,"
         " fee_percentage: 1.0, rewards: {system: PPLNS, window: 2h}}\n"
         "api: {enable: true, address: \"127.0.0.1:" + std::to_string(p.api) + "\", auth: {enabled: true, token_expiry: 24h}}\n"
         "monitoring:\n"
         "  metrics: {enabled: true, address: \"127.0.0.1:" + std::to_string(p.metrics) + "\"}\n"
         "  health: {enabled: true, address: \"127.0.0.1:" + std::to_string(p.health) + "\"}\n" + extra;
}

double cpu_seconds_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream in(line.substr(line.rfind(')') + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(in)), std::istream_iterator<std::string>());
  return (std::stod(f[11]) + std::stod(f[12])) / double(sysconf(_SC_CLK_TCK));
}

void BM_ServeExecToHealth(benchmark::State& state) {
  test::TempDir d;
  for (auto _ : state) {
    Ports p;
    std::string cfg = d.file("c.yaml", example_config(p));
    std::string url = "http://127.0.0.1:" + std::to_string(p.health) + "/health";
    auto t0 = std::chrono::steady_clock::now();
    test::Process node({OTEDAMA_BIN, "serve", "--config", cfg}, d.path());
    bool up = false;
    while (!up && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
      try {
        up = http::get(url, std::chrono::milliseconds(200)).status == 200;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!up) state.SkipWithError("node did not answer /health");
    state.SetIterationTime(ms / 1000);
    state.counters["exec_to_health_ms"] = ms;
    node.signal(SIGTERM);
    node.wait(std::chrono::seconds(6));
  }
}
BENCHMARK(BM_ServeExecToHealth)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);

void BM_IdleNodeCpu(benchmark::State& state) {
  test::TempDir d;
  for (auto _ : state) {
    Ports p;
    test::Process node({OTEDAMA_BIN, "serve", "--config", d.file("c.yaml", example_config(p))}, d.path());
    std::this_thread::sleep_for(std::chrono::seconds(1));
    double c0 = cpu_seconds_of(node.pid());
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(state.range(0)));
    double c1 = cpu_seconds_of(node.pid());
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.counters["idle_cpu_percent_of_core"] = 100 * (c1 - c0) / wall;
    node.signal(SIGTERM);
    node.wait(std::chrono::seconds(6));
  }
}
BENCHMARK(BM_IdleNodeCpu)->Arg(20)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
