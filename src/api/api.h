// api: the REST API, the WebSocket and the dashboard on api.address.
//
// Read-only endpoints (/api/status, /api/stats, /api/workers, /api/blocks, /api/payments,
// /api/miners/{address}, /api/docs, /api/ws) are public; control endpoints (/api/mining/start
// and /stop) need a bearer token from POST /api/auth/login (users from api.auth, passwords as
// argon2 or crypt(3) hashes). Every admin action and every refused or failed login goes to the
// audit log (<app.data_dir>/audit.log, one JSON object per line). Requests are rate limited per
// client IP (api.rate_limit: 429 with Retry-After). Errors are {"error":{"code","message"}}.
// The OpenAPI 3 document is GET /api/docs (and /api/docs.html to read).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/http.h"
#include "monitor/monitor.h"
#include "stats/stats.h"

namespace boost::asio {
class io_context;
}

namespace otedama::api {

// What the API shows of a running pool (the node maps its pools' snapshots to this).
struct PoolView {
  std::string name, coin, algorithm;
  uint64_t height = 0;
  double network_difficulty = 0;
  uint64_t connections = 0;
};

struct PaymentPage {
  std::vector<stats::Payment> payments;  // newest first
  uint64_t total = 0;
};

struct Balance {
  std::string coin;
  double balance = 0;  // confirmed, not yet paid
  double pending = 0;  // immature (blocks not yet confirmed)
  double paid = 0;     // paid out in total
};

// A PPS/FPPS pool's running balance (the operator carries the variance), in coins: matured
// block rewards minus what the shares were credited (owed or paid), and the rewards of blocks
// not yet matured apart.
struct OperatorBalance {
  std::string reward_system;  // "PPS" or "FPPS"
  double confirmed = 0;       // rewards_confirmed - share_credits (negative: the pool is down)
  double pending = 0;         // = rewards_pending
  double rewards_confirmed = 0, rewards_pending = 0, share_credits = 0;
};

// Where blocks, payments and balances come from. The node fills these; each may be empty:
// blocks then come from the stats collector (what the pools report; the last 1000 in memory),
// payments are an empty list and balances are none (true while the node has no payout store).
struct DataSource {
  std::function<stats::BlockPage(const std::string& coin, size_t offset, size_t limit)> blocks;
  std::function<PaymentPage(const std::string& coin, const std::string& address, size_t offset, size_t limit)> payments;
  std::function<std::vector<Balance>(const std::string& address, const std::string& coin)> balances;
  // By pool name; nullopt for a pool that is not PPS/FPPS (empty: never shown).
  std::function<std::optional<OperatorBalance>(const std::string& pool, const std::string& coin)> operator_balance;
};

// The built-in miner. start/stop return nullopt on success, else why not (a 409 answer).
struct MinerControl {
  std::function<stats::MinerState()> state;
  std::function<std::optional<std::string>()> start;
  std::function<std::optional<std::string>()> stop;
};

struct PeerView {
  std::string address;
  bool outbound = false;
  double latency_ms = 0;
  uint64_t height = 0;
};

struct NodeInfo {
  const config::Config* config = nullptr;
  const monitor::Components* components = nullptr;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  stats::Collector* stats = nullptr;             // required by ApiServer
  std::function<std::vector<PoolView>()> pools;  // running pools
  DataSource data;
  MinerControl miner;                            // empty: no built-in miner in this node
  std::function<std::vector<PeerView>()> peers;  // empty: P2P is off
  // P2P share chain (docs/p2p.md); empty functions: P2P is off (the routes answer 404).
  struct P2pAccess {
    std::function<std::string()> status_json;                // GET /api/p2p
    std::function<std::string(size_t limit)> shares_json;    // GET /api/p2p/shares
    // POST /api/p2p/bans {"peer": node id hex | IP, "seconds": N}: "" or why not.
    std::function<std::string(const std::string& peer, int64_t seconds)> ban;
    std::function<bool(const std::string& peer)> unban;      // DELETE /api/p2p/bans/{peer}
  } p2p;
  std::chrono::milliseconds hashrate_push_interval{5000};  // WebSocket "hashrate" topic
  std::string audit_log_path;  // default: <app.data_dir>/audit.log
};

// GET /api/status only (kept for callers that need no state).
void add_api_routes(http::Router& router, const NodeInfo& node);

// The whole API: REST, auth, audit log, rate limit, WebSocket pushes, OpenAPI and dashboard.
class ApiServer {
 public:
  // Throws std::runtime_error for a config it cannot serve (an unreadable api.auth.users_file,
  // a user without a password hash, an audit log that cannot be opened).
  ApiServer(boost::asio::io_context& io, NodeInfo node);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Adds every route (API, WebSocket, dashboard) and the rate-limit filter.
  void add_routes(http::Router& router);
  // Starts the periodic WebSocket pushes on the loop; stop() ends them and closes sockets.
  void start();
  void stop();
  size_t websocket_clients() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The OpenAPI 3.0 document of every route add_routes() serves under /api/.
const std::string& openapi_json();

// argon2id hash of a password in the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash),
// for api.auth.users[].password_hash. Throws std::runtime_error if hashing fails.
std::string hash_password(const std::string& password);
// Checks a password against an argon2 ($argon2id$, $argon2i$, $argon2d$) or crypt(3) hash
// (bcrypt $2b$, sha512-crypt $6$, yescrypt $y$). False for a malformed hash.
bool verify_password(const std::string& password, const std::string& hash);

// The dashboard's files (web/, and the charting library), compiled in.
struct WebAsset {
  const char* path;  // "/", "/app.js", "/vendor/uPlot.iife.min.js"
  const char* content_type;
  const unsigned char* data;
  size_t size;
};
std::vector<WebAsset> web_assets();

}  // namespace otedama::api
