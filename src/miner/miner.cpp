// The Stratum v1 client and the search threads. One network thread owns the connection
// (blocking sockets with poll, so stop() and fail-over stay simple); worker threads take the
// current job, each with its own extranonce2, and write found shares to the socket under a
// mutex. A new job bumps a generation counter that every worker checks between chunks.
// stratum+ssl runs OpenSSL over memory buffers on the same socket (TlsLink below).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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

// A TLS session on a connected non-blocking socket. OpenSSL works on memory buffers and this
// class moves the bytes with send(MSG_NOSIGNAL)/recv like the plain path, so a pool that goes
// away cannot SIGPIPE the miner. Not thread-safe: the caller serializes every call.
class TlsLink {
 public:
  TlsLink(SSL_CTX* ctx, int fd, const std::string& host) : fd_(fd) {
    ssl_ = SSL_new(ctx);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (!ssl_ || !in || !out) {
      BIO_free(in);
      BIO_free(out);
      SSL_free(ssl_);
      throw std::runtime_error("out of memory for a TLS session");
    }
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl_, in, out);
    SSL_set_connect_state(ssl_);
    in6_addr a6;
    in_addr a4;
    bool literal = inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
    if (!literal) SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI, for pools behind a TLS proxy
  }
  ~TlsLink() { SSL_free(ssl_); }
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  const std::string& error() const { return error_; }
  std::string version() const { return SSL_get_version(ssl_); }

  bool handshake(std::chrono::milliseconds timeout, const std::atomic<bool>& stopping) {
    auto deadline = clock_type::now() + timeout;
    for (;;) {
      ERR_clear_error();
      int r = SSL_do_handshake(ssl_);
      int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
      if (!flush()) return false;
      if (r == 1) return true;
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return fail(e);
      for (;;) {  // wait for the pool's answer
        if (stopping) return fail_with("stopping");
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        if (left.count() <= 0) return fail_with("TLS handshake timed out");
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, int(std::min<int64_t>(left.count(), 200))) > 0) break;
      }
      if (receive() <= 0) return false;
    }
  }

  // Encrypts and sends all of it; false when the connection is broken.
  bool write(const std::string& plain) {
    ERR_clear_error();
    if (SSL_write(ssl_, plain.data(), int(plain.size())) <= 0) return fail(SSL_get_error(ssl_, -1));
    return flush();
  }

  // What the socket has now, decrypted and appended to `out`. False: closed or broken.
  bool read(std::string& out) {
    long got = receive();
    if (got < 0) return true;  // nothing there yet
    if (got == 0) return false;
    char plain[16384];
    for (;;) {
      ERR_clear_error();
      int n = SSL_read(ssl_, plain, sizeof plain);
      if (n > 0) {
        out.append(plain, size_t(n));
        continue;
      }
      int e = SSL_get_error(ssl_, n);
      if (e == SSL_ERROR_WANT_READ) break;
      return fail(e);
    }
    return flush();  // e.g. the answer to a key update
  }

  void close_notify() {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    flush();
    ERR_clear_error();
  }

 private:
  // Ciphertext from the socket into OpenSSL: > 0 bytes, 0 closed (error_ set), -1 none yet.
  long receive() {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -1;
    if (n <= 0) {
      error_ = n == 0 ? "closed by the pool" : strerror(errno);
      return 0;
    }
    if (BIO_write(SSL_get_rbio(ssl_), buf, int(n)) != int(n)) {
      error_ = "cannot buffer TLS input";
      return 0;
    }
    return n;
  }

  // Sends what OpenSSL produced, waiting for a slow socket up to 5 s.
  bool flush() {
    BIO* out = SSL_get_wbio(ssl_);
    char buf[16384];
    while (BIO_ctrl_pending(out) > 0) {
      int n = BIO_read(out, buf, sizeof buf);
      if (n <= 0) break;
      size_t off = 0;
      while (off < size_t(n)) {
        ssize_t w = ::send(fd_, buf + off, size_t(n) - off, MSG_NOSIGNAL);
        if (w > 0) {
          off += size_t(w);
          continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          pollfd p{fd_, POLLOUT, 0};
          if (poll(&p, 1, 5000) > 0) continue;
          return fail_with("sending to the pool timed out");
        }
        return fail_with(strerror(errno));
      }
    }
    return true;
  }

  bool fail(int ssl_error) {
    if (ssl_error == SSL_ERROR_ZERO_RETURN) return fail_with("closed by the pool");
    unsigned long e = ERR_get_error();
    if (e == 0) return fail_with(error_.empty() ? "connection lost" : error_);
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return fail_with(buf);
  }
  bool fail_with(const std::string& why) {
    error_ = why;
    return false;
  }

  SSL* ssl_ = nullptr;
  int fd_;
  std::string error_;
};

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

  // Connection state, written by the network thread. write_mutex guards fd and tls; with TLS,
  // reads take it too (one OpenSSL session must not be used by two threads at once).
  std::mutex write_mutex;
  int fd = -1;
  std::unique_ptr<TlsLink> tls;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls_ctx{nullptr, &SSL_CTX_free};
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
      if (urls.back().tls && !tls_ctx) tls_ctx.reset(make_tls_context());
    }
    if (cfg.algo != "sha256d" && cfg.algo != "scrypt")
      throw std::invalid_argument("the Stratum v1 miner mines sha256d or scrypt, not '" + cfg.algo + "'");
    if (cfg.user.empty()) throw std::invalid_argument("--user ADDRESS.WORKER is required");
    if (cfg.threads == 0) cfg.threads = std::max(1u, std::thread::hardware_concurrency());
    crypto::make_algorithm(cfg.algo);  // fail early on an unusable kernel
  }

  // stratum+ssl: TLS 1.2 or later. The pool's certificate is not verified: pools commonly use
  // self-signed certificates, and shares carry no secret (the payout address is public).
  static SSL_CTX* make_tls_context() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) throw std::runtime_error("cannot create a TLS context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
  }

  void set_error(const std::string& e) {
    std::lock_guard lock(stats_mutex);
    last_error = e;
  }

  bool send_line(const json& msg) {
    std::string line = msg.dump() + "\n";
    std::lock_guard lock(write_mutex);
    if (fd < 0) return false;
    if (tls) return tls->write(line);
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
    std::unique_ptr<TlsLink> link;
    if (url.tls) {
      link = std::make_unique<TlsLink>(tls_ctx.get(), s, url.host);
      if (!link->handshake(std::chrono::seconds(10), stopping)) {
        set_error("TLS handshake with " + url.host + ":" + std::to_string(url.port) + " failed: " + link->error());
        spdlog::warn("miner: TLS handshake with {}:{} failed: {}", url.host, url.port, link->error());
        close(s);
        return;
      }
    }
    {
      std::lock_guard lock(write_mutex);
      fd = s;
      tls = std::move(link);
    }
    {
      std::lock_guard lock(stats_mutex);
      pool_name = url.host + ":" + std::to_string(url.port);
    }
    if (url.tls)
      spdlog::info("miner: connected to {}:{} over {}; the pool's certificate is not verified (self-signed "
                   "pool certificates are accepted)", url.host, url.port, tls->version());
    else
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
      if (r > 0 && url.tls) {
        std::unique_lock lock(write_mutex);
        if (!tls->read(buffer)) {
          set_error("pool closed the connection (TLS: " + tls->error() + ")");
          break;
        }
      } else if (r > 0) {
        ssize_t n = ::recv(s, chunk, sizeof chunk, 0);
        if (n <= 0) {
          set_error("pool closed the connection");
          break;
        }
        buffer.append(chunk, size_t(n));
      }
      if (r > 0) {
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
      if (tls) tls->close_notify();
      tls.reset();
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
