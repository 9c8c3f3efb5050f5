// The cost of serving /metrics (docs/perf-api.md) and of the stats hot path.
//   BM_Scrape/metrics: a full GET /metrics over loopback (new connection, as a scraper does)
//     against a registry shaped like a two-pool node: process metrics, share counters, check
//     histograms, stats gauges (pools with 1000 workers behind them), components. Process CPU
//     time per scrape (server + client), so an upper bound of the node's cost.
//   BM_Scrape/health: the same round trip for GET /health (a tiny answer): the baseline.
//   BM_Render: Metrics::render() alone.  BM_RecordShare vs BM_CounterInc: the share hot path.
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <benchmark/benchmark.h>

#include <boost/asio.hpp>
#include <thread>

#include "http/http.h"
#include "monitor/monitor.h"
#include "stats/stats.h"
#include "support/support.h"

using namespace otedama;

namespace {

struct Node {
  Metrics registry;
  stats::Collector collector;
  monitor::Components components;
  boost::asio::io_context io;
  std::unique_ptr<http::Server> server;
  std::thread thread;
  uint16_t port = 0;

  Node() {
    monitor::register_process_metrics(registry);
    for (std::string pool : {"litecoin", "bitcoin"}) {
      Labels base = {{"coin", pool}, {"pool", pool}};
      for (const char* r : {"valid", "stale", "duplicate", "low_difficulty", "invalid"}) {
        Labels l = base;
        l.emplace_back("result", r);
        registry.counter("otedama_shares_total", "Shares received, by result.", l).inc(12345);
      }
      registry.counter("otedama_blocks_found_total", "Blocks.", base).inc(3);
      auto& h = registry.histogram("otedama_share_check_seconds", "Check.", {1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1}, base);
      for (int i = 0; i < 1000; ++i) h.observe(i * 1e-5);
      collector.register_pool(pool, pool, pool == "bitcoin" ? "sha256d" : "scrypt", 65536);
      for (int w = 0; w < 1000; ++w)
        collector.record_share({pool, "addr" + std::to_string(w % 100), "w" + std::to_string(w), 1.0});
      components.set("pool:" + pool, true, "ok");
    }
    stats::register_metrics(registry, collector);
    registry.add_collector([this](Metrics& m) {
      for (const auto& s : components.snapshot())
        m.gauge("otedama_component_ready", "Ready.", {{"component", s.name}}).set(s.ready);
    });
    auto router = std::make_shared<http::Router>();
    monitor::add_metrics_routes(*router, registry);
    monitor::add_health_routes(*router, components);
    server = std::make_unique<http::Server>(io, "metrics", router);
    port = test::free_port();
    server->listen("127.0.0.1", port);
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  ~Node() {
    boost::asio::post(io, [this] {
      server->stop();
      io.stop();
    });
    thread.join();
  }
};

Node& node() {
  static Node n;
  return n;
}

void BM_Scrape(benchmark::State& state, const char* path) {
  std::string url = "http://127.0.0.1:" + std::to_string(node().port) + path;
  size_t bytes = 0;
  for (auto _ : state) {
    auto r = http::get(url);
    if (r.status != 200) state.SkipWithError("bad status");
    bytes = r.body.size();
  }
  state.counters["bytes"] = double(bytes);
}
BENCHMARK_CAPTURE(BM_Scrape, metrics, "/metrics")->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Scrape, health, "/health")->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_Render(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(node().registry.render());
}
BENCHMARK(BM_Render)->Unit(benchmark::kMicrosecond);

void BM_RecordShare(benchmark::State& state) {
  stats::Collector c;
  c.register_pool("p", "litecoin", "scrypt", 65536);
  stats::Share s{"p", "addr", "w", 1.0};
  for (auto _ : state) benchmark::DoNotOptimize(c.record_share(s));
}
BENCHMARK(BM_RecordShare);

void BM_CounterInc(benchmark::State& state) {
  Counter& c = node().registry.counter("bench_counter_total", "Bench.");
  for (auto _ : state) c.inc();
}
BENCHMARK(BM_CounterInc);

}  // namespace
