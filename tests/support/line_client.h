// Test harness: a line-oriented JSON client over a blocking loopback socket with poll()
// timeouts, for Stratum servers of either dialect (requests, replies, notifications, and
// whether the server closed the connection).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace otedama::test {

using json = nlohmann::json;

// A line-oriented test miner over a blocking socket with poll() timeouts.
class LineClient {
 public:
  explicit LineClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
  }
  ~LineClient() { ::close(fd_); }
  LineClient(const LineClient&) = delete;

  void send_raw(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += size_t(n);
    }
  }
  void send(const json& j) { send_raw(j.dump() + "\n"); }

  // The next line, or nullopt on timeout or end of stream.
  std::optional<std::string> line(int timeout_ms = 2000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      if (eof_) return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, int(left.count())) <= 0) return std::nullopt;
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      buf_.append(tmp, size_t(n));
    }
  }

  std::optional<json> next(int timeout_ms = 2000) {
    auto l = line(timeout_ms);
    if (!l) return std::nullopt;
    json j = json::parse(*l, nullptr, false);
    log.push_back(j);
    return j;
  }

  // Sends a request and returns its reply; notifications read meanwhile go to `pending`.
  json call(const std::string& method, json params = json::array()) {
    int id = ++next_id_;
    json req = {{"id", id}, {"method", method}, {"params", params}};
    if (jsonrpc2) req["jsonrpc"] = "2.0";
    send(req);
    return reply(id);
  }
  json reply(const json& id) {
    for (;;) {
      auto j = next();
      if (!j) throw std::runtime_error("no reply to request " + id.dump());
      if (!j->contains("method") && j->value("id", json()) == id) return *j;
      pending.push_back(*j);
    }
  }
  // The next notification of that method (from `pending` first); others stay pending.
  std::optional<json> note(const std::string& method, int timeout_ms = 2000) {
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if (it->value("method", "") == method) {
        json j = *it;
        pending.erase(it);
        return j;
      }
    for (;;) {
      auto j = next(timeout_ms);
      if (!j) return std::nullopt;
      if (j->value("method", "") == method) return j;
      pending.push_back(*j);
    }
  }
  // True when the server closes the connection within the timeout.
  bool closed_by_server(int timeout_ms = 2000) {
    while (auto l = line(timeout_ms)) log.push_back(json::parse(*l, nullptr, false));
    return eof_;
  }
  bool saw(const std::string& method) const {
    for (auto& j : log)
      if (j.is_object() && j.value("method", "") == method) return true;
    return false;
  }

  std::vector<json> log, pending;
  bool jsonrpc2 = false;  // send "jsonrpc":"2.0" (Monero-style Stratum)

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  int next_id_ = 0;
};

}  // namespace otedama::test
