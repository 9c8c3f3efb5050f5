// monero_load: a Monero-style Stratum load generator for the RandomX pool's share-check figures
// (docs/perf-monero.md).
//
// N clients log in with a fixed difficulty of 1 (ADDRESS+1: every hash is a valid share), then
// the generator pre-computes K valid shares per client with librandomx in FAST mode on every
// hardware thread (through crypto::RandomXHasher): that is the baseline "librandomx's own
// fast-mode hash rate per thread", measured in this run on this machine. Then it submits the
// pre-computed shares, either closed-loop (--window W requests in flight per client: the pool's
// check throughput) or open-loop at --rate shares/s in total (latency under load), and reports
// accepted/rejected shares/s and the p50/p99/max submit-to-reply latency.
//
//   monero_load --port P --address ADDR [--clients 32] [--shares 40] [--window 4] [--rate 0]
//               [--seconds 120]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/core.h"
#include "crypto/randomx.h"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace otedama;

namespace {

struct Options {
  int port = 0;
  std::string address;
  int clients = 32, shares = 40, window = 4;
  double rate = 0;  // total shares/s; 0 = closed loop
  int seconds = 120;
};

class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, (sockaddr*)&a, sizeof a) != 0) throw std::runtime_error("connect failed");
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() { ::close(fd_); }
  void send(const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      off += size_t(n);
    }
  }
  // A line, or "" on timeout.
  std::string line(int timeout_ms) {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return "";
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) throw std::runtime_error("connection closed by the pool");
      buf_.append(tmp, size_t(n));
    }
  }
  json reply(int id, int timeout_ms = 30000) {
    auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < end) {
      std::string l = line(200);
      if (l.empty()) continue;
      json j = json::parse(l, nullptr, false);
      if (j.is_object() && j.value("id", json()) == id) return j;
    }
    throw std::runtime_error("no reply");
  }

 private:
  int fd_;
  std::string buf_;
};

struct Client {
  std::unique_ptr<Conn> conn;
  std::string session, job_id;
  Bytes blob, seed;
  std::vector<std::pair<uint32_t, Hash256>> shares;
  std::vector<double> latencies;
  uint64_t accepted = 0, rejected = 0;
  std::string last_error;
};

std::string hex_nonce(uint32_t n) {
  Bytes b(4);
  for (int i = 0; i < 4; ++i) b[i] = uint8_t(n >> (8 * i));
  return to_hex(b);
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

void run_client(Client& c, const Options& o, double per_client_rate, Clock::time_point deadline) {
  size_t next = 0, done = 0;
  std::vector<Clock::time_point> sent(c.shares.size());
  auto start = Clock::now();
  int base_id = 1000;
  while (done < c.shares.size() && Clock::now() < deadline) {
    size_t in_flight = next - done;
    bool may_send = next < c.shares.size();
    if (per_client_rate > 0) {
      auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(double(next) / per_client_rate));
      may_send = may_send && Clock::now() >= due;
    } else {
      may_send = may_send && in_flight < size_t(o.window);
    }
    if (may_send) {
      auto& [nonce, result] = c.shares[next];
      json req = {{"id", base_id + int(next)},
                  {"jsonrpc", "2.0"},
                  {"method", "submit"},
                  {"params", {{"id", c.session}, {"job_id", c.job_id}, {"nonce", hex_nonce(nonce)}, {"result", to_hex(result)}}}};
      sent[next] = Clock::now();
      c.conn->send(req.dump() + "\n");
      ++next;
      continue;
    }
    std::string l = c.conn->line(per_client_rate > 0 ? 1 : 200);
    if (l.empty()) continue;
    json j = json::parse(l, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_number()) continue;  // pushed jobs
    size_t k = size_t(j["id"].get<int>() - base_id);
    if (k >= sent.size()) continue;
    c.latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent[k]).count());
    ++done;
    if (j["error"].is_null()) ++c.accepted;
    else ++c.rejected, c.last_error = j["error"].dump();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") o.port = std::stoi(v);
    else if (k == "--address") o.address = v;
    else if (k == "--clients") o.clients = std::stoi(v);
    else if (k == "--shares") o.shares = std::stoi(v);
    else if (k == "--window") o.window = std::stoi(v);
    else if (k == "--rate") o.rate = std::stod(v);
    else if (k == "--seconds") o.seconds = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (!o.port || o.address.empty()) {
    std::fprintf(stderr, "usage: monero_load --port P --address ADDR [--clients N] [--shares K] [--window W] [--rate R]\n");
    return 2;
  }
  auto deadline = Clock::now() + std::chrono::seconds(o.seconds);
  try {
    std::vector<Client> clients(size_t(o.clients));
    for (size_t i = 0; i < clients.size(); ++i) {
      auto& c = clients[i];
      c.conn = std::make_unique<Conn>(o.port);
      json login = {{"id", 1},
                    {"jsonrpc", "2.0"},
                    {"method", "login"},
                    {"params", {{"login", o.address + ".load" + std::to_string(i) + "+1"}, {"pass", "x"}, {"agent", "monero_load"}}}};
      c.conn->send(login.dump() + "\n");
      json r = c.conn->reply(1);
      if (!r["error"].is_null()) throw std::runtime_error("login refused: " + r.dump());
      c.session = r["result"]["id"];
      c.job_id = r["result"]["job"]["job_id"];
      c.blob = from_hex(r["result"]["job"]["blob"].get<std::string>());
      c.seed = from_hex(r["result"]["job"]["seed_hash"].get<std::string>());
    }
    // Pre-compute: every hardware thread hashes its share of clients in fast mode.
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::printf("dataset: building the fast-mode dataset for the job's key...\n");
    std::fflush(stdout);
    crypto::RandomXContexts::shared().get(ByteSpan(clients[0].seed), crypto::RandomXMode::fast);
    auto t0 = Clock::now();
    std::vector<std::thread> pool;
    std::atomic<uint64_t> hashes{0};
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        crypto::RandomXHasher h(crypto::RandomXMode::fast);
        for (size_t i = t; i < clients.size(); i += threads) {
          auto& c = clients[i];
          Bytes b = c.blob;
          for (int k = 0; k < o.shares; ++k) {
            uint32_t nonce = uint32_t(k);
            std::memcpy(b.data() + 39, &nonce, 4);  // x86: little-endian
            c.shares.push_back({nonce, h.hash(ByteSpan(c.seed), b)});
            ++hashes;
          }
        }
      });
    for (auto& t : pool) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    double per_thread = double(hashes) / secs / threads;
    std::printf("librandomx fast mode: %llu hashes on %u threads in %.2f s = %.1f H/s per thread\n",
                (unsigned long long)hashes.load(), threads, secs, per_thread);
    std::fflush(stdout);

    // Submit.
    auto s0 = Clock::now();
    double per_client = o.rate > 0 ? o.rate / double(clients.size()) : 0;
    pool.clear();
    for (auto& c : clients) pool.emplace_back([&] {
      try {
        run_client(c, o, per_client, deadline);
      } catch (const std::exception& e) {
        c.last_error = e.what();
      }
    });
    for (auto& t : pool) t.join();
    double elapsed = std::chrono::duration<double>(Clock::now() - s0).count();
    uint64_t acc = 0, rej = 0;
    std::vector<double> lat;
    std::string err;
    for (auto& c : clients) {
      acc += c.accepted, rej += c.rejected;
      lat.insert(lat.end(), c.latencies.begin(), c.latencies.end());
      if (!c.last_error.empty()) err = c.last_error;
    }
    std::printf("submitted %s: %llu accepted, %llu rejected in %.2f s = %.1f accepted shares/s; latency p50 %.1f ms, "
                "p99 %.1f ms, max %.1f ms\n",
                o.rate > 0 ? ("open loop at " + std::to_string(int(o.rate)) + "/s").c_str()
                           : ("closed loop, window " + std::to_string(o.window)).c_str(),
                (unsigned long long)acc, (unsigned long long)rej, elapsed, double(acc) / elapsed, pct(lat, 0.5),
                pct(lat, 0.99), pct(lat, 1.0));
    std::printf("ratio: pool accepted shares/s per pool thread vs librandomx fast H/s per thread: see the script\n");
    std::printf("RESULT baseline_per_thread=%.2f accepted_per_s=%.2f p50_ms=%.2f p99_ms=%.2f rejected=%llu\n", per_thread,
                double(acc) / elapsed, pct(lat, 0.5), pct(lat, 0.99), (unsigned long long)rej);
    if (!err.empty()) std::printf("last error: %s\n", err.c_str());
    return rej == 0 && err.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "monero_load: %s\n", e.what());
    return 1;
  }
}
