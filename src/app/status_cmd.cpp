#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/api.h"
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

// 1234567 H/s -> "1.23 MH/s"
std::string human_rate(double hs) {
  const char* units[] = {"H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s", "EH/s"};
  int i = 0;
  while (hs >= 1000 && i < 6) hs /= 1000, ++i;
  char buf[32];
  snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.2f %s", hs, units[i]);
  return buf;
}

// /api/stats as a table (pools, hashrate windows, shares, blocks, effort).
void print_stats(const nlohmann::json& st) {
  const auto& pools = st.value("pools", nlohmann::json::array());
  if (!pools.empty()) {
    printf("\n  %-14s %-9s %11s %11s %11s %11s %7s %7s\n", "POOL", "COIN", "1m", "15m", "1h", "24h", "MINERS",
           "WORKERS");
    for (const auto& p : pools) {
      const auto& h = p.value("hashrate", nlohmann::json::object());
      printf("  %-14s %-9s %11s %11s %11s %11s %7llu %7llu\n", p.value("name", "").c_str(), p.value("coin", "").c_str(),
             human_rate(h.value("1m", 0.0)).c_str(), human_rate(h.value("15m", 0.0)).c_str(),
             human_rate(h.value("1h", 0.0)).c_str(), human_rate(h.value("24h", 0.0)).c_str(),
             (unsigned long long)p.value("miners", 0ull), (unsigned long long)p.value("workers", 0ull));
    }
    printf("\n  %-14s %9s %7s %9s %8s %7s %7s %9s %12s\n", "POOL", "VALID", "STALE", "DUPLICATE", "INVALID", "LOW",
           "BLOCKS", "EFFORT", "HEIGHT");
    for (const auto& p : pools) {
      const auto& s = p.value("shares", nlohmann::json::object());
      printf("  %-14s %9llu %7llu %9llu %8llu %7llu %7llu %8.1f%% %12llu\n", p.value("name", "").c_str(),
             (unsigned long long)s.value("valid", 0ull), (unsigned long long)s.value("stale", 0ull),
             (unsigned long long)s.value("duplicate", 0ull), (unsigned long long)s.value("invalid", 0ull),
             (unsigned long long)s.value("low_difficulty", 0ull), (unsigned long long)p.value("blocks_found", 0ull),
             p.value("effort", 0.0) * 100, (unsigned long long)p.value("height", 0ull));
    }
  }
  if (st.contains("miner") && st["miner"].is_object()) {
    const auto& m = st["miner"];
    printf("\n  %-10s %s, %s, %s, accepted %llu, rejected %llu\n", "cpu miner", m.value("running", false) ? "running" : "stopped",
           m.value("algorithm", "").c_str(), human_rate(m.value("hashrate", 0.0)).c_str(),
           (unsigned long long)m.value("accepted", 0ull), (unsigned long long)m.value("rejected", 0ull));
  }
}

}  // namespace

int passwd(const std::string& user, const std::string& role) {
  std::string password, again;
  bool tty = isatty(0);
  termios old{};
  if (tty) {
    tcgetattr(0, &old);
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    tcsetattr(0, TCSANOW, &quiet);
    fprintf(stderr, "password: ");
  }
  std::getline(std::cin, password);
  if (tty) {
    fprintf(stderr, "\nagain: ");
    std::getline(std::cin, again);
    fprintf(stderr, "\n");
    tcsetattr(0, TCSANOW, &old);
    if (again != password) {
      fprintf(stderr, "error: the passwords differ\n");
      return kExitUsage;
    }
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    fprintf(stderr, "error: empty password (give it on stdin)\n");
    return kExitUsage;
  }
  std::string hash;
  try {
    hash = api::hash_password(password);
  } catch (const std::exception& e) {
    fprintf(stderr, "error: %s\n", e.what());
    return kExitFailure;
  }
  if (user.empty()) printf("%s\n", hash.c_str());
  else printf("- {name: \"%s\", password_hash: \"%s\", role: %s}\n", user.c_str(), hash.c_str(), role.c_str());
  return kExitOk;
}

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
  // /api/stats: older nodes without it still get their status printed.
  nlohmann::json st;
  try {
    auto sr = http::get(base + "/api/stats", std::chrono::seconds(5));
    if (sr.status == 200) st = nlohmann::json::parse(sr.body);
  } catch (const std::exception&) {
  }
  if (o.json) {
    nlohmann::json both = j;
    if (!st.is_null()) both["stats"] = st;
    printf("%s\n", both.dump(2).c_str());
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
  if (!st.is_null()) print_stats(st);
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
