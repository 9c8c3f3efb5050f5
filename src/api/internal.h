// api internals shared by its source files (not part of the module's public header).
#pragma once

#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <variant>

#include "api/api.h"

namespace otedama::api {

using Clock = std::chrono::system_clock;

// api.auth.users plus api.auth.users_file (lines "name:password_hash[:role]"); throws
// std::runtime_error naming the key for a user it cannot use.
std::vector<config::User> load_users(const config::Config::Api::Auth& auth);

// Bearer tokens: 256 random bits, kept in memory until they expire or are revoked.
class TokenStore {
 public:
  static constexpr size_t kMaxPerUser = 64;
  struct Session {
    std::string user, role;
    Clock::time_point expires;
  };
  struct Issued {
    std::string token;
    Clock::time_point expires;
  };
  explicit TokenStore(std::chrono::milliseconds expiry);
  Issued issue(const std::string& user, const std::string& role, Clock::time_point now = Clock::now());
  // The session, or why the token is refused.
  std::variant<Session, std::string> check(const std::string& token, Clock::time_point now = Clock::now());
  bool revoke(const std::string& token);
  size_t size() const;

 private:
  void prune(Clock::time_point now);
  std::chrono::milliseconds expiry_;
  mutable std::mutex mutex_;
  std::map<std::string, Session> tokens_;
};

// JSON lines: {"time","action","user","ip","ok","detail"}, flushed per line.
class AuditLog {
 public:
  explicit AuditLog(std::string path);
  void record(const std::string& action, const std::string& user, const std::string& ip, bool ok,
              const std::string& detail = "");
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mutex_;
  std::ofstream out_;
};

nlohmann::json status_json(const NodeInfo& node);
nlohmann::json hashrates_json(const stats::Hashrates& h);
nlohmann::json shares_json(const stats::ShareCounts& s);
nlohmann::json worker_json(const stats::WorkerStats& w, const std::string& coin);
nlohmann::json block_json(const stats::Block& b);
nlohmann::json payment_json(const stats::Payment& p);
nlohmann::json miner_state_json(const stats::MinerState& m);
double unix_seconds(Clock::time_point t);  // 0 for the epoch (never)

// The dashboard's routes (/, its files) with ETag / Cache-Control.
void add_web_routes(http::Router& router);
// The readable page of the OpenAPI document.
std::string openapi_html();

}  // namespace otedama::api
