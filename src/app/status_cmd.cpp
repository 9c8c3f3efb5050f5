#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/app.h"
#include "http/http.h"

namespace otedama::app {

namespace {

std::string human_duration(double seconds) {
  long s = long(seconds);
  char buf[64];
  if (s >= 86400) snprintf(buf, sizeof buf, "%ldd %ldh %ldm", s / 86400, s % 86400 / 3600, s % 3600 / 60);
  else if (s >= 3600) snprintf(buf, sizeof buf, "%ldh %ldm %lds", s / 3600, s % 3600 / 60, s % 60);
  else if (s >= 60) snprintf(buf, sizeof buf, "%ldm %lds", s / 60, s % 60);
  else snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

}  // namespace

int status(const StatusOptions& o) {
  std::string base = o.api_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  http::ClientResponse r;
  try {
    r = http::get(base + "/api/status", std::chrono::seconds(5));
  } catch (const std::invalid_argument& e) {
    fprintf(stderr, "error: --api: %s\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    fprintf(stderr, "error: no Otedama node answers at %s (%s)\n", base.c_str(), e.what());
    return kExitFailure;
  }
  nlohmann::json j;
  try {
    if (r.status != 200) throw std::runtime_error("HTTP " + std::to_string(r.status));
    j = nlohmann::json::parse(r.body);
  } catch (const std::exception& e) {
    fprintf(stderr, "error: %s/api/status did not answer as an Otedama node: %s\n", base.c_str(), e.what());
    return kExitFailure;
  }
  if (o.json) {
    printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  printf("%s %s (%s)\n", j.value("name", "Otedama").c_str(), j.value("version", "?").c_str(),
         j.value("commit", "?").c_str());
  printf("  %-10s %s\n", "mode", j.value("mode", "?").c_str());
  printf("  %-10s %s\n", "uptime", human_duration(j.value("uptime_seconds", 0.0)).c_str());
  printf("  %-10s %s\n", "ready", j.value("ready", false) ? "yes" : "no");
  if (j.contains("mining")) printf("  %-10s %s\n", "algorithm", j["mining"].value("algorithm", "?").c_str());
  printf("\n  %-24s %-6s %s\n", "COMPONENT", "READY", "DETAIL");
  for (const auto& c : j.value("components", nlohmann::json::array()))
    printf("  %-24s %-6s %s\n", c.value("name", "").c_str(), c.value("ready", false) ? "yes" : "no",
           c.value("detail", "").c_str());
  if (j.contains("pools") && !j["pools"].empty()) {
    printf("\n  %-16s %-9s %-9s %-22s %s\n", "POOL", "COIN", "ALGO", "STRATUM", "REWARDS");
    for (const auto& p : j["pools"])
      printf("  %-16s %-9s %-9s %-22s %s, fee %.2f%%\n", p.value("name", "").c_str(),
             p.value("coin", "").empty() ? "-" : p.value("coin", "").c_str(), p.value("algorithm", "").c_str(),
             p.value("address", "").c_str(), p.value("reward_system", "").c_str(), p.value("fee_percentage", 0.0));
  }
  return kExitOk;
}

}  // namespace otedama::app

namespace otedama::app {

int blocknotify(const std::string& health_url, const std::string& pool, const std::string& hash) {
  std::string url = health_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/notify/block";
  if (!pool.empty()) url += "?pool=" + pool;
  try {
    auto r = http::request("POST", url, "", {}, std::chrono::seconds(5));
    if (r.status != 200) {
      fprintf(stderr, "error: %s answered %u: %s\n", url.c_str(), r.status, r.body.c_str());
      return kExitFailure;
    }
    printf("%s%s\n", r.body.c_str(), hash.empty() ? "" : (" " + hash).c_str());
    return kExitOk;
  } catch (const std::invalid_argument& e) {
    fprintf(stderr, "error: --url: %s\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    fprintf(stderr, "error: no Otedama node answers at %s (%s)\n", url.c_str(), e.what());
    return kExitFailure;
  }
}

}  // namespace otedama::app
