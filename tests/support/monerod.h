// Test harness: monerod in regtest (and monero-wallet-rpc) on free loopback ports
// (docs: shared/docs/real-nodes.md §2).
//
// monerod runs with --regtest --offline --fixed-difficulty N in a fresh temporary data directory
// (--regtest wipes the chain at each start anyway, gotcha 10), RPC on 127.0.0.1 without TLS,
// no ZMQ unless asked for, --disable-rpc-ban (tests send bad blocks on purpose). The destructor
// always stops it (RPC stop_daemon, SIGTERM when a login is set, then SIGKILL), also when a test
// fails; the child also dies with the test process (PR_SET_PDEATHSIG).
//
// The harness speaks plain HTTP itself (rpc() / wallet rpc()), so tests can cross-check the
// project's client against an independent path.
//
//   otedama::test::Monerod node({.fixed_difficulty = 100});
//   otedama::test::MoneroWallet wallet(node);          // create_wallet through monero-wallet-rpc
//   node.rpc("generateblocks", {{"amount_of_blocks", 5}, {"wallet_address", wallet.address()}});
//   // the project's client: chain::monero::RpcClient({.url = node.rpc_url()})
//
// kMoneroTestAddress is a valid mainnet address for when no wallet is needed (mining to it is fine;
// nobody can spend it: its keys are the published test keys of Monero's own unit tests).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/support.h"

namespace otedama::test {

// Monero's unit-test keys (tests/unit_tests/base58.cpp): a valid MAINNET standard address.
inline constexpr const char* kMoneroTestAddress =
    "4AzKEX4gXdJdNeM6dfiBFL7kqund3HYGvMBF3ttsNd9SfzgYB6L7ep1Yg1osYJzLdaKAYSLVh6e6jKnAuzj3bw1oGy9kXCb";

struct HttpReply {
  int status = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
};

// One HTTP/1.1 POST to 127.0.0.1:port with "Connection: close". Never throws.
inline HttpReply http_post(uint16_t port, const std::string& path, const std::string& body,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return reply;
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, (sockaddr*)&a, sizeof a) != 0) {
    close(fd);
    return reply;
  }
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n" +
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t sent = 0; sent < req.size();) {
    ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return reply;
    }
    sent += size_t(n);
  }
  std::string in;
  char buf[65536];
  size_t header_end = std::string::npos, content_length = std::string::npos;
  while (true) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, size_t(n));
    if (header_end == std::string::npos && (header_end = in.find("\r\n\r\n")) != std::string::npos) {
      std::string head = in.substr(0, header_end);
      for (auto& c : head) c = char(std::tolower(uint8_t(c)));
      if (auto p = head.find("content-length:"); p != std::string::npos)
        content_length = std::stoul(head.substr(p + 15));
    }
    if (header_end != std::string::npos && content_length != std::string::npos &&
        in.size() >= header_end + 4 + content_length)
      break;
  }
  close(fd);
  if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) return reply;
  reply.status = std::atoi(in.c_str() + 9);
  if (header_end != std::string::npos) reply.body = in.substr(header_end + 4);
  return reply;
}

// JSON-RPC 2.0 over http_post; returns the whole answer object (with "result" or "error").
// Throws std::runtime_error when there is no JSON answer.
inline nlohmann::json json_rpc_post(uint16_t port, const std::string& method, const nlohmann::json& params,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
  nlohmann::json body = {{"jsonrpc", "2.0"}, {"id", "0"}, {"method", method}, {"params", params}};
  HttpReply r = http_post(port, "/json_rpc", body.dump(), timeout);
  if (r.status == 0) throw std::runtime_error(method + ": no answer from 127.0.0.1:" + std::to_string(port));
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(method + ": HTTP " + std::to_string(r.status) + " without JSON: " + r.body);
  return j;
}

struct MonerodOptions {
  uint64_t fixed_difficulty = 1;
  std::string rpc_login;  // "user:password" -> --rpc-login (HTTP digest auth on the RPC)
  bool zmq = false;       // --zmq-rpc-bind-port and --zmq-pub tcp://127.0.0.1:<zmq_pub_port()>
  std::string block_notify;  // a script path; "%s" is replaced by the block id (no shell)
  std::vector<std::string> extra_args;
  std::chrono::milliseconds start_timeout{60000};
};

class Monerod {
 public:
  static constexpr const char* kDaemon = "/usr/bin/monerod";

  explicit Monerod(MonerodOptions options = {}) : options_(std::move(options)) {
    if (!std::filesystem::exists(kDaemon)) throw std::runtime_error("monerod is not installed (scripts/setup.sh installs it)");
    while (p2p_port_ == rpc_port_) p2p_port_ = free_port();
    std::filesystem::create_directories(data_dir());
    std::vector<std::string> argv = {kDaemon,
                                     "--regtest",
                                     "--offline",
                                     "--fixed-difficulty",
                                     std::to_string(options_.fixed_difficulty),
                                     "--data-dir",
                                     data_dir().string(),
                                     "--log-file",
                                     log_path().string(),
                                     "--log-level",
                                     "0",
                                     "--p2p-bind-ip",
                                     "127.0.0.1",
                                     "--p2p-bind-port",
                                     std::to_string(p2p_port_),
                                     "--rpc-bind-ip",
                                     "127.0.0.1",
                                     "--rpc-bind-port",
                                     std::to_string(rpc_port_),
                                     "--rpc-ssl",
                                     "disabled",
                                     "--non-interactive",
                                     "--no-igd",
                                     "--disable-rpc-ban"};
    if (options_.zmq) {
      zmq_rpc_port_ = free_port();
      zmq_pub_port_ = free_port();
      argv.insert(argv.end(), {"--zmq-rpc-bind-ip", "127.0.0.1", "--zmq-rpc-bind-port", std::to_string(zmq_rpc_port_),
                               "--zmq-pub", "tcp://127.0.0.1:" + std::to_string(zmq_pub_port_)});
    } else {
      argv.push_back("--no-zmq");
    }
    if (!options_.rpc_login.empty()) argv.insert(argv.end(), {"--rpc-login", options_.rpc_login});
    if (!options_.block_notify.empty()) argv.insert(argv.end(), {"--block-notify", options_.block_notify});
    argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
    process_ = std::make_unique<Process>(argv, tmp_.path());
    try {
      wait_ready();
    } catch (...) {
      kill_now();
      throw;
    }
  }

  ~Monerod() { stop(); }
  Monerod(const Monerod&) = delete;
  Monerod& operator=(const Monerod&) = delete;

  uint16_t rpc_port() const { return rpc_port_; }
  std::string rpc_url() const { return "http://127.0.0.1:" + std::to_string(rpc_port_); }
  uint16_t zmq_pub_port() const { return zmq_pub_port_; }  // 0 unless options.zmq
  std::filesystem::path data_dir() const { return tmp_.path() / "data"; }
  std::filesystem::path log_path() const { return tmp_.path() / "monerod.log"; }
  const std::filesystem::path& temp_dir() const { return tmp_.path(); }
  const MonerodOptions& options() const { return options_; }
  bool running() const { return process_ && process_->running(); }

  // JSON-RPC without authentication; returns "result", throws std::runtime_error on an error object.
  nlohmann::json rpc(const std::string& method, const nlohmann::json& params = nlohmann::json::object()) const {
    nlohmann::json j = json_rpc_post(rpc_port_, method, params);
    if (j.contains("error")) throw std::runtime_error(method + " failed: " + j["error"].dump());
    return j.at("result");
  }
  uint64_t height() const { return rpc("get_info").at("height").get<uint64_t>(); }

  // Last lines of monerod's log, for failure messages.
  std::string log_tail(size_t bytes = 3000) const {
    std::string log = read_file(log_path());
    return log.size() > bytes ? log.substr(log.size() - bytes) : log;
  }

  // Stops the daemon (idempotent): stop_daemon (SIGTERM with a login), then SIGKILL after 10 s.
  void stop() {
    if (!process_) return;
    if (process_->running()) {
      if (options_.rpc_login.empty())
        http_post(rpc_port_, "/stop_daemon", "{}", std::chrono::seconds(5));
      else
        process_->signal(SIGTERM);
      if (process_->wait(std::chrono::seconds(10)) == -1) process_->signal(SIGKILL);
      process_->wait(std::chrono::seconds(5));
    }
    process_.reset();
  }

 private:
  void kill_now() {
    if (process_) process_->signal(SIGKILL);
    process_.reset();
  }

  void wait_ready() {
    auto end = std::chrono::steady_clock::now() + options_.start_timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (!process_->running())
        throw std::runtime_error("monerod exited during start-up: " + process_->err() + "\n" + log_tail());
      HttpReply r = http_post(rpc_port_, "/json_rpc", R"({"jsonrpc":"2.0","id":"0","method":"get_info"})",
                              std::chrono::seconds(2));
      if (r.status == 401) return;  // up, behind --rpc-login
      if (r.status == 200 && r.body.find("\"height\"") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("timed out waiting for monerod's RPC: " + log_tail());
  }

  MonerodOptions options_;
  TempDir tmp_;
  uint16_t rpc_port_ = free_port(), p2p_port_ = free_port(), zmq_rpc_port_ = 0, zmq_pub_port_ = 0;
  std::unique_ptr<Process> process_;
};

// monero-wallet-rpc against a Monerod, with one wallet made by create_wallet (so its restore
// height is the daemon's, and it sees regtest coins; an offline-made wallet would not: gotcha 13).
class MoneroWallet {
 public:
  static constexpr const char* kWalletRpc = "/usr/bin/monero-wallet-rpc";

  explicit MoneroWallet(const Monerod& daemon, std::string name = "pool",
                        std::chrono::milliseconds start_timeout = std::chrono::seconds(60)) {
    if (!std::filesystem::exists(kWalletRpc)) throw std::runtime_error("monero-wallet-rpc is not installed");
    std::filesystem::create_directories(tmp_.path() / "wallets");
    std::vector<std::string> argv = {kWalletRpc,
                                     "--wallet-dir",
                                     (tmp_.path() / "wallets").string(),
                                     "--daemon-address",
                                     "127.0.0.1:" + std::to_string(daemon.rpc_port()),
                                     "--trusted-daemon",
                                     "--daemon-ssl",
                                     "disabled",
                                     "--rpc-bind-ip",
                                     "127.0.0.1",
                                     "--rpc-bind-port",
                                     std::to_string(port_),
                                     "--disable-rpc-login",
                                     "--rpc-ssl",
                                     "disabled",
                                     "--non-interactive",
                                     "--log-file",
                                     (tmp_.path() / "wallet-rpc.log").string(),
                                     "--shared-ringdb-dir",
                                     (tmp_.path() / "ringdb").string()};
    process_ = std::make_unique<Process>(argv, tmp_.path());
    try {
      auto end = std::chrono::steady_clock::now() + start_timeout;
      while (true) {
        if (!process_->running()) throw std::runtime_error("monero-wallet-rpc exited during start-up: " + process_->err());
        HttpReply r = http_post(port_, "/json_rpc", R"({"jsonrpc":"2.0","id":"0","method":"get_version"})",
                                std::chrono::seconds(2));
        if (r.status == 200) break;
        if (std::chrono::steady_clock::now() > end) throw std::runtime_error("timed out waiting for monero-wallet-rpc");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      rpc("create_wallet", {{"filename", name}, {"password", ""}, {"language", "English"}});
      address_ = rpc("get_address", {{"account_index", 0}}).at("address").get<std::string>();
    } catch (...) {
      process_->signal(SIGKILL);
      process_.reset();
      throw;
    }
  }

  ~MoneroWallet() {
    if (!process_) return;
    if (process_->running()) {
      http_post(port_, "/json_rpc", R"({"jsonrpc":"2.0","id":"0","method":"stop_wallet"})", std::chrono::seconds(5));
      if (process_->wait(std::chrono::seconds(10)) == -1) process_->signal(SIGKILL);
      process_->wait(std::chrono::seconds(5));
    }
  }
  MoneroWallet(const MoneroWallet&) = delete;
  MoneroWallet& operator=(const MoneroWallet&) = delete;

  const std::string& address() const { return address_; }  // primary (standard, mainnet-format) address
  uint16_t rpc_port() const { return port_; }

  // Returns "result"; std::runtime_error on an error object.
  nlohmann::json rpc(const std::string& method, const nlohmann::json& params = nlohmann::json::object()) const {
    nlohmann::json j = json_rpc_post(port_, method, params);
    if (j.contains("error")) throw std::runtime_error("wallet " + method + " failed: " + j["error"].dump());
    return j.at("result");
  }

 private:
  TempDir tmp_;
  uint16_t port_ = free_port();
  std::string address_;
  std::unique_ptr<Process> process_;
};

}  // namespace otedama::test
