// The Stratum v1 client and the search threads. One network thread owns the connection
// (blocking sockets with poll, so stop() and fail-over stay simple); worker threads take the
// current job, each with its own extranonce2, and write found shares to the socket under a
// mutex. A new job bumps a generation counter that every worker checks between chunks.
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/crypto.h"
#include "miner/miner.h"

namespace otedama::miner {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

int connect_to(const PoolUrl& u, std::chrono::milliseconds timeout, std::string& error) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
  if (rc != 0) {
    error = std::string("cannot resolve ") + u.host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, int(timeout.count())) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) break;
        error = strerror(err);
      } else {
        error = "connect timed out";
      }
    } else {
      error = strerror(errno);
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

uint32_t parse_u32_hex(const json& j, const char* what) {
  if (!j.is_string()) throw std::invalid_argument(std::string(what) + " is not a hex string");
  std::string s = j.get<std::string>();
  if (s.empty() || s.size() > 8 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    throw std::invalid_argument(std::string(what) + " is not 8 hex digits");
  return uint32_t(std::stoul(s, nullptr, 16));
}

std::string hex32(uint32_t v) {
  char b[9];
  snprintf(b, sizeof b, "%08x", v);
  return b;
}

// Spreads the bits of k over the set bits of mask (lowest first), like PDEP.
uint32_t deposit_bits(uint32_t k, uint32_t mask) {
  uint32_t out = 0;
  for (uint32_t bit = 1; mask && k; bit <<= 1) {
    if (mask & bit) {
      if (k & 1) out |= bit;
      k >>= 1;
      mask &= ~bit;
    }
  }
  return out;
}

}  // namespace

struct Miner::Impl {
  MinerConfig cfg;
  std::vector<PoolUrl> urls;
  std::atomic<bool> stopping{false};

  // Connection state, written by the network thread.
  std::mutex write_mutex;
  int fd = -1;
  std::string extranonce1_hex;
  Bytes extranonce1;
  size_t extranonce2_size = 4;
  uint32_t version_mask = 0;

  // Work shared with the workers.
  struct Work {
    StratumJob job;
    Bytes extranonce1;
    size_t extranonce2_size;
    uint32_t version_mask;
    U256 target;
    double difficulty;
    uint64_t generation;
  };
  std::mutex work_mutex;
  std::shared_ptr<const Work> work;
  std::atomic<uint64_t> generation{0};
  std::atomic<uint64_t> extranonce2_counter{0};
  std::atomic<double> difficulty{1};

  // Stats.
  std::atomic<uint64_t> hashes{0}, accepted{0}, rejected{0}, jobs{0}, reconnects{0};
  mutable std::mutex stats_mutex;
  MinerStats last;
  std::string pool_name, last_error;

  std::mutex pending_mutex;
  std::map<uint64_t, std::string> pending;  // submit id -> job id
  std::atomic<uint64_t> next_id{10};

  explicit Impl(MinerConfig c) : cfg(std::move(c)) {
    if (cfg.urls.empty()) throw std::invalid_argument("at least one pool URL is needed");
    for (const auto& u : cfg.urls) {
      urls.push_back(parse_pool_url(u));
      if (urls.back().tls) throw std::invalid_argument("stratum+ssl is not supported by the built-in miner yet: " + u);
    }
    if (cfg.algo != "sha256d" && cfg.algo != "scrypt")
      throw std::invalid_argument("the Stratum v1 miner mines sha256d or scrypt, not '" + cfg.algo + "'");
    if (cfg.user.empty()) throw std::invalid_argument("--user ADDRESS.WORKER is required");
    if (cfg.threads == 0) cfg.threads = std::max(1u, std::thread::hardware_concurrency());
    crypto::make_algorithm(cfg.algo);  // fail early on an unusable kernel
  }

  void set_error(const std::string& e) {
    std::lock_guard lock(stats_mutex);
    last_error = e;
  }

  bool send_line(const json& msg) {
    std::string line = msg.dump() + "\n";
    std::lock_guard lock(write_mutex);
    if (fd < 0) return false;
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }

  void publish_work(StratumJob job) {
    auto w = std::make_shared<Work>();
    w->job = std::move(job);
    w->extranonce1 = extranonce1;
    w->extranonce2_size = extranonce2_size;
    w->version_mask = version_mask;
    w->difficulty = difficulty;
    w->target = share_target(cfg.algo, difficulty);
    w->generation = generation.load() + 1;
    std::lock_guard lock(work_mutex);
    work = std::move(w);
    generation.store(work->generation);
  }

  void clear_work() {
    std::lock_guard lock(work_mutex);
    work.reset();
    generation.fetch_add(1);
  }

  // Handles one line from the pool; false to drop the connection.
  bool handle_line(const std::string& line, const PoolUrl& url) {
    json msg;
    try {
      msg = json::parse(line);
    } catch (const std::exception& e) {
      set_error("pool sent malformed JSON: " + std::string(e.what()));
      return false;
    }
    if (!msg.is_object()) return false;
    if (msg.contains("method") && msg["method"].is_string()) {
      std::string method = msg["method"];
      const json& params = msg.value("params", json::array());
      try {
        if (method == "mining.notify") {
          if (!params.is_array() || params.size() < 9) throw std::invalid_argument("mining.notify needs 9 params");
          StratumJob job;
          job.id = params[0].get<std::string>();
          job.prevhash = stratum_prevhash_to_header(params[1].get<std::string>());
          job.coinb1 = from_hex(params[2].get<std::string>());
          job.coinb2 = from_hex(params[3].get<std::string>());
          for (const auto& b : params[4]) job.merkle_branch.push_back(hash_from_hex(b.get<std::string>()));
          job.version = parse_u32_hex(params[5], "version");
          job.nbits = parse_u32_hex(params[6], "nbits");
          job.ntime = parse_u32_hex(params[7], "ntime");
          job.clean = params[8].is_boolean() && params[8].get<bool>();
          jobs.fetch_add(1);
          publish_work(std::move(job));
        } else if (method == "mining.set_difficulty") {
          double d = params.at(0).get<double>();
          if (!(d > 0)) throw std::invalid_argument("difficulty must be positive");
          difficulty = d;  // applies from the next job, as the protocol says
        } else if (method == "mining.set_extranonce") {
          extranonce1 = from_hex(params.at(0).get<std::string>());
          extranonce2_size = params.at(1).get<size_t>();
        } else if (method == "mining.set_version_mask") {
          version_mask = parse_u32_hex(params.at(0), "version mask");
        } else if (method == "client.reconnect") {
          spdlog::info("miner: pool asked to reconnect");
          return false;
        } else if (method == "mining.ping") {
          send_line({{"id", msg["id"]}, {"result", "pong"}, {"error", nullptr}});
        } else if (method == "client.get_version") {
          send_line({{"id", msg["id"]}, {"result", "otedama/" + std::string(version())}, {"error", nullptr}});
        } else if (method == "client.show_message") {
          spdlog::info("miner: pool says: {}", params.dump());
        }
      } catch (const std::exception& e) {
        set_error("bad " + method + " from pool: " + e.what());
        spdlog::warn("miner: bad {} from {}:{}: {}", method, url.host, url.port, e.what());
      }
      return true;
    }
    // A reply.
    uint64_t id = msg.contains("id") && msg["id"].is_number_unsigned() ? msg["id"].get<uint64_t>() : 0;
    const json& error = msg.contains("error") ? msg["error"] : json();
    const json& result = msg.contains("result") ? msg["result"] : json();
    if (id == 1) {  // configure
      if (error.is_null() && result.is_object() && result.value("version-rolling", false))
        version_mask = uint32_t(std::stoul(result.value("version-rolling.mask", "0"), nullptr, 16));
    } else if (id == 2) {  // subscribe
      if (!error.is_null() || !result.is_array() || result.size() < 3) {
        set_error("subscribe refused: " + msg.dump());
        return false;
      }
      extranonce1_hex = result[1].get<std::string>();
      extranonce1 = from_hex(extranonce1_hex);
      extranonce2_size = result[2].get<size_t>();
      if (extranonce2_size == 0 || extranonce2_size > 16) {
        set_error("pool offers an unusable extranonce2 size");
        return false;
      }
    } else if (id == 3) {  // authorize
      if (!error.is_null() || !result.is_boolean() || !result.get<bool>()) {
        set_error("authorization refused: " + (error.is_null() ? std::string("false") : error.dump()));
        spdlog::error("miner: {}:{} refused worker {}: {}", url.host, url.port, cfg.user, error.dump());
        return false;
      }
    } else if (id >= 10) {
      {
        std::lock_guard lock(pending_mutex);
        pending.erase(id);
      }
      if (error.is_null() && result.is_boolean() && result.get<bool>()) {
        accepted.fetch_add(1);
      } else {
        rejected.fetch_add(1);
        std::string why = error.is_array() && error.size() > 1 ? error[1].dump() : error.dump();
        set_error("share rejected: " + why);
        spdlog::warn("miner: share rejected: {}", why);
      }
    }
    return true;
  }

  // One session with one pool; returns when it drops, stop() is called, or (on a backup pool)
  // the preferred pool answers again.
  void session(size_t index) {
    const PoolUrl& url = urls[index];
    std::string error;
    int s = connect_to(url, std::chrono::seconds(5), error);
    if (s < 0) {
      set_error("cannot connect to " + url.host + ":" + std::to_string(url.port) + ": " + error);
      return;
    }
    {
      std::lock_guard lock(write_mutex);
      fd = s;
    }
    {
      std::lock_guard lock(stats_mutex);
      pool_name = url.host + ":" + std::to_string(url.port);
    }
    spdlog::info("miner: connected to {}:{}", url.host, url.port);
    version_mask = 0;
    send_line({{"id", 1}, {"method", "mining.configure"},
               {"params", {json::array({"version-rolling"}), {{"version-rolling.mask", "1fffe000"}, {"version-rolling.min-bit-count", 2}}}}});
    send_line({{"id", 2}, {"method", "mining.subscribe"}, {"params", {"otedama/" + std::string(version())}}});
    send_line({{"id", 3}, {"method", "mining.authorize"}, {"params", {cfg.user, cfg.password}}});

    std::string buffer;
    char chunk[65536];
    auto connected_at = clock_type::now();
    auto next_probe = connected_at + std::chrono::seconds(15);
    bool ok = true;
    while (ok && !stopping) {
      pollfd p{s, POLLIN, 0};
      int r = poll(&p, 1, 200);
      if (r < 0 && errno != EINTR) break;
      if (r > 0) {
        ssize_t n = ::recv(s, chunk, sizeof chunk, 0);
        if (n <= 0) {
          set_error("pool closed the connection");
          break;
        }
        buffer.append(chunk, size_t(n));
        size_t pos;
        while (ok && (pos = buffer.find('\n')) != std::string::npos) {
          std::string line = buffer.substr(0, pos);
          buffer.erase(0, pos + 1);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (!line.empty()) ok = handle_line(line, url);
        }
        if (buffer.size() > cfg.max_line) {
          set_error("pool sent a line longer than " + std::to_string(cfg.max_line) + " bytes");
          break;
        }
      }
      // On a backup pool, go back to the preferred one as soon as it answers.
      if (index > 0 && clock_type::now() >= next_probe) {
        next_probe = clock_type::now() + std::chrono::seconds(15);
        std::string e;
        int probe = connect_to(urls[0], std::chrono::seconds(2), e);
        if (probe >= 0) {
          close(probe);
          spdlog::info("miner: preferred pool {}:{} is back", urls[0].host, urls[0].port);
          break;
        }
      }
    }
    clear_work();
    {
      std::lock_guard lock(write_mutex);
      close(fd);
      fd = -1;
    }
    {
      std::lock_guard lock(stats_mutex);
      pool_name.clear();
    }
    spdlog::info("miner: disconnected from {}:{}", url.host, url.port);
  }

  void network_loop() {
    auto backoff = cfg.reconnect_min;
    size_t index = 0;
    while (!stopping) {
      auto started = clock_type::now();
      session(index);
      if (stopping) break;
      reconnects.fetch_add(1);
      bool was_long = clock_type::now() - started > std::chrono::seconds(10);
      // After a long session go straight back to the preferred pool; else try the next one.
      index = was_long ? 0 : (index + 1) % urls.size();
      if (was_long) backoff = cfg.reconnect_min;
      if (index == 0 && !was_long) {
        auto until = clock_type::now() + backoff;
        while (!stopping && clock_type::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        backoff = std::min(backoff * 2, cfg.reconnect_max);
      }
    }
  }

  void worker(unsigned index) {
    auto algo = crypto::make_algorithm(cfg.algo);
    const uint64_t chunk = cfg.algo == "sha256d" ? (1u << 20) : 256;
    std::vector<crypto::Found> found;
    while (!stopping) {
      std::shared_ptr<const Work> w;
      {
        std::lock_guard lock(work_mutex);
        w = work;
      }
      if (!w) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      // A fresh extranonce2 for this thread; rolled versions extend it where the pool allows.
      uint64_t en2 = extranonce2_counter.fetch_add(1);
      Bytes extranonce2(w->extranonce2_size, 0);
      for (size_t i = 0; i < extranonce2.size() && i < 8; ++i) extranonce2[extranonce2.size() - 1 - i] = uint8_t(en2 >> (8 * i));
      unsigned rolls = w->version_mask ? 16 : 1;
      for (unsigned roll = 0; roll < rolls && generation.load() == w->generation && !stopping; ++roll) {
        uint32_t version = (w->job.version & ~w->version_mask) | deposit_bits(roll, w->version_mask);
        auto header = build_header(w->job, w->extranonce1, extranonce2, version, w->job.ntime, 0);
        crypto::Work cw;
        cw.blob.assign(header.begin(), header.end());
        cw.nonce_offset = 76;
        cw.target = w->target;
        for (uint64_t first = 0; first <= 0xffffffffull; first += chunk) {
          if (generation.load() != w->generation || stopping) break;
          uint64_t last = std::min<uint64_t>(first + chunk - 1, 0xffffffffull);
          hashes.fetch_add(algo->search(cw, first, last, found, &stopping));
          for (const auto& f : found) submit(*w, extranonce2, version, uint32_t(f.nonce));
          found.clear();
        }
      }
    }
  }

  void submit(const Work& w, const Bytes& extranonce2, uint32_t version, uint32_t nonce) {
    uint64_t id = next_id.fetch_add(1);
    json params = {cfg.user, w.job.id, to_hex(extranonce2), hex32(w.job.ntime), hex32(nonce)};
    if (w.version_mask) params.push_back(hex32(version & w.version_mask));
    {
      std::lock_guard lock(pending_mutex);
      pending[id] = w.job.id;
    }
    if (!send_line({{"id", id}, {"method", "mining.submit"}, {"params", params}})) {
      std::lock_guard lock(pending_mutex);
      pending.erase(id);
    }
  }

  MinerStats snapshot(double rate) const {
    MinerStats s;
    s.hashes = hashes.load();
    s.accepted = accepted.load();
    s.rejected = rejected.load();
    s.jobs = jobs.load();
    s.reconnects = reconnects.load();
    s.hashrate = rate;
    s.difficulty = difficulty;
    std::lock_guard lock(stats_mutex);
    s.pool = pool_name;
    s.last_error = last_error;
    return s;
  }
};

Miner::Miner(MinerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Miner::~Miner() { stop(); }

void Miner::stop() { impl_->stopping = true; }

MinerStats Miner::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->last;
}

void Miner::run(std::function<void(const MinerStats&)> report) {
  auto& m = *impl_;
  std::thread net([&] { m.network_loop(); });
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < m.cfg.threads; ++i) workers.emplace_back([&, i] { m.worker(i); });
  uint64_t last_hashes = 0;
  auto last_time = clock_type::now();
  auto next_report = last_time + m.cfg.report_interval;
  while (!m.stopping) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = clock_type::now();
    if (now < next_report) continue;
    uint64_t h = m.hashes.load();
    double rate = double(h - last_hashes) / std::chrono::duration<double>(now - last_time).count();
    last_hashes = h;
    last_time = now;
    next_report = now + m.cfg.report_interval;
    MinerStats s = m.snapshot(rate);
    {
      std::lock_guard lock(m.stats_mutex);
      m.last = s;
    }
    if (report) report(s);
  }
  net.join();
  for (auto& t : workers) t.join();
  MinerStats s = m.snapshot(0);
  std::lock_guard lock(m.stats_mutex);
  m.last = s;
}

}  // namespace otedama::miner
