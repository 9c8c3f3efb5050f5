// `otedama serve` as a process: listeners on free ports, /health, /ready, /metrics (parsed as
// the Prometheus text format), /api/status, `otedama status`, SIGTERM, and a port in use.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "http/http.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;

namespace {

const std::string kBin = OTEDAMA_BIN;

struct Ports {
  uint16_t api = free_port(), metrics = free_port(), health = free_port(), pool = free_port();
};

std::string node_config(const Ports& p, const std::string& extra = "") {
  return "app: {name: \"Otedama test\", mode: development, data_dir: \"./data\"}\n"
         "logging: {level: debug, file: \"logs/otedama.log\"}\n"
         "mining: {enable_cpu: false}\n"
         "pool: {enable: true, address: \"127.0.0.1:" + std::to_string(p.pool) + "\"}\n"
         "api: {address: \"127.0.0.1:" + std::to_string(p.api) + "\"}\n"
         "monitoring:\n"
         "  metrics: {enabled: true, address: \"127.0.0.1:" + std::to_string(p.metrics) + "\"}\n"
         "  health: {enabled: true, address: \"127.0.0.1:" + std::to_string(p.health) + "\"}\n" + extra;
}

std::string url(uint16_t port, const std::string& path) { return "http://127.0.0.1:" + std::to_string(port) + path; }

// Polls until GET url answers (any status); false after the timeout.
bool wait_http(const std::string& u, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    try {
      http::get(u, std::chrono::milliseconds(500));
      return true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return false;
}

// A strict reader of the Prometheus text exposition format (0.0.4): comments, TYPE before
// samples, metric and label names, escaped label values, float values. Returns the samples
// as "name{labels}" -> value and fails the test on any malformed line.
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  static const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\["\\n])*")*)?\})? ([-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN))( [0-9]+)?$)");
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.empty()) continue;
    if (std::regex_match(line, m, help)) continue;
    if (std::regex_match(line, m, type)) {
      EXPECT_FALSE(types.count(m[1])) << "TYPE twice: " << line;
      types[m[1]] = m[2];
      continue;
    }
    if (line[0] == '#') {
      ADD_FAILURE() << "bad comment line: " << line;
      continue;
    }
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "malformed sample line: " << line;
      continue;
    }
    std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (!types.count(family) && family.size() > strlen(suffix) &&
          family.compare(family.size() - strlen(suffix), strlen(suffix), suffix) == 0)
        family = family.substr(0, family.size() - strlen(suffix));
    EXPECT_TRUE(types.count(family)) << "sample before its TYPE: " << line;
    std::string v = m[7];
    samples[name + std::string(m[2])] = v == "+Inf" || v == "Inf" ? INFINITY : v == "NaN" ? NAN : std::stod(v);
  }
  return samples;
}

}  // namespace

TEST(Serve, AnswersHealthReadyMetricsAndStatusThenStopsOnSigterm) {
  TempDir d;
  Ports p;
  std::string cfg = d.file("otedama.yaml", node_config(p));
  Process node({kBin, "serve", "--config", cfg}, d.path());
  ASSERT_TRUE(wait_http(url(p.health, "/health"))) << node.err();

  auto health = http::get(url(p.health, "/health"));
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(nlohmann::json::parse(health.body)["status"], "ok");

  // No coin daemon: the pool is not ready, and /ready says why.
  auto ready = http::get(url(p.health, "/ready"));
  EXPECT_EQ(ready.status, 503u);
  auto rj = nlohmann::json::parse(ready.body);
  EXPECT_EQ(rj["status"], "not ready");
  ASSERT_FALSE(rj["reasons"].empty());
  EXPECT_NE(rj["reasons"][0].get<std::string>().find("no coin daemon configured"), std::string::npos);
  std::set<std::string> names;
  for (const auto& c : rj["components"]) names.insert(c["name"]);
  EXPECT_TRUE(names.count("api") && names.count("metrics") && names.count("health") && names.count("pool:pool"));

  auto metrics = http::get(url(p.metrics, "/metrics"));
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.headers["content-type"].find("text/plain; version=0.0.4"), std::string::npos);
  auto samples = parse_exposition(metrics.body);
  EXPECT_GT(samples["process_resident_memory_bytes"], 1e6);
  EXPECT_GE(samples["process_cpu_seconds_total"], 0);
  double start = samples["process_start_time_seconds"];
  EXPECT_NEAR(start, double(time(nullptr)), 120);
  EXPECT_GT(samples["process_open_fds"], 3);
  bool build_info = false;
  for (const auto& [k, v] : samples)
    if (k.rfind("otedama_build_info{", 0) == 0) build_info = v == 1;
  EXPECT_TRUE(build_info);

  auto status = http::get(url(p.api, "/api/status"));
  EXPECT_EQ(status.status, 200u);
  auto sj = nlohmann::json::parse(status.body);
  EXPECT_EQ(sj["name"], "Otedama test");
  EXPECT_EQ(sj["mode"], "development");
  EXPECT_FALSE(sj["version"].get<std::string>().empty());
  EXPECT_GE(sj["uptime_seconds"].get<double>(), 0);
  EXPECT_FALSE(sj["ready"].get<bool>());
  EXPECT_EQ(sj["components"].size(), 4u);
  EXPECT_EQ(http::get(url(p.api, "/api/nothing")).status, 404u);

  // The CLI's view of the same node.
  auto table = run({kBin, "status", "--api", url(p.api, "")}, d.path());
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("Otedama test"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("no coin daemon configured"), std::string::npos);
  auto json = run({kBin, "status", "--api", url(p.api, ""), "--json"}, d.path());
  EXPECT_EQ(json.code, 0);
  EXPECT_EQ(nlohmann::json::parse(json.out)["name"], "Otedama test");

  // Graceful stop within 5 s, exit 0, and the log file has it.
  auto t0 = std::chrono::steady_clock::now();
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(std::chrono::seconds(6)), 0) << node.err();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  std::string log = read_file(d.path() / "logs" / "otedama.log");
  EXPECT_NE(log.find("received SIGTERM, stopping"), std::string::npos) << log;
  EXPECT_NE(log.find("stopped"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_directory(d.path() / "data"));
}

TEST(Serve, SigintAlsoStopsCleanly) {
  TempDir d;
  Ports p;
  Process node({kBin, "serve", "--config", d.file("c.yaml", node_config(p))}, d.path());
  ASSERT_TRUE(wait_http(url(p.health, "/health"))) << node.err();
  node.signal(SIGINT);
  EXPECT_EQ(node.wait(std::chrono::seconds(6)), 0);
}

TEST(Serve, PortInUseIsRefused) {
  TempDir d;
  Ports p;
  Process first({kBin, "serve", "--config", d.file("a.yaml", node_config(p))}, d.path());
  ASSERT_TRUE(wait_http(url(p.health, "/health"))) << first.err();
  Ports q;
  q.metrics = p.metrics;  // taken by the first node
  auto second = run({kBin, "serve", "--config", d.file("b.yaml", node_config(q))}, d.path(), std::chrono::seconds(10));
  EXPECT_EQ(second.code, 2);
  EXPECT_NE(second.err.find("already in use"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(std::to_string(p.metrics)), std::string::npos);
  EXPECT_NE(second.err.find("monitoring.metrics.address"), std::string::npos);
  EXPECT_TRUE(first.running());
}

TEST(Serve, DisabledListenersDoNotStart) {
  TempDir d;
  Ports p;
  std::string cfg = node_config(p);
  cfg = std::regex_replace(cfg, std::regex("metrics: \\{enabled: true"), "metrics: {enabled: false");
  cfg = std::regex_replace(cfg, std::regex("pool: \\{enable: true"), "pool: {enable: false");
  Process node({kBin, "serve", "--config", d.file("c.yaml", cfg)}, d.path());
  ASSERT_TRUE(wait_http(url(p.health, "/health"))) << node.err();
  EXPECT_THROW(http::get(url(p.metrics, "/metrics"), std::chrono::milliseconds(500)), std::runtime_error);
  // Nothing left unready: the pool is disabled.
  EXPECT_EQ(http::get(url(p.health, "/ready")).status, 200u);
}

TEST(Serve, UnwritableLogFileIsAClearError) {
  TempDir d;
  Ports p;
  std::string cfg = std::regex_replace(node_config(p), std::regex("logs/otedama.log"), "/proc/otedama/x.log");
  auto r = run({kBin, "serve", "--config", d.file("c.yaml", cfg)}, d.path(), std::chrono::seconds(10));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("logging.file"), std::string::npos) << r.err;
}
