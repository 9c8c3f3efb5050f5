// Internal to the stratum module: the server's state and one connection (line framing, JSON-RPC,
// flood limits, bans, TLS, writes). server.cpp has the Stratum v1 methods and the Server;
// monero_session.cpp has the Monero-style methods (login/getjob/submit/keepalived).

#pragma once

// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "stratum/stratum.h"
#include "stratum/tls.h"

namespace otedama::stratum {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

namespace detail {

// The shares one session already sent on one job, for duplicate detection, kept as 64-bit
// fingerprints of (extranonce2, ntime, nonce, version) in an open-addressing table: 8 bytes a
// slot, at most half full, and no allocation per share (a node-based set of full keys took
// about 70 bytes and a malloc per share, and grew by tens of MB per minute at 20,000 shares/s).
// Equal shares always have equal fingerprints, so no duplicate gets through; two different
// shares collide with probability about n^2 / 2^65 for n shares on a job (a new share then
// reads as a duplicate of its own session's earlier one: at worst that miner loses one share).
// The per-session seed keeps collisions out of a miner's control.
class ShareFingerprints {
 public:
  static uint64_t fingerprint(uint64_t seed, uint64_t extranonce2, uint32_t ntime, uint32_t nonce, uint32_t version) {
    auto mix = [](uint64_t x) {  // splitmix64's finalizer: a bijection on 64 bits
      x ^= x >> 30;
      x *= 0xbf58476d1ce4e5b9ull;
      x ^= x >> 27;
      x *= 0x94d049bb133111ebull;
      return x ^ (x >> 31);
    };
    uint64_t h = mix(seed ^ extranonce2);
    h = mix(h ^ (uint64_t(ntime) << 32 | nonce));
    return mix(h ^ version);
  }

  // False when the fingerprint was there already.
  bool insert(uint64_t fp) {
    if (fp == 0) fp = 1;  // 0 marks a free slot
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = size_t(fp) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == fp) return false;
      if (slots_[i] == 0) {
        slots_[i] = fp;
        ++size_;
        return true;
      }
    }
  }

 private:
  void grow() {
    std::vector<uint64_t> old(std::max<size_t>(16, slots_.size() * 2), 0);
    old.swap(slots_);
    size_ = 0;
    for (uint64_t v : old)
      if (v) insert(v);
  }

  std::vector<uint64_t> slots_;  // power-of-two size
  size_t size_ = 0;
};

struct JobEntry {
  Job job;
  uint64_t seq = 0;  // server-wide send order; staleness compares these
  std::shared_ptr<const std::string> line;
};

// A job as one session received it: the difficulty and extranonce in force at that moment.
struct SentJob {
  std::shared_ptr<const JobEntry> entry;
  double difficulty = 0;
  std::array<uint8_t, 8> extranonce1{};
  uint8_t extranonce1_size = 0;
  uint8_t extranonce2_size = 0;
  ShareFingerprints seen;  // shares received on this job (dropped with it)
};

// Invalid-share ratio over a sliding window, kept in a few buckets (the window moves in
// steps of window/N).
struct ShareWindow {
  static constexpr int N = 8;
  std::array<int64_t, N> slot{};
  std::array<uint32_t, N> total{}, invalid{};

  void add(int64_t bucket, bool bad) {
    int i = int(bucket % N);
    if (slot[i] != bucket) slot[i] = bucket, total[i] = invalid[i] = 0;
    ++total[i];
    if (bad) ++invalid[i];
  }
  std::pair<uint32_t, uint32_t> sums(int64_t bucket) const {
    uint32_t t = 0, b = 0;
    for (int i = 0; i < N; ++i)
      if (slot[i] > bucket - N && slot[i] <= bucket) t += total[i], b += invalid[i];
    return {t, b};
  }
};

inline const char* error_text(int code) {
  switch (code) {
    case error::job_not_found: return "Job not found";
    case error::duplicate: return "Duplicate share";
    case error::low_difficulty: return "Low difficulty share";
    case error::unauthorized: return "Unauthorized worker";
    case error::not_subscribed: return "Not subscribed";
    default: return "Other/Unknown";
  }
}

inline bool is_hex(std::string_view s) {
  for (char c : s)
    if (!std::isxdigit((unsigned char)c)) return false;
  return true;
}

// Up to 8 bytes of hex into a byte array; false unless exactly `size` bytes of valid hex.
inline bool parse_hex_bytes(std::string_view s, size_t size, std::array<uint8_t, 8>& out) {
  if (s.size() != size * 2 || size > out.size()) return false;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < size; ++i) {
    int hi = v(s[2 * i]), lo = v(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

// BIP310 TMask: up to 8 hex digits.
inline bool parse_mask(std::string_view s, uint32_t& out) {
  if (s.empty() || s.size() > 8 || !is_hex(s)) return false;
  out = uint32_t(std::stoul(std::string(s), nullptr, 16));
  return true;
}

inline uint64_t pack(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

inline std::string hex_bytes(const uint8_t* p, size_t n) { return to_hex(ByteSpan(p, n)); }

inline std::string notification(std::string_view method, const std::string& params_json) {
  std::string s;
  s.reserve(40 + method.size() + params_json.size());
  s += "{\"id\":null,\"method\":\"";
  s += method;
  s += "\",\"params\":";
  s += params_json;
  s += "}\n";
  return s;
}

}  // namespace detail

using namespace detail;

struct Connection;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  asio::io_context& io;
  ServerConfig cfg;
  Handler* handler;  // null once the Server is gone
  tcp::acceptor acceptor;
  // stratum+ssl (listen_tls): a second port into the same sessions.
  tcp::acceptor tls_acceptor{io};
  asio::steady_timer tls_accept_retry{io};
  tls::Context tls_ctx;
  Counter* m_tls_failures = nullptr;
  asio::steady_timer sweep_timer;
  asio::steady_timer accept_retry;
  bool stopped = false;

  std::unordered_map<SessionId, std::shared_ptr<Connection>> sessions;
  std::unordered_set<uint64_t> extranonce1_in_use;
  uint64_t next_extranonce1 = 0;
  uint64_t fingerprint_seed = 0;  // per server; each session mixes in its id
  SessionId next_id = 1;
  std::unordered_map<std::string, Clock::time_point> bans;

  uint64_t job_seq = 0;
  std::shared_ptr<const JobEntry> current_job;
  std::unordered_map<std::string, uint64_t> recent_jobs;  // id -> seq, for "stale" vs "unknown"
  std::vector<std::string> recent_order;                  // ring of ids
  size_t recent_next = 0;

  // Metrics (handles live as long as the registry).
  Gauge& m_connections;
  Counter& m_connections_total;
  Counter& m_refused_full;
  Counter& m_refused_banned;
  Counter& m_accepted;
  Counter& m_stale;
  Counter& m_duplicate;
  Counter& m_low_difficulty;
  Counter& m_invalid;
  Counter& m_blocks;
  Counter& m_bans;
  Counter& m_protocol_errors;
  Histogram& m_check_seconds;

  Impl(asio::io_context& io_, ServerConfig c, Handler& h)
      : io(io_),
        cfg(std::move(c)),
        handler(&h),
        acceptor(io_),
        sweep_timer(io_),
        accept_retry(io_),
        m_connections(metrics().gauge("otedama_stratum_connections", "Open Stratum connections", {{"server", cfg.name}})),
        m_connections_total(metrics().counter("otedama_stratum_connections_total", "Stratum connections accepted",
                                              {{"server", cfg.name}})),
        m_refused_full(metrics().counter("otedama_stratum_refused_total", "Stratum connections refused",
                                         {{"server", cfg.name}, {"reason", "max_connections"}})),
        m_refused_banned(metrics().counter("otedama_stratum_refused_total", "Stratum connections refused",
                                           {{"server", cfg.name}, {"reason", "banned"}})),
        m_accepted(share_counter("accepted")),
        m_stale(share_counter("stale")),
        m_duplicate(share_counter("duplicate")),
        m_low_difficulty(share_counter("low_difficulty")),
        m_invalid(share_counter("invalid")),
        m_blocks(metrics().counter("otedama_stratum_block_candidates_total", "Shares that met the network target",
                                   {{"server", cfg.name}})),
        m_bans(metrics().counter("otedama_stratum_bans_total", "IPs banned for invalid shares", {{"server", cfg.name}})),
        m_protocol_errors(metrics().counter("otedama_stratum_protocol_errors_total",
                                            "Malformed, oversized or flooding input", {{"server", cfg.name}})),
        m_check_seconds(metrics().histogram("otedama_stratum_share_check_seconds", "Time in the share check",
                                            {1e-6, 4e-6, 16e-6, 64e-6, 256e-6, 1e-3, 4e-3, 16e-3, 64e-3},
                                            {{"server", cfg.name}})) {
    std::random_device rd;
    next_extranonce1 = (uint64_t(rd()) << 32) | rd();
    fingerprint_seed = (uint64_t(rd()) << 32) | rd();
    recent_order.resize(1024);
  }

  Counter& share_counter(const char* result) {
    return metrics().counter("otedama_stratum_shares_total", "Shares by result",
                             {{"server", cfg.name}, {"result", result}});
  }

  void accept(bool secure = false);
  void on_accept(tcp::socket socket, bool secure);
  void sweep();
  void schedule_sweep();
  std::vector<std::shared_ptr<Connection>> snapshot() const;
  bool allocate_extranonce1(size_t size, uint64_t& out);
  void remember_job(const std::shared_ptr<const JobEntry>& e);
  std::shared_ptr<const JobEntry> make_entry(Job job);
  bool banned(const std::string& ip, Clock::time_point now) const {
    auto it = bans.find(ip);
    return it != bans.end() && it->second > now;
  }
};

struct Connection final : Session, std::enable_shared_from_this<Connection> {
  struct Chunk {
    std::shared_ptr<const std::string> data;
    size_t offset;
  };

  std::shared_ptr<Server::Impl> server;
  tcp::socket socket;
  std::string partial;  // an incomplete line
  std::vector<Chunk> queue, inflight;
  std::vector<asio::const_buffer> buffers;
  size_t queued_bytes = 0;
  bool writing = false, closing = false, closed = false;
  bool has_job = false;
  Clock::time_point last_activity;
  Clock::time_point flood_start;
  uint32_t flood_count = 0;
  double sent_difficulty = -1;  // last set_difficulty sent; none yet
  uint32_t miner_version_mask = 0;
  uint64_t last_clean_seq = 0;
  std::vector<SentJob> jobs;  // oldest first
  std::unique_ptr<ShareWindow> window;
  std::unique_ptr<tls::Channel> channel;  // stratum+ssl sessions only
  std::string tls_early;                  // plaintext sent before the handshake finished

  // The request being answered.
  std::string req_id = "null";
  bool req_v2 = false;

  // Monero protocol (monero_session.cpp).
  struct SentMoneroJob {
    std::shared_ptr<const MoneroJob> job;
    ShareFingerprints seen;  // nonces received on this job
  };
  std::vector<SentMoneroJob> monero_jobs;  // oldest first
  std::vector<std::string> retired_jobs;   // ids replaced lately: their shares are "stale"
  std::string session_token;               // the login answer's "id"
  size_t pending_checks = 0;               // shares on worker threads

  Connection(std::shared_ptr<Server::Impl> s, tcp::socket sock) : server(std::move(s)), socket(std::move(sock)) {}

  const ServerConfig& cfg() const { return server->cfg; }

  void init(SessionId id, std::string ip, uint64_t extranonce1) {
    id_ = id;
    nonce_byte_ = uint8_t(id);  // NiceHash mode: consecutive sessions, different top bytes
    remote_ip_ = std::move(ip);
    extranonce1_size_ = uint8_t(cfg().extranonce1_size);
    for (size_t i = 0; i < extranonce1_size_; ++i) extranonce1_[extranonce1_size_ - 1 - i] = uint8_t(extranonce1 >> (8 * i));
    extranonce2_size_ = uint8_t(cfg().extranonce2_size);
    difficulty_ = clamp_difficulty(cfg().initial_difficulty);
  }

  void attach_tls(std::unique_ptr<tls::Channel> ch) {
    channel = std::move(ch);
    tls_ = true;
  }

  bool ready_for_jobs() const { return subscribed_ && authorized() && !closed && !closing; }
  bool monero() const { return cfg().protocol == Protocol::monero; }

  void handle_monero(const std::string& method, const json& req, Clock::time_point now);
  void on_login(const json& params);
  void on_getjob(const json& params);
  void on_monero_submit(const json& params, Clock::time_point now);
  void finish_monero_submit(std::string id, const ShareResult& r, Clock::time_point received, Clock::time_point t0);
  bool check_session_token(const json& params);
  std::string accept_monero_job(MoneroJob job);  // stores it; returns its JSON
  void push_monero_job(MoneroJob job);

  void change_version_mask(uint32_t pool_mask) {
    if (!version_rolling_ || closed) return;
    version_mask_ = pool_mask & miner_version_mask;
    send(notification("mining.set_version_mask", "[\"" + hex32(version_mask_) + "\"]"));
  }

  // ---- output ------------------------------------------------------------------------

  void send_shared(std::shared_ptr<const std::string> data) {
    if (closed || closing) return;
    if (channel) return send_tls(data->data(), data->size());
    size_t offset = 0;
    if (!writing && queue.empty()) {  // write at once when the socket takes it
      boost::system::error_code ec;
      offset = socket.write_some(asio::buffer(*data), ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return finish();
      if (offset == data->size()) return;
    }
    queued_bytes += data->size() - offset;
    queue.push_back({std::move(data), offset});
    if (queued_bytes > cfg().max_pending_write) {
      spdlog::warn("stratum {}: {} does not read its messages, dropping it", cfg().name, remote_ip_);
      return finish();
    }
    if (!writing) start_write();
  }

  void send(std::string s) {
    if (closed || closing) return;
    if (channel) return send_tls(s.data(), s.size());
    if (!writing && queue.empty()) {
      boost::system::error_code ec;
      size_t n = socket.write_some(asio::buffer(s), ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return finish();
      if (n == s.size()) return;
      s.erase(0, n);
    }
    send_shared(std::make_shared<const std::string>(std::move(s)));
  }

  void start_write() {
    writing = true;
    inflight.swap(queue);
    buffers.clear();
    for (auto& c : inflight) buffers.push_back(asio::buffer(c.data->data() + c.offset, c.data->size() - c.offset));
    asio::async_write(socket, buffers, [self = shared_from_this()](boost::system::error_code ec, size_t n) {
      self->writing = false;
      self->queued_bytes -= n;
      self->inflight.clear();
      if (ec) return self->finish();
      if (!self->queue.empty()) return self->start_write();
      if (self->closing) return self->finish();
      if (self->inflight.capacity() > 16) decltype(self->inflight)().swap(self->inflight);
      if (self->queue.capacity() > 16) decltype(self->queue)().swap(self->queue);
      if (self->buffers.capacity() > 16) decltype(self->buffers)().swap(self->buffers);
    });
  }

  // ---- TLS: plaintext through OpenSSL, ciphertext through the same socket code -----------

  void send_tls(const char* p, size_t n) {
    if (!channel->handshake_done()) {  // e.g. a handler's message on connect
      tls_early.append(p, n);
      return;
    }
    // Record-sized pieces: a job line of several MiB never makes OpenSSL's buffers grow.
    constexpr size_t piece = 16 * 1024;
    while (n > 0 && !closed) {
      size_t k = std::min(n, piece);
      if (!channel->write(p, k)) {
        spdlog::debug("stratum {}: TLS write to {} failed: {}", cfg().name, remote_ip_, channel->error());
        return finish();
      }
      flush_tls();
      p += k;
      n -= k;
    }
  }

  void flush_tls() {
    thread_local std::array<char, 32 * 1024> out;
    while (!closed) {
      size_t n = channel->take_output(out.data(), out.size());
      if (n == 0) return;
      send_ciphertext(out.data(), n);
    }
  }

  // Like send_shared, for bytes that are already encrypted (copied only when queued).
  void send_ciphertext(const char* p, size_t n) {
    size_t offset = 0;
    if (!writing && queue.empty()) {
      boost::system::error_code ec;
      offset = socket.write_some(asio::buffer(p, n), ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return finish();
      if (offset == n) return;
    }
    queued_bytes += n - offset;
    queue.push_back({std::make_shared<const std::string>(p + offset, n - offset), 0});
    if (queued_bytes > cfg().max_pending_write) {
      spdlog::warn("stratum {}: {} does not read its messages, dropping it", cfg().name, remote_ip_);
      return finish();
    }
    if (!writing) start_write();
  }

  void on_tls_readable() {
    thread_local std::array<char, 16 * 1024> cipher;
    boost::system::error_code ec;
    for (int round = 0; round < 16; ++round) {
      size_t n = socket.read_some(asio::buffer(cipher), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) return finish();  // eof or reset
      if (!channel->put_input(cipher.data(), n)) return finish();
      if (!tls_pump()) return;
      if (n < cipher.size()) break;
    }
    wait_read();
  }

  // The handshake while it is not done, then plaintext into the line splitter. False: the
  // session is closing.
  bool tls_pump() {
    if (!channel->handshake_done()) {
      auto step = channel->handshake();
      flush_tls();  // the handshake's own messages, or the alert of a failed one
      if (closed) return false;
      if (step == tls::Channel::Step::failed) {
        if (server->m_tls_failures) server->m_tls_failures->inc();
        spdlog::debug("stratum {}: TLS handshake with {} failed: {}", cfg().name, remote_ip_, channel->error());
        finish();
        return false;
      }
      if (step == tls::Channel::Step::again) return true;
      if (!tls_early.empty()) {
        std::string early;
        early.swap(tls_early);
        send_tls(early.data(), early.size());
        if (closed || closing) return false;
      }
    }
    thread_local std::array<char, 16 * 1024> plain;
    for (;;) {
      long n = channel->read(plain.data(), plain.size());
      if (n == 0) break;
      if (n < 0) {
        spdlog::debug("stratum {}: TLS session with {} ended: {}", cfg().name, remote_ip_, channel->error());
        finish();
        return false;
      }
      on_data(plain.data(), size_t(n));
      if (closed || closing) return false;
    }
    flush_tls();  // e.g. the answer to a TLS 1.3 key update
    return !closed;
  }

  void reply(std::string_view result_json) {
    std::string s;
    s.reserve(48 + req_id.size() + result_json.size());
    s += "{\"id\":";
    s += req_id;
    s += req_v2 ? ",\"jsonrpc\":\"2.0\",\"result\":" : ",\"result\":";
    s += result_json;
    s += req_v2 && !monero() ? "}\n" : ",\"error\":null}\n";
    send(std::move(s));
  }

  void reply_error(int code, std::string_view message = {}) {
    std::string msg = json(message.empty() ? std::string_view(error_text(code)) : message).dump();
    std::string s;
    s.reserve(64 + req_id.size() + msg.size());
    s += "{\"id\":";
    s += req_id;
    if (req_v2) {
      s += ",\"jsonrpc\":\"2.0\",\"error\":{\"code\":" + std::to_string(code) + ",\"message\":" + msg + "}}\n";
    } else {
      s += ",\"result\":null,\"error\":[" + std::to_string(code) + "," + msg + ",null]}\n";
    }
    send(std::move(s));
  }

  // ---- lifetime -------------------------------------------------------------------------

  void start() {
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    socket.set_option(tcp::no_delay(true), ec);
    last_activity = flood_start = Clock::now();
    wait_read();
  }

  // Flush what is queued, then close.
  void close_gracefully() {
    if (closed || closing) return;
    closing = true;
    if (!writing) finish();
  }

  void finish() {
    if (closed) return;
    auto self = shared_from_this();  // the map may hold the last reference
    closed = true;
    closing = true;
    boost::system::error_code ec;
    if (channel && !writing && queue.empty()) {  // TLS: close_notify, best effort
      std::array<char, 512> bye;
      channel->close_notify();
      if (size_t n = channel->take_output(bye.data(), bye.size())) socket.write_some(asio::buffer(bye.data(), n), ec);
    }
    // Read what the peer already sent: closing with unread input resets the connection, and
    // the peer could lose our last reply (e.g. "Line too long").
    for (int i = 0; i < 16; ++i) {
      thread_local std::array<char, 4096> sink;
      if (socket.read_some(asio::buffer(sink), ec) == 0 || ec) break;
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    server->extranonce1_in_use.erase(pack(extranonce1_.data(), extranonce1_size_));
    server->sessions.erase(id_);
    server->m_connections.set(double(server->sessions.size()));
    if (server->handler) server->handler->on_disconnect(*this);
  }

  // ---- input ---------------------------------------------------------------------------

  void wait_read() {
    socket.async_wait(tcp::socket::wait_read,
                      [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
  }

  void on_readable(boost::system::error_code ec) {
    if (closed || closing) return;
    if (ec) return finish();
    if (channel) return on_tls_readable();
    thread_local std::array<char, 64 * 1024> buf;
    for (int round = 0; round < 4; ++round) {
      size_t n = socket.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) return finish();  // eof or reset
      on_data(buf.data(), n);
      if (closed || closing) return;
      if (n < buf.size()) break;
    }
    wait_read();
  }

  void on_data(const char* p, size_t n) {
    const size_t max_line = cfg().max_line;
    while (n > 0 && !closed && !closing) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
      if (!nl) {
        if (partial.size() + n > max_line) return oversized();
        partial.append(p, n);
        return;
      }
      size_t len = size_t(nl - p);
      std::string_view line;
      if (!partial.empty()) {
        if (partial.size() + len > max_line) return oversized();
        partial.append(p, len);
        line = partial;
      } else {
        if (len > max_line) return oversized();
        line = std::string_view(p, len);
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) handle_line(line);
      partial.clear();
      p = nl + 1;
      n -= len + 1;
    }
    if (partial.empty() && partial.capacity() > 256) std::string().swap(partial);
  }

  void oversized() {
    server->m_protocol_errors.inc();
    spdlog::info("stratum {}: line over {} bytes from {}, disconnecting", cfg().name, cfg().max_line, remote_ip_);
    req_id = "null";
    req_v2 = monero();
    reply_error(monero() ? -1 : error::other, "Line too long");
    close_gracefully();
  }

  bool flooding(Clock::time_point now) {
    if (cfg().max_messages_per_second == 0) return false;
    if (now - flood_start >= std::chrono::seconds(1)) flood_start = now, flood_count = 0;
    return ++flood_count > cfg().max_messages_per_second;
  }

  void handle_line(std::string_view line) {
    auto now = Clock::now();
    last_activity = now;
    req_id = "null";
    req_v2 = monero();
    if (flooding(now)) {
      server->m_protocol_errors.inc();
      spdlog::info("stratum {}: {} sends more than {} messages/s, disconnecting", cfg().name, remote_ip_,
                   cfg().max_messages_per_second);
      reply_error(monero() ? -1 : error::other, "Too many messages");
      return close_gracefully();
    }
    json req = json::parse(line, nullptr, false);
    if (req.is_discarded()) {
      server->m_protocol_errors.inc();
      return reply_error(error::parse_error, "Parse error");
    }
    if (!req.is_object()) return reply_error(error::invalid_request, "Invalid request");
    if (auto it = req.find("id"); it != req.end()) {
      if (it->is_number() || it->is_string() || it->is_null()) req_id = it->dump();
      else return reply_error(error::invalid_request, "Invalid request: bad id");
    }
    if (auto it = req.find("jsonrpc"); it != req.end() && it->is_string() && *it == "2.0") req_v2 = true;
    auto m = req.find("method");
    if (m == req.end()) {
      if (req.contains("result") || req.contains("error")) return;  // a reply to our request
      return reply_error(error::invalid_request, "Invalid request: no method");
    }
    if (!m->is_string()) return reply_error(error::invalid_request, "Invalid request: method is not a string");
    if (monero()) {
      req_v2 = true;  // Monero miners speak JSON-RPC 2.0 whether or not they say so
      return handle_monero(m->get_ref<const std::string&>(), req, now);
    }
    static const json empty = json::array();
    const json* params = &empty;
    if (auto p = req.find("params"); p != req.end() && !p->is_null()) {
      if (!p->is_array()) return reply_error(error::invalid_params, "Invalid params: not an array");
      params = &*p;
    }
    const std::string& method = m->get_ref<const std::string&>();
    if (method == "mining.submit") return on_submit(*params, now);
    if (method == "mining.subscribe") return on_subscribe(*params);
    if (method == "mining.authorize") return on_authorize(*params);
    if (method == "mining.configure") return on_configure(*params);
    if (method == "mining.suggest_difficulty") return on_suggest_difficulty(*params);
    if (method == "mining.extranonce.subscribe") {
      extranonce_subscribed_ = true;
      return reply("true");
    }
    if (method == "mining.ping") return reply("\"pong\"");
    if (method == "client.get_version")
      return reply(json(cfg().software + "/" + std::string(otedama::version())).dump());
    reply_error(error::method_not_found, "Method not found: " + method.substr(0, 64));
  }

  // ---- methods -------------------------------------------------------------------------

  void on_subscribe(const json& params) {
    if (!params.empty() && params[0].is_string()) user_agent_ = params[0].get<std::string>().substr(0, 128);
    subscribed_ = true;
    char sid[17];
    std::snprintf(sid, sizeof sid, "%016llx", (unsigned long long)id_);
    std::string r = "[[[\"mining.set_difficulty\",\"";
    r += sid;
    r += "\"],[\"mining.notify\",\"";
    r += sid;
    r += "\"]],\"" + extranonce1_hex() + "\"," + std::to_string(extranonce2_size_) + "]";
    reply(r);
    if (authorized()) send_first_job();
  }

  void on_authorize(const json& params) {
    if (params.empty() || !params[0].is_string() || (params.size() > 1 && !params[1].is_string() && !params[1].is_null()))
      return reply_error(error::invalid_params, "Invalid params: expected [user, password]");
    const std::string& user = params[0].get_ref<const std::string&>();
    if (user.empty() || user.size() > 256) return reply_error(error::invalid_params, "Invalid params: bad user name");
    std::string password = params.size() > 1 && params[1].is_string() ? params[1].get<std::string>() : "";
    WorkerName name = parse_worker_name(user);
    std::string id = req_id;  // the handler may send things of its own
    bool v2 = req_v2;
    AuthResult r = server->handler ? server->handler->authorize(*this, name, password) : AuthResult{false, "stopping"};
    if (closed || closing) return;
    req_id = id;
    req_v2 = v2;
    if (!r.ok) return reply_error(error::unauthorized, r.error.empty() ? std::string_view() : r.error);
    if (std::find(workers_.begin(), workers_.end(), user) == workers_.end()) workers_.push_back(user);
    if (name.fixed_difficulty) set_fixed_difficulty(*name.fixed_difficulty);
    reply("true");
    if (subscribed_) send_first_job();
  }

  void on_configure(const json& params) {
    if (params.empty() || !params[0].is_array() || (params.size() > 1 && !params[1].is_object()))
      return reply_error(error::invalid_params, "Invalid params: expected [[extensions], {parameters}]");
    static const json no_params = json::object();
    const json& p = params.size() > 1 ? params[1] : no_params;
    json result = json::object();
    for (const auto& ext : params[0]) {
      if (!ext.is_string()) return reply_error(error::invalid_params, "Invalid params: extension names are strings");
      const std::string& name = ext.get_ref<const std::string&>();
      if (name == "version-rolling") {
        uint32_t miner_mask = 0xffffffff;
        if (auto it = p.find("version-rolling.mask"); it != p.end())
          if (!it->is_string() || !parse_mask(it->get_ref<const std::string&>(), miner_mask))
            return reply_error(error::invalid_params, "Invalid params: version-rolling.mask");
        int min_bits = 0;
        if (auto it = p.find("version-rolling.min-bit-count"); it != p.end()) {
          if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 32)
            return reply_error(error::invalid_params, "Invalid params: version-rolling.min-bit-count");
          min_bits = it->get<int>();
        }
        uint32_t mask = cfg().version_mask & miner_mask;
        miner_version_mask = miner_mask;
        bool ok = mask != 0 && std::popcount(mask) >= min_bits;
        version_rolling_ = ok;
        version_mask_ = ok ? mask : 0;
        result["version-rolling"] = ok;
        if (ok) result["version-rolling.mask"] = hex32(mask);
      } else if (name == "minimum-difficulty") {
        auto it = p.find("minimum-difficulty.value");
        if (it == p.end() || !it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0) {
          result[name] = false;
          continue;
        }
        miner_min_difficulty_ = std::clamp(it->get<double>(), 0.0, cfg().max_difficulty);
        if (difficulty_ < miner_min_difficulty_) set_difficulty(miner_min_difficulty_);
        result[name] = true;
      } else if (name == "subscribe-extranonce") {
        extranonce_subscribed_ = true;
        result[name] = true;
      } else {
        result[name] = false;
      }
    }
    reply(result.dump());
  }

  void on_suggest_difficulty(const json& params) {
    if (params.empty() || !params[0].is_number() || !std::isfinite(params[0].get<double>()) || params[0].get<double>() <= 0)
      return reply_error(error::invalid_params, "Invalid params: expected [difficulty > 0]");
    set_fixed_difficulty(params[0].get<double>());
    reply("true");
  }

  // A rejection found by the server; stale shares do not count against the miner.
  void reject(int code, std::string_view message, Clock::time_point now, bool counts = true) {
    if (server->handler) server->handler->on_rejected(*this, code, message.empty() ? error_text(code) : message);
    if (closed || closing) return;
    reply_error(code, message);
    if (counts) record_share(now, false);
  }

  void on_submit(const json& params, Clock::time_point now) {
    if (!subscribed_) {
      server->m_invalid.inc();
      return reject(error::not_subscribed, {}, now);
    }
    if (params.size() < 5 || params.size() > 6 ||
        !std::all_of(params.begin(), params.end(), [](const json& j) { return j.is_string(); })) {
      server->m_invalid.inc();
      return reject(error::invalid_params, "Invalid params: expected 5 or 6 strings", now);
    }
    const std::string& worker = params[0].get_ref<const std::string&>();
    if (!is_authorized(worker)) {
      server->m_invalid.inc();
      return reject(error::unauthorized, {}, now);
    }
    const std::string& job_id = params[1].get_ref<const std::string&>();
    SentJob* sent = nullptr;
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it)
      if (it->entry->job.id == job_id) {
        sent = &*it;
        break;
      }
    if (!sent) {
      if (server->recent_jobs.count(job_id)) {  // known, but replaced by a clean job or aged out
        server->m_stale.inc();
        return reject(error::job_not_found, "Stale share: job replaced", now, false);
      }
      server->m_invalid.inc();
      return reject(error::job_not_found, {}, now);
    }
    const Job& job = sent->entry->job;
    std::array<uint8_t, 8> en2{};
    const std::string& en2_hex = params[2].get_ref<const std::string&>();
    if (!parse_hex_bytes(en2_hex, sent->extranonce2_size, en2)) {
      server->m_invalid.inc();
      return reject(error::other, en2_hex.size() != size_t(sent->extranonce2_size) * 2 ? "Invalid extranonce2 size"
                                                                                     : "Invalid extranonce2",
                    now);
    }
    uint32_t ntime = 0, nonce = 0, bits = 0;
    if (!parse_hex32(params[3].get_ref<const std::string&>(), ntime)) {
      server->m_invalid.inc();
      return reject(error::other, "Invalid ntime", now);
    }
    if (ntime < job.ntime || ntime - job.ntime > cfg().max_ntime_ahead) {
      server->m_invalid.inc();
      return reject(error::other, "Ntime out of range", now);
    }
    if (!parse_hex32(params[4].get_ref<const std::string&>(), nonce)) {
      server->m_invalid.inc();
      return reject(error::other, "Invalid nonce", now);
    }
    uint32_t version = job.version;
    if (params.size() == 6) {
      if (!parse_mask(params[5].get_ref<const std::string&>(), bits)) {
        server->m_invalid.inc();
        return reject(error::other, "Invalid version bits", now);
      }
      uint32_t mask = version_rolling_ ? version_mask_ : 0;
      if ((bits & ~mask) == 0) {
        version = (job.version & ~mask) | (bits & mask);  // BIP310: the rolled bits
      } else if (((bits ^ job.version) & ~mask) == 0) {
        version = bits;  // some firmwares send the whole nVersion
      } else {
        server->m_invalid.inc();
        return reject(error::other, "Version bits outside the mask", now);
      }
    }
    uint64_t seed = server->fingerprint_seed ^ (id_ * 0x9e3779b97f4a7c15ull);
    if (!sent->seen.insert(ShareFingerprints::fingerprint(seed, pack(en2.data(), sent->extranonce2_size), ntime, nonce,
                                                          version))) {
      server->m_duplicate.inc();
      return reject(error::duplicate, {}, now);
    }

    // Everything the handler sees is copied out: it may send jobs to this session meanwhile.
    auto entry = sent->entry;
    double difficulty = sent->difficulty;
    std::array<uint8_t, 8> en1 = sent->extranonce1;
    size_t en1_size = sent->extranonce1_size, en2_size = sent->extranonce2_size;
    U256 target = target_from_difficulty(difficulty, cfg().diff1_target);
    ShareSubmission share{entry->job,
                          worker,
                          ByteSpan(en1.data(), en1_size),
                          ByteSpan(en2.data(), en2_size),
                          ntime,
                          nonce,
                          version,
                          difficulty,
                          target};
    std::string id = req_id;
    bool v2 = req_v2;
    if (!server->handler) return;
    auto t0 = Clock::now();
    ShareResult r = server->handler->check_share(*this, share);
    server->m_check_seconds.observe(std::chrono::duration<double>(Clock::now() - t0).count());
    if (closed || closing) return;
    req_id = id;
    req_v2 = v2;
    if (r.valid && r.defer_ack) {  // e.g. "true" only once the share is durable
      r.defer_ack([self = shared_from_this(), id = std::move(id), v2, block = r.block_candidate, now] {
        asio::post(self->server->io, [self, id, v2, block, now] {
          if (self->closed || self->closing) return;
          self->req_id = id;
          self->req_v2 = v2;
          self->accept_share(block, now);
        });
      });
      return;
    }
    if (r.valid) {
      accept_share(r.block_candidate, now);
    } else {
      (r.error_code == error::low_difficulty ? server->m_low_difficulty : server->m_invalid).inc();
      reply_error(r.error_code ? r.error_code : error::other, r.error_message);
      record_share(now, false);
    }
  }

  void accept_share(bool block_candidate, Clock::time_point now) {
    server->m_accepted.inc();
    if (block_candidate) server->m_blocks.inc();
    reply("true");
    record_share(now, true);
  }

  bool is_authorized(const std::string& worker) const {
    for (const auto& w : workers_)
      if (w == worker) return true;
    if (workers_.empty()) return false;
    std::string user = parse_worker_name(worker).user;
    for (const auto& w : workers_)
      if (parse_worker_name(w).user == user) return true;
    return false;
  }

  void record_share(Clock::time_point now, bool valid) {
    if (cfg().ban_duration.count() <= 0 || closed || closing) return;
    if (!window) window = std::make_unique<ShareWindow>();
    auto width = std::max<int64_t>(1, cfg().ban_window.count() / ShareWindow::N);
    int64_t bucket = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() / width;
    window->add(bucket, !valid);
    auto [total, bad] = window->sums(bucket);
    if (total >= cfg().ban_min_shares && double(bad) > cfg().ban_invalid_ratio * double(total)) {
      server->m_bans.inc();
      spdlog::warn("stratum {}: banning {} for {}: {} of its last {} shares were invalid", cfg().name, remote_ip_,
                   format_duration(cfg().ban_duration), bad, total);
      server->bans[remote_ip_] = now + cfg().ban_duration;
      req_id = "null";
      req_v2 = false;
      close_gracefully();
    }
  }

  // ---- jobs ----------------------------------------------------------------------------

  void send_first_job() {
    if (!has_job && server->current_job) send_job(server->current_job);
  }

  void send_job(const std::shared_ptr<const JobEntry>& e) {
    if (closed || closing) return;
    if (sent_difficulty != difficulty_) {
      send(notification("mining.set_difficulty", "[" + difficulty_json(difficulty_) + "]"));
      sent_difficulty = difficulty_;
    }
    if (e->job.clean) {
      jobs.clear();
      last_clean_seq = e->seq;
    } else if (jobs.size() >= cfg().max_jobs_per_session) {
      jobs.erase(jobs.begin());
    }
    SentJob s;
    s.entry = e;
    s.difficulty = difficulty_;
    s.extranonce1 = extranonce1_;
    s.extranonce1_size = extranonce1_size_;
    s.extranonce2_size = extranonce2_size_;
    jobs.push_back(std::move(s));
    has_job = true;
    send_shared(e->line);
  }

  double clamp_difficulty(double d) const {
    double lo = std::max(cfg().min_difficulty, miner_min_difficulty_), hi = cfg().max_difficulty;
    if (!(d > 0) || !std::isfinite(d)) d = lo;
    return std::clamp(d, std::min(lo, hi), hi);
  }
};

}  // namespace otedama::stratum
