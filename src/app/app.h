// app: the `otedama` command line and the wiring of a node (serve). Exit codes: 0 success,
// 1 runtime failure (e.g. no node answers), 2 usage or configuration error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace otedama::app {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int run_cli(int argc, char** argv);

// serve: runs the node until SIGINT/SIGTERM. Returns the process exit code.
int serve(const config::Config& config, const std::vector<std::string>& warnings);

struct StatusOptions {
  std::string api_url = "http://127.0.0.1:8080";
  bool json = false;
};
int status(const StatusOptions& options);
// Reads a password from stdin (asking twice on a terminal) and prints its argon2id hash, or a
// whole api.auth.users entry when `user` is set.
int passwd(const std::string& user, const std::string& role);

struct HashOptions {
  std::string algo;
  std::optional<std::string> input, key, header, nonce;
  std::optional<uint64_t> height;
};
int hash(const HashOptions& options);

struct BenchOptions {
  std::string algo;
  unsigned threads = 0;  // 0 = every hardware thread
  double seconds = 10;
  bool json = false;
  std::string variant = "auto";
  bool randomx_light = false;
  bool large_pages = true;
};
int bench(const BenchOptions& options);

struct MineOptions {
  std::vector<std::string> urls;
  std::string user, password = "x", algo = "sha256d";
  unsigned threads = 0;
  double report_seconds = 10;
  std::string randomx_mode = "auto";  // randomx: auto | fast | light
  bool large_pages = true;            // randomx: try large pages
};
int mine(const MineOptions& options);

// POSTs /notify/block to a node's health server; 0 when it took it, 1 when no node answers.
int blocknotify(const std::string& health_url, const std::string& pool, const std::string& hash);

// Console + rotating file logging from the config; throws std::runtime_error if the log
// file cannot be opened.
void setup_logging(const config::Config& config);

}  // namespace otedama::app
