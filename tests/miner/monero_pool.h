// A small Monero-style Stratum pool for the miner's tests (docs/stratum-monero.md): login,
// pushed jobs, submit, getjob, keepalived, nicehash. Every share is checked independently of
// the miner: the pool writes the submitted nonce into its own copy of the blob, recomputes
// RandomX in light mode on its own thread, compares the result with the miner's and the
// hash's top 64 bits with the target it handed out (parsed here, not with the miner's code).
// One connection at a time; `script` can make the first sessions misbehave.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/core.h"
#include "crypto/randomx.h"
#include "support/support.h"

namespace otedama::test {

using json = nlohmann::json;

// A real Monero hashing blob (tevador/RandomX tests.cpp "hash test 1e", tests/vectors/randomx.json):
// major 11, minor 11, a 5-byte timestamp varint, the previous id, the nonce at byte 39, the
// tree root and the transaction count.
inline const char* kMoneroBlobHex =
    "0b0b98bea7e805e0010a2126d287a2a0cc833d312cb786385a7c2f9de69d25537f584a9bc9977b00000000666fd8753bf61a8631f12984e3fd4"
    "4f4014eca629276817b56f32e9b68bd82f416";

inline Hash256 seed_of(uint8_t b) {
  Hash256 s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = uint8_t(b + i);
  return s;
}

struct PoolJob {
  std::string id;
  Bytes blob;
  Hash256 seed{};
  std::string target = "ffffff3f";  // difficulty 4: a share every ~4 light-mode hashes
  std::string next_seed;            // hex, optional
};

struct Share {
  std::string job_id;
  uint32_t nonce = 0;
  bool valid = false;
  std::string why;
};

class MoneroPool {
 public:
  // What a session does instead of behaving (for the bad-input tests); "" = behave.
  // "garbage": malformed JSON after login; "bad-blob", "short-blob", "bad-target", "bad-seed",
  // "bad-algo": a login job with that defect; "long-line": a line longer than the miner's
  // limit; "login-error": refuses the login; "not-object": a JSON array; "reject": answers every
  // share "Low difficulty share"; "unauth": answers the first share "Unauthenticated".
  std::deque<std::string> script;
  std::vector<std::string> extensions = {"algo", "keepalive"};
  bool nicehash = false;
  uint8_t nicehash_byte = 0;

  explicit MoneroPool(PoolJob first) : job_(std::move(first)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    port_ = free_port();
    a.sin_port = htons(port_);
    if (bind(listen_fd_, (sockaddr*)&a, sizeof a) != 0) throw std::runtime_error("bind");
    listen(listen_fd_, 8);
    jobs_[job_.id] = job_;
  }
  ~MoneroPool() { shutdown_now(); }

  // Starts serving; first builds the checker's RandomX cache for the first job's seed (kept
  // in the process-wide light contexts, so tests that share seeds build it once).
  void start() {
    hasher_.hash(job_.seed, job_.blob);
    thread_ = std::thread([this] { serve(); });
  }
  // Closes the listener and the connection: the pool is gone.
  void shutdown_now() {
    if (stop_.exchange(true)) return;
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  std::string url() const { return "stratum+tcp://127.0.0.1:" + std::to_string(port_); }

  // Pushes a new job to the connected miner (and to later logins).
  void push(PoolJob job) {
    std::lock_guard lock(mutex_);
    job_ = job;
    jobs_[job.id] = job;
    pushes_.push_back(std::move(job));
  }

  std::vector<Share> shares() const {
    std::lock_guard lock(mutex_);
    return shares_;
  }
  int valid(const std::string& job_id = "") const {
    int n = 0;
    for (const auto& s : shares()) n += s.valid && (job_id.empty() || s.job_id == job_id);
    return n;
  }
  int invalid() const {
    int n = 0;
    for (const auto& s : shares()) n += !s.valid;
    return n;
  }
  json login_params() const {
    std::lock_guard lock(mutex_);
    return login_;
  }
  std::atomic<int> connections{0}, keepalives{0}, getjobs{0}, bad_requests{0};

 private:
  json job_json(const PoolJob& j) const {
    Bytes blob = j.blob;
    if (nicehash) blob[42] = nicehash_byte;
    json o = {{"blob", to_hex(blob)}, {"job_id", j.id},  {"target", j.target}, {"height", 3000000},
              {"seed_hash", to_hex(j.seed)}, {"algo", "rx/0"}, {"id", "sess-1"}};
    if (!j.next_seed.empty()) o["next_seed_hash"] = j.next_seed;
    return o;
  }

  void send(int fd, const json& j) { send_raw(fd, j.dump() + "\n"); }
  void send_raw(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);  // the miner may be gone
      if (n <= 0) return;
      off += size_t(n);
    }
  }

  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      connections++;
      std::string behaviour;
      {
        std::lock_guard lock(mutex_);
        if (!script.empty()) {
          behaviour = script.front();
          script.pop_front();
        }
        pushes_.clear();
      }
      session(fd, behaviour);
      close(fd);
    }
  }

  void session(int fd, const std::string& behaviour) {
    std::string buf;
    char c[4096];
    while (!stop_) {
      {
        std::unique_lock lock(mutex_);
        while (!pushes_.empty()) {
          PoolJob j = pushes_.front();
          pushes_.pop_front();
          lock.unlock();
          send(fd, {{"jsonrpc", "2.0"}, {"method", "job"}, {"params", job_json(j)}});
          lock.lock();
        }
      }
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = read(fd, c, sizeof c);
      if (n <= 0) return;
      buf.append(c, size_t(n));
      size_t pos;
      while ((pos = buf.find('\n')) != std::string::npos) {
        json m;
        try {
          m = json::parse(buf.substr(0, pos));
        } catch (...) {
          bad_requests++;
          return;
        }
        buf.erase(0, pos + 1);
        if (!handle(fd, m, behaviour)) return;
      }
    }
  }

  json reply(const json& m, json result) {
    return {{"id", m["id"]}, {"jsonrpc", "2.0"}, {"error", nullptr}, {"result", std::move(result)}};
  }
  json error(const json& m, const std::string& message) {
    return {{"id", m["id"]}, {"jsonrpc", "2.0"}, {"error", {{"code", -1}, {"message", message}}}};
  }

  bool handle(int fd, const json& m, const std::string& behaviour) {
    if (m.value("jsonrpc", "") != "2.0" || !m.contains("id")) bad_requests++;
    std::string method = m.value("method", "");
    const json& params = m.contains("params") ? m["params"] : json();
    if (method == "login") {
      {
        std::lock_guard lock(mutex_);
        login_ = params;
      }
      if (behaviour == "login-error") {
        send(fd, error(m, "Invalid address: not a Monero address"));
        return true;
      }
      PoolJob j;
      {
        std::lock_guard lock(mutex_);
        j = job_;
      }
      json job = job_json(j);
      if (behaviour == "bad-blob") job["blob"] = "zz" + job["blob"].get<std::string>().substr(2);
      if (behaviour == "short-blob") job["blob"] = job["blob"].get<std::string>().substr(0, 2 * 41);
      if (behaviour == "bad-target") job["target"] = "ffffff";
      if (behaviour == "bad-seed") job["seed_hash"] = "1234";
      if (behaviour == "bad-algo") job["algo"] = "rx/wow";
      json ext = extensions;
      if (nicehash) ext.push_back("nicehash");
      send(fd, reply(m, {{"id", "sess-1"}, {"job", job}, {"extensions", ext}, {"status", "OK"}}));
      if (behaviour == "garbage") send_raw(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"job\",\"params\":{oops\n");
      if (behaviour == "not-object") send_raw(fd, "[1,2,3]\n");
      if (behaviour == "long-line") send_raw(fd, "{\"x\":\"" + std::string(70000, 'a') + "\"}\n");
      return true;
    }
    if (params.value("id", "") != "sess-1") {
      send(fd, error(m, "Unauthenticated"));
      return true;
    }
    if (method == "keepalived") {
      keepalives++;
      send(fd, reply(m, {{"status", "KEEPALIVED"}}));
    } else if (method == "getjob") {
      getjobs++;
      std::lock_guard lock(mutex_);
      send(fd, reply(m, job_json(job_)));
    } else if (method == "submit") {
      Share s = check(params);
      {
        std::lock_guard lock(mutex_);
        shares_.push_back(s);
      }
      if (behaviour == "reject") {
        send(fd, error(m, "Low difficulty share"));
      } else if (behaviour == "unauth") {
        send(fd, error(m, "Unauthenticated"));
      } else if (s.valid) {
        send(fd, reply(m, {{"status", "OK"}}));
      } else {
        send(fd, error(m, s.why));
      }
    } else {
      send(fd, error(m, "Method not found: " + method));
    }
    return true;
  }

  Share check(const json& p) {
    Share s;
    s.job_id = p.value("job_id", "");
    std::string nonce_hex = p.value("nonce", ""), result_hex = p.value("result", "");
    PoolJob job;
    {
      std::lock_guard lock(mutex_);
      auto it = jobs_.find(s.job_id);
      if (it == jobs_.end()) {
        s.why = "Invalid job id";
        return s;
      }
      job = it->second;
    }
    if (nonce_hex.size() != 8 || result_hex.size() != 64) {
      s.why = "Invalid nonce";
      return s;
    }
    Bytes nonce = from_hex(nonce_hex);
    s.nonce = uint32_t(nonce[0]) | uint32_t(nonce[1]) << 8 | uint32_t(nonce[2]) << 16 | uint32_t(nonce[3]) << 24;
    Bytes blob = job.blob;
    if (nicehash) {
      blob[42] = nicehash_byte;
      if (nonce[3] != nicehash_byte) {
        s.why = "Invalid nonce";
        return s;
      }
    }
    std::copy(nonce.begin(), nonce.end(), blob.begin() + 39);
    Hash256 hash = hasher_.hash(job.seed, blob);
    if (to_hex(hash) != result_hex) {
      s.why = "Invalid result";
      return s;
    }
    // The target as XMRig reads it, by long division this time: an 8-digit target t32 stands
    // for the 64-bit target t32 * 2^32.
    Bytes t = from_hex(job.target);
    unsigned __int128 target64 = 0;
    for (size_t i = t.size(); i-- > 0;) target64 = target64 * 256 + t[i];
    if (t.size() == 4) target64 *= (unsigned __int128)1 << 32;
    unsigned __int128 top = 0;
    for (int i = 31; i >= 24; --i) top = top * 256 + hash[size_t(i)];
    if (!(top < target64)) {
      s.why = "Low difficulty share";
      return s;
    }
    s.valid = true;
    return s;
  }

  PoolJob job_;
  std::map<std::string, PoolJob> jobs_;
  std::deque<PoolJob> pushes_;
  std::vector<Share> shares_;
  json login_;
  mutable std::mutex mutex_;
  crypto::RandomXHasher hasher_{crypto::RandomXMode::light};
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace otedama::test
