// What the Stratum v1 and the Monero-style miners share: the pool list with fail-over and
// back-off, the connection, the counters and the report loop (MinerCore), and the interface
// each protocol implements (Protocol). miner.cpp picks the protocol from the algorithm.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "miner/connection.h"
#include "miner/miner.h"

namespace otedama::miner {

class MinerCore;

// One protocol's client side. The network thread calls on_connected, on_line, on_tick and
// on_disconnected in turn; worker(i) runs on each search thread until core.stopping.
class Protocol {
 public:
  virtual ~Protocol() = default;
  // Just connected: send the opening messages.
  virtual void on_connected() = 0;
  // One line from the pool; false drops the connection (after core.set_error says why).
  virtual bool on_line(const std::string& line) = 0;
  // About every 200 ms while connected (keepalives, requests from the workers); false drops.
  virtual bool on_tick() { return true; }
  // The connection is gone: stop searching on its work.
  virtual void on_disconnected() = 0;
  virtual void worker(unsigned index) = 0;
  // Fail-back check, on its own thread and its own link: true when the pool behind `link`
  // accepts this miner and sends a job within `timeout`; false on a refusal, client.reconnect,
  // a closed link, the timeout or `abort`. Must not touch the session's state.
  virtual bool probe(PoolLink& link, std::chrono::milliseconds timeout, const std::atomic<bool>& abort) = 0;
};

// client.reconnect as the pool asked: where (nullopt: the same pool) and after how long.
struct ReconnectRequest {
  std::optional<PoolUrl> target;  // tls is taken from the URL in use
  std::chrono::seconds wait{0};
};

class MinerCore {
 public:
  MinerCore(MinerConfig config);  // parses the URLs (invalid_argument), sets threads

  MinerConfig cfg;
  std::vector<PoolUrl> urls;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> hashes{0}, accepted{0}, rejected{0}, jobs{0}, reconnects{0};
  std::atomic<double> difficulty{0};

  void set_error(const std::string& e);
  // Ends the run: run() throws std::runtime_error(e) once every thread has stopped.
  void fail(const std::string& e);
  // Sends one JSON message on the current connection; false when there is none or it broke.
  bool send(const nlohmann::json& msg);
  // The pool in use, "host:port" ("" when disconnected).
  std::string pool() const;
  // The URL of the session in use (a client.reconnect target, or one of urls).
  PoolUrl current_url() const;
  // client.reconnect: the session ends (the protocol's on_line returns false right after this)
  // and the next one follows the request. Network thread only.
  void request_reconnect(ReconnectRequest request);

  // Runs the network loop, the workers and the report loop until stopping.
  void run(Protocol& protocol, const std::function<void(const MinerStats&)>& report);
  MinerStats stats() const;

 private:
  struct SessionEnd {
    bool got_work = false;  // at least one job came
    bool failback = false;  // left for the preferred pool, which gives work again
    std::optional<ReconnectRequest> reconnect;
  };
  void network_loop(Protocol& protocol);
  SessionEnd session(Protocol& protocol, const PoolUrl& url, bool preferred);
  bool probe_preferred(Protocol& protocol, const std::atomic<bool>& abort);
  void pause(std::chrono::milliseconds d) const;
  MinerStats snapshot(double rate) const;

  std::shared_ptr<ssl_ctx_st> tls_context_;
  mutable std::mutex link_mutex_;
  std::shared_ptr<PoolLink> link_;
  mutable std::mutex stats_mutex_;
  std::string pool_name_, last_error_, fatal_;
  std::optional<ReconnectRequest> reconnect_request_;  // network thread only
  PoolUrl current_url_;                                // under stats_mutex_
  MinerStats last_;
};

std::unique_ptr<Protocol> make_stratum_v1(MinerCore& core);
std::unique_ptr<Protocol> make_monero_stratum(MinerCore& core);

}  // namespace otedama::miner
