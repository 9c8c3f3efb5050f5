// The peer network: accept and dial, the handshake with its proof-of-work challenge, keep-alive,
// peer exchange, ban scores and bans (docs/p2p.md, "Wire protocol").
//
// Everything that touches connections runs on one strand. The maps (peers, bans, addresses) are
// also read by the thread-safe public methods, so the strand writes them under `mu`; handler
// callbacks run without `mu` held (a handler may call send()) but under `callback_mu`, which
// stop() takes once so that no callback is still running when it returns.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <random>
#include <set>

#include "p2p/net.h"

namespace otedama::p2p {

namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string short_id(const Hash256& id) { return to_hex({id.data(), 4}); }

Hash256 random_hash() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  Hash256 h;
  for (size_t i = 0; i < 32; i += 8) {
    uint64_t v = rng();
    std::memcpy(h.data() + i, &v, 8);
  }
  return h;
}

uint64_t random_u64() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

struct Hello {
  uint32_t version = 0;
  Hash256 network_id{};
  Hash256 node_id{};
  uint16_t listen_port = 0, stratum_port = 0;
  uint64_t nonce = 0;
  std::string user_agent;
};

Bytes encode_hello(const Hello& h) {
  WireWriter w;
  w.u32(h.version).raw(h.network_id).raw(h.node_id).u16(h.listen_port).u16(h.stratum_port).u64(h.nonce);
  w.str8(h.user_agent.size() > kMaxUserAgent ? h.user_agent.substr(0, kMaxUserAgent) : h.user_agent);
  return w.take();
}

Hello decode_hello(ByteSpan p) {
  WireReader r(p);
  Hello h;
  h.version = r.u32("hello.version");
  h.network_id = r.array<32>("hello.network_id");
  h.node_id = r.array<32>("hello.node_id");
  h.listen_port = r.u16("hello.listen_port");
  h.stratum_port = r.u16("hello.stratum_port");
  h.nonce = r.u64("hello.nonce");
  h.user_agent = r.str8("hello.user_agent");
  r.finish("hello");
  return h;
}

struct Challenge {
  uint32_t version = 0;
  Hash256 network_id{};
  Hash256 challenge{};
  uint8_t bits = 0;
};

Bytes encode_challenge(const Challenge& c) {
  WireWriter w;
  w.u32(c.version).raw(c.network_id).raw(c.challenge).u8(c.bits);
  return w.take();
}

Challenge decode_challenge(ByteSpan p) {
  WireReader r(p);
  Challenge c;
  c.version = r.u32("challenge.version");
  c.network_id = r.array<32>("challenge.network_id");
  c.challenge = r.array<32>("challenge.challenge");
  c.bits = r.u8("challenge.bits");
  r.finish("challenge");
  return c;
}

const char* reject_text(uint8_t code) {
  switch (code) {
    case kRejectNetwork: return "another network";
    case kRejectVersion: return "another protocol version";
    case kRejectFull: return "peer is full";
    case kRejectDuplicate: return "already connected";
    case kRejectSelf: return "connected to itself";
    case kRejectBanned: return "banned";
    case kRejectProofOfWork: return "proof of work refused";
  }
  return "unknown reason";
}

}  // namespace

struct Peer {
  enum class State { connecting, awaiting_challenge, solving, awaiting_hello, ready };
  PeerId id = 0;
  State state = State::connecting;
  bool inbound = false;
  std::string dial_key;  // outbound: the address dialed
  std::shared_ptr<tcp::socket> connecting_socket;
  std::shared_ptr<FramedConnection> conn;
  Clock::time_point started = Clock::now();
  Hash256 challenge{};  // inbound: what we asked
  uint8_t challenge_bits = 0;
  std::shared_ptr<std::atomic<bool>> pow_stop;
  // Ping.
  uint64_t ping_nonce = 0;
  Clock::time_point ping_sent{};
  bool ping_outstanding = false;
  Clock::time_point last_addr_answer{};
  bool punished = false;
  PeerInfo info;  // written under mu
};

struct KnownAddress {
  Clock::time_point next_try{};
  int failures = 0;
  bool seed = false;
  bool self = false;  // dialing it reached this node
};

struct BanEntry {
  BanInfo info;
  Clock::time_point expires;
};

struct Network::Impl : std::enable_shared_from_this<Network::Impl> {
  Impl(asio::io_context& io_, NetConfig config_, Handler& handler_)
      : io(io_), strand(asio::make_strand(io_)), config(std::move(config_)), handler(handler_),
        magic(network_magic(config.network_id)), acceptor(strand), tick_timer(strand), resolver(strand) {}

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;
  NetConfig config;
  Handler& handler;
  Magic magic;
  tcp::acceptor acceptor;
  asio::steady_timer tick_timer;
  tcp::resolver resolver;
  asio::thread_pool pow_pool{1};
  std::atomic<bool> started{false}, stopped{false};
  std::atomic<uint16_t> bound_port{0};
  PeerId next_id = 1;
  Clock::time_point last_getaddr = Clock::now();

  mutable std::mutex mu;
  std::map<PeerId, std::shared_ptr<Peer>> peers;
  std::map<std::string, BanEntry> bans;  // by IP or node id hex
  std::map<std::string, KnownAddress> addresses;
  std::recursive_mutex callback_mu;

  std::string tag(const Peer& p) const {
    std::string s = "p2p peer #" + std::to_string(p.id) + " ";
    if (p.conn) s += join_host_port(p.conn->remote_ip(), p.conn->remote_port());
    else s += p.dial_key;
    if (p.state == Peer::State::ready) s += " (" + short_id(p.info.node_id) + ")";
    return s;
  }

  template <class F>
  void callback(F f) {
    std::lock_guard g(callback_mu);
    if (stopped) return;
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("p2p: a handler threw: {}", e.what());
    }
  }

  // ---- limits ----

  std::optional<size_t> limit_for(const Peer& p, uint8_t type) const {
    if (type >= kFirstAppType) {
      if (p.state != Peer::State::ready) return std::nullopt;
      if (config.app_message_limits.empty()) return config.max_message;
      auto it = config.app_message_limits.find(type);
      if (it == config.app_message_limits.end()) return std::nullopt;
      return std::min(it->second, config.max_message);
    }
    switch (p.state) {
      case Peer::State::connecting: return std::nullopt;
      case Peer::State::awaiting_challenge:
        if (type == kChallenge || type == kReject) return kControlMessageLimit;
        return std::nullopt;
      case Peer::State::solving:
      case Peer::State::awaiting_hello:
        if (type == kReject) return kControlMessageLimit;
        if (type == kHello && p.state == Peer::State::awaiting_hello) return kControlMessageLimit;
        // A full listener sends addresses before its reject.
        if (type == kAddr && !p.inbound) return kControlMessageLimit;
        return std::nullopt;
      case Peer::State::ready:
        if (type == kPing || type == kPong || type == kGetAddr || type == kAddr || type == kReject)
          return kControlMessageLimit;
        return std::nullopt;
    }
    return std::nullopt;
  }

  // ---- bans ----

  void prune_bans_locked() {
    auto now = Clock::now();
    for (auto it = bans.begin(); it != bans.end();)
      it = it->second.expires <= now ? bans.erase(it) : std::next(it);
  }

  bool banned_locked(const std::string& key) {
    auto it = bans.find(key);
    if (it == bans.end()) return false;
    if (it->second.expires <= Clock::now()) {
      bans.erase(it);
      return false;
    }
    return true;
  }

  bool ip_bannable(const FramedConnection& c) const { return !c.remote_is_loopback() || config.ban_loopback_ip; }

  void add_ban_locked(const std::string& key, bool by_node, std::chrono::milliseconds duration, const std::string& why) {
    if (bans.size() >= 10000 && !bans.count(key)) {
      prune_bans_locked();
      if (bans.size() >= 10000) {
        auto soonest = std::min_element(bans.begin(), bans.end(),
                                        [](auto& a, auto& b) { return a.second.expires < b.second.expires; });
        bans.erase(soonest);
      }
    }
    BanEntry e;
    e.info.what = key;
    e.info.by_node = by_node;
    e.info.until_unix = unix_now() + std::chrono::duration_cast<std::chrono::seconds>(duration).count();
    e.info.reason = why;
    e.expires = Clock::now() + duration;
    bans[key] = e;
  }

  // Drops and bans: by IP, except loopback (all test nodes share 127.0.0.1), where it is by
  // node id once the handshake told it (before that there is nothing to ban).
  void punish(const std::shared_ptr<Peer>& p, const std::string& why) {
    std::string key;
    bool by_node = false;
    {
      std::lock_guard g(mu);
      if (p->conn && ip_bannable(*p->conn)) {
        key = p->conn->remote_ip();
      } else if (p->info.node_id != Hash256{}) {
        key = to_hex(p->info.node_id);
        by_node = true;
      }
      if (!key.empty()) add_ban_locked(key, by_node, config.ban_time, why);
      p->info.ban_score = std::max(p->info.ban_score, 100);
      p->punished = true;
    }
    if (key.empty())
      spdlog::warn("{} dropped: {} (loopback before its handshake: nothing to ban)", tag(*p), why);
    else
      spdlog::warn("{} banned for {}: {}", tag(*p), format_duration(config.ban_time), why);
    if (p->conn) p->conn->close(why, true);
  }

  void add_score(const std::shared_ptr<Peer>& p, int score, const std::string& why) {
    int total;
    {
      std::lock_guard g(mu);
      p->info.ban_score = std::min(p->info.ban_score + std::max(score, 0), 1000);
      total = p->info.ban_score;
    }
    if (total >= 100) punish(p, why);
    else spdlog::info("{} misbehaving (+{}, score {}): {}", tag(*p), score, total, why);
  }

  // ---- lifecycle ----

  void start() {
    if (config.listen) {
      tcp::endpoint ep;
      try {
        ep = tcp::endpoint(asio::ip::make_address(config.listen_host), config.listen_port);
      } catch (const std::exception&) {
        throw std::runtime_error("p2p: listen address '" + config.listen_host + "' is not an IP address");
      }
      boost::system::error_code ec;
      acceptor.open(ep.protocol(), ec);
      if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acceptor.bind(ep, ec);
      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (ec)
        throw std::runtime_error("p2p: cannot listen on " + join_host_port(config.listen_host, config.listen_port) +
                                 ": " + ec.message());
      bound_port = acceptor.local_endpoint().port();
    }
    {
      std::lock_guard g(mu);
      for (const auto& s : config.seeds) {
        auto& a = addresses[s];
        a.seed = true;
      }
    }
    started = true;
    auto self = shared_from_this();
    asio::post(strand, [self] {
      if (self->stopped) return;
      if (self->acceptor.is_open()) self->accept();
      self->tick();
    });
  }

  void shutdown_all() {
    boost::system::error_code ec;
    acceptor.close(ec);
    tick_timer.cancel();
    resolver.cancel();
    std::vector<std::shared_ptr<Peer>> all;
    {
      std::lock_guard g(mu);
      for (auto& [id, p] : peers) all.push_back(p);
      peers.clear();
    }
    for (auto& p : all) {
      if (p->pow_stop) *p->pow_stop = true;
      if (p->connecting_socket) p->connecting_socket->close(ec);
      if (p->conn) p->conn->close("stopping");
    }
    pow_pool.stop();
  }

  // ---- accepting ----

  void accept() {
    auto self = shared_from_this();
    // The acceptor lives on the strand, so the accepted socket does too.
    acceptor.async_accept([self](boost::system::error_code ec, tcp::socket socket) {
      if (self->stopped || !self->acceptor.is_open()) return;
      if (!ec) {
        self->on_accepted(std::move(socket));
      } else if (ec != asio::error::operation_aborted) {
        spdlog::warn("p2p: accept failed: {}", ec.message());
      }
      self->accept();
    });
  }

  void on_accepted(tcp::socket socket) {
    auto conn = std::make_shared<FramedConnection>(std::move(socket), magic, config.max_send_queue);
    {
      std::lock_guard g(mu);
      if (ip_bannable(*conn) && banned_locked(conn->remote_ip())) {
        conn->close("banned IP");
        return;
      }
    }
    // Pending handshakes are capped; a flood of connections that never answer the challenge
    // pushes out the oldest pending ones rather than honest newcomers.
    std::shared_ptr<Peer> oldest;
    size_t pending = 0, pending_same_ip = 0;
    {
      std::lock_guard g(mu);
      for (auto& [id, p] : peers)
        if (p->inbound && p->state != Peer::State::ready) {
          ++pending;
          if (p->conn && p->conn->remote_ip() == conn->remote_ip()) ++pending_same_ip;
          if (!oldest || p->started < oldest->started) oldest = p;
        }
    }
    // One address gets a few pending slots at most, so that one attacker cannot push everyone
    // else's handshakes out (loopback is exempt: every test node shares it).
    if (!conn->remote_is_loopback() && pending_same_ip >= config.max_pending_per_ip) {
      conn->close("too many pending handshakes from " + conn->remote_ip());
      return;
    }
    if (pending >= config.max_pending_handshakes && oldest && oldest->conn) {
      spdlog::debug("{}: pending handshakes at the cap ({}), dropping the oldest", tag(*oldest), pending);
      oldest->conn->close("pending handshakes at the cap");
    }
    auto p = std::make_shared<Peer>();
    p->id = next_id++;
    p->inbound = true;
    p->conn = conn;
    p->state = Peer::State::awaiting_hello;
    p->challenge = random_hash();
    p->challenge_bits = uint8_t(config.handshake_pow_bits);
    p->info.id = p->id;
    p->info.inbound = true;
    p->info.address = join_host_port(conn->remote_ip(), conn->remote_port());
    {
      std::lock_guard g(mu);
      peers[p->id] = p;
    }
    attach(p);
    conn->send(kChallenge, encode_challenge({kProtocolVersion, config.network_id, p->challenge, p->challenge_bits}));
  }

  void attach(const std::shared_ptr<Peer>& p) {
    std::weak_ptr<Impl> weak = shared_from_this();
    std::weak_ptr<Peer> wp = p;
    FramedConnection::Callbacks cb;
    cb.limit = [weak, wp](uint8_t type) -> std::optional<size_t> {
      auto self = weak.lock();
      auto peer = wp.lock();
      if (!self || !peer) return std::nullopt;
      return self->limit_for(*peer, type);
    };
    cb.frame = [weak, wp](uint8_t type, ByteSpan payload, bool magic_ok) {
      auto self = weak.lock();
      auto peer = wp.lock();
      if (self && peer && !self->stopped) self->on_frame(peer, type, payload, magic_ok);
    };
    cb.closed = [weak, wp](const std::string& why, bool violation) {
      auto self = weak.lock();
      auto peer = wp.lock();
      if (self && peer) self->on_closed(peer, why, violation);
    };
    p->conn->start(std::move(cb));
  }

  // ---- dialing ----

  void dial(const std::string& key) {
    auto hp = split_host_port(key);
    if (!hp) {
      spdlog::warn("p2p: '{}' is not host:port; not dialing it", key);
      std::lock_guard g(mu);
      addresses.erase(key);
      return;
    }
    auto p = std::make_shared<Peer>();
    p->id = next_id++;
    p->dial_key = key;
    p->info.id = p->id;
    p->connecting_socket = std::make_shared<tcp::socket>(strand);
    {
      std::lock_guard g(mu);
      peers[p->id] = p;
    }
    auto self = shared_from_this();
    resolver.async_resolve(hp->first, std::to_string(hp->second),
                           [self, p](boost::system::error_code ec, tcp::resolver::results_type results) {
      if (self->stopped) return;
      if (ec) return self->dial_failed(p, "cannot resolve: " + ec.message());
      if (p->connecting_socket == nullptr || p->state != Peer::State::connecting) return;
      asio::async_connect(*p->connecting_socket, results,
                          [self, p](boost::system::error_code ec2, const tcp::endpoint&) {
        if (self->stopped) return;
        if (ec2) return self->dial_failed(p, ec2 == asio::error::operation_aborted ? "connect timed out" : ec2.message());
        self->on_connected_out(p);
      });
    });
  }

  void dial_failed(const std::shared_ptr<Peer>& p, const std::string& why) {
    spdlog::debug("p2p: dialing {} failed: {}", p->dial_key, why);
    {
      std::lock_guard g(mu);
      peers.erase(p->id);
    }
    p->connecting_socket.reset();
  }

  void on_connected_out(const std::shared_ptr<Peer>& p) {
    auto socket = std::move(*p->connecting_socket);
    p->connecting_socket.reset();
    p->conn = std::make_shared<FramedConnection>(std::move(socket), magic, config.max_send_queue);
    {
      std::lock_guard g(mu);
      p->info.address = join_host_port(p->conn->remote_ip(), p->conn->remote_port());
      p->state = Peer::State::awaiting_challenge;
      if (ip_bannable(*p->conn) && banned_locked(p->conn->remote_ip())) {
        p->state = Peer::State::connecting;
        p->conn->close("banned IP");
        peers.erase(p->id);
        return;
      }
    }
    attach(p);
  }

  std::chrono::milliseconds backoff(int failures) const {
    auto d = config.retry_min;
    for (int i = 1; i < failures && d < config.retry_max; ++i) d *= 2;
    return std::min(d, config.retry_max);
  }

  void maybe_dial() {
    std::vector<std::string> to_dial;
    {
      std::lock_guard g(mu);
      size_t outbound = 0, total = 0;
      std::set<std::string> busy;
      for (auto& [id, p] : peers) {
        ++total;
        if (!p->inbound) {
          ++outbound;
          busy.insert(p->dial_key);
        }
        if (!p->info.listen.empty()) busy.insert(p->info.listen);
      }
      auto now = Clock::now();
      // Seeds first, then learned addresses; each at most once per back-off period.
      for (int pass = 0; pass < 2; ++pass)
        for (auto& [key, a] : addresses) {
          if (outbound >= config.outbound_target || total >= config.max_peers) break;
          if (a.seed != (pass == 0) || a.self || a.next_try > now || busy.count(key)) continue;
          if (auto hp = split_host_port(key); hp && banned_locked(hp->first)) continue;
          ++a.failures;  // reset once a handshake completes
          a.next_try = now + backoff(a.failures);
          to_dial.push_back(key);
          busy.insert(key);
          ++outbound;
          ++total;
        }
    }
    for (auto& key : to_dial) dial(key);
  }

  // ---- housekeeping ----

  void tick() {
    if (stopped) return;
    auto now = Clock::now();
    std::vector<std::shared_ptr<Peer>> all;
    {
      std::lock_guard g(mu);
      for (auto& [id, p] : peers) all.push_back(p);
    }
    for (auto& p : all) {
      if (p->state != Peer::State::ready) {
        if (now - p->started > config.handshake_timeout) {
          if (p->connecting_socket) {
            boost::system::error_code ec;
            p->connecting_socket->close(ec);  // the connect handler reports it
          } else if (p->conn) {
            p->conn->close("no handshake within " + format_duration(config.handshake_timeout));
          }
        }
        continue;
      }
      if (now - p->conn->last_received() > config.peer_timeout) {
        p->conn->close("timed out: nothing received for " + format_duration(config.peer_timeout));
        continue;
      }
      if (!p->ping_outstanding && now - p->ping_sent >= config.ping_interval) {
        p->ping_nonce = random_u64();
        p->ping_sent = now;
        p->ping_outstanding = true;
        p->conn->send(kPing, WireWriter().u64(p->ping_nonce).bytes());
      }
    }
    // Below the outbound target with nothing left to dial: ask a peer for more addresses now and then.
    if (now - last_getaddr > std::chrono::seconds(60)) {
      last_getaddr = now;
      size_t outbound = 0;
      std::shared_ptr<Peer> ask;
      for (auto& p : all) {
        if (!p->inbound) ++outbound;
        if (p->state == Peer::State::ready && p->conn->is_open() && (!ask || random_u64() % 2)) ask = p;
      }
      if (ask && outbound < config.outbound_target) ask->conn->send(kGetAddr, {});
    }
    maybe_dial();
    tick_timer.expires_after(config.tick);
    auto self = shared_from_this();
    tick_timer.async_wait([self](boost::system::error_code ec) {
      if (!ec) self->tick();
    });
  }

  // ---- frames ----

  void on_frame(const std::shared_ptr<Peer>& p, uint8_t type, ByteSpan payload, bool magic_ok) {
    try {
      if (!magic_ok) return on_foreign(p, type, payload);
      if (type >= kFirstAppType) {
        callback([&] {
          try {
            handler.on_message(p->id, type, payload);
          } catch (const std::exception& e) {
            // A message the application could not take is the sender's fault.
            add_score(p, 100, "invalid message type 0x" + to_hex({&type, 1}) + ": " + e.what());
          }
        });
        return;
      }
      switch (type) {
        case kChallenge: return on_challenge(p, decode_challenge(payload));
        case kHello: return on_hello(p, decode_hello(payload));
        case kReject: return on_reject(p, payload);
        case kPing: {
          WireReader r(payload);
          uint64_t nonce = r.u64("ping.nonce");
          r.finish("ping");
          p->conn->send(kPong, WireWriter().u64(nonce).bytes());
          return;
        }
        case kPong: {
          WireReader r(payload);
          uint64_t nonce = r.u64("pong.nonce");
          r.finish("pong");
          if (p->ping_outstanding && nonce == p->ping_nonce) {
            p->ping_outstanding = false;
            std::lock_guard g(mu);
            p->info.ping_ms = std::chrono::duration<double, std::milli>(Clock::now() - p->ping_sent).count();
          }
          return;
        }
        case kGetAddr: {
          WireReader(payload).finish("getaddr");
          // Answered at most every 30 s per peer: asking again is not worth our bandwidth.
          auto now = Clock::now();
          if (p->last_addr_answer != Clock::time_point{} && now - p->last_addr_answer < std::chrono::seconds(30)) return;
          p->last_addr_answer = now;
          p->conn->send(kAddr, encode_addr(p));
          return;
        }
        case kAddr: return on_addr(p, payload);
      }
      add_score(p, 100, "unexpected message type 0x" + to_hex({&type, 1}));
    } catch (const WireError& e) {
      add_score(p, 100, std::string("malformed message: ") + e.what());
    }
  }

  // A frame with another magic before the handshake: another network's node (a clear log line,
  // no ban), or garbage (banned).
  void on_foreign(const std::shared_ptr<Peer>& p, uint8_t type, ByteSpan payload) {
    std::optional<Hash256> theirs;
    try {
      if (type == kChallenge) theirs = decode_challenge(payload).network_id;
      else if (type == kHello) theirs = decode_hello(payload).network_id;
    } catch (const WireError&) {
    }
    if (!theirs) return punish(p, "bad magic");
    if (*theirs == config.network_id) return punish(p, "bad magic for our own network id");
    refuse_network(p, *theirs);
  }

  void refuse_network(const std::shared_ptr<Peer>& p, const Hash256& theirs) {
    spdlog::warn("{} refused: it is on network {}, we are on {} (a different chain's parameters)", tag(*p),
                 to_hex(theirs), to_hex(config.network_id));
    reject(p, kRejectNetwork, "network id " + to_hex(config.network_id).substr(0, 16) + " expected");
  }

  void reject(const std::shared_ptr<Peer>& p, uint8_t code, const std::string& reason) {
    WireWriter w;
    w.u8(code).str8(reason.substr(0, 255));
    p->conn->send(kReject, w.bytes());
    p->conn->close_after_flush(std::string("refused: ") + reject_text(code));
  }

  void mark_dial_failure(const std::shared_ptr<Peer>& p, bool self_address) {
    if (p->inbound || p->dial_key.empty()) return;
    std::lock_guard g(mu);
    auto it = addresses.find(p->dial_key);
    if (it != addresses.end() && self_address) it->second.self = true;
  }

  void on_challenge(const std::shared_ptr<Peer>& p, const Challenge& c) {
    if (c.network_id != config.network_id) return refuse_network(p, c.network_id);
    if (c.version != kProtocolVersion) {
      spdlog::warn("{} refused: protocol version {}, we speak {}", tag(*p), c.version, kProtocolVersion);
      return reject(p, kRejectVersion, "protocol version " + std::to_string(kProtocolVersion) + " expected");
    }
    if (c.bits > config.max_solve_bits) {
      spdlog::warn("{} refused: it asks for a {}-bit proof of work, we solve at most {}", tag(*p), c.bits,
                   config.max_solve_bits);
      return reject(p, kRejectProofOfWork, "challenge over " + std::to_string(config.max_solve_bits) + " bits");
    }
    {
      std::lock_guard g(mu);  // peers() reads the state from other threads
      p->state = Peer::State::solving;
    }
    p->pow_stop = std::make_shared<std::atomic<bool>>(false);
    std::weak_ptr<Impl> weak = shared_from_this();
    auto strand_copy = strand;
    auto network_id = config.network_id, node_id = config.node_id;
    auto stop = p->pow_stop;
    asio::post(pow_pool, [weak, strand_copy, p, c, network_id, node_id, stop] {
      auto nonce = solve_handshake_pow(c.challenge, network_id, node_id, c.bits, stop.get());
      asio::post(strand_copy, [weak, p, nonce] {
        auto self = weak.lock();
        if (!self || self->stopped || !nonce || !p->conn->is_open()) return;
        {
          std::lock_guard g(self->mu);
          p->state = Peer::State::awaiting_hello;
        }
        p->conn->send(kHello, encode_hello(self->our_hello(*nonce)));
      });
    });
  }

  Hello our_hello(uint64_t nonce) const {
    Hello h;
    h.version = kProtocolVersion;
    h.network_id = config.network_id;
    h.node_id = config.node_id;
    h.listen_port = config.listen ? bound_port.load() : 0;
    h.stratum_port = config.stratum_port;
    h.nonce = nonce;
    h.user_agent = config.user_agent;
    return h;
  }

  void on_hello(const std::shared_ptr<Peer>& p, const Hello& h) {
    if (h.network_id != config.network_id) return refuse_network(p, h.network_id);
    if (h.version != kProtocolVersion) {
      spdlog::warn("{} refused: protocol version {}, we speak {}", tag(*p), h.version, kProtocolVersion);
      return reject(p, kRejectVersion, "protocol version " + std::to_string(kProtocolVersion) + " expected");
    }
    if (h.node_id == config.node_id) {
      spdlog::info("{}: that is this node itself; not dialing that address again", tag(*p));
      mark_dial_failure(p, true);
      return reject(p, kRejectSelf, "self-connection");
    }
    {
      std::lock_guard g(mu);
      if (banned_locked(to_hex(h.node_id))) {
        spdlog::info("{}: node {} is banned", tag(*p), short_id(h.node_id));
        reject(p, kRejectBanned, "banned");
        return;
      }
    }
    {
      // Known from here on, so that a bad proof bans the node id on loopback.
      std::lock_guard g(mu);
      p->info.node_id = h.node_id;
    }
    if (p->inbound) {
      int bits = handshake_pow_zero_bits(p->challenge, config.network_id, h.node_id, h.nonce);
      if (bits < int(p->challenge_bits))
        return punish(p, "proof of work with " + std::to_string(bits) + " zero bits, " +
                             std::to_string(p->challenge_bits) + " asked");
    }
    // Duplicate node ids: of two connections between the same two nodes, the one dialed by the
    // smaller node id stays (both ends apply the same rule); a second connection dialed by the
    // same side as the one in place is refused.
    std::shared_ptr<Peer> existing;
    size_t ready = 0;
    {
      std::lock_guard g(mu);
      for (auto& [id, q] : peers) {
        if (q->state != Peer::State::ready) continue;
        ++ready;
        if (q->info.node_id == h.node_id) existing = q;
      }
    }
    if (existing) {
      const Hash256& dialer_new = p->inbound ? h.node_id : config.node_id;
      const Hash256& dialer_old = existing->inbound ? h.node_id : config.node_id;
      const Hash256& smaller = std::min(h.node_id, config.node_id);
      if (dialer_new == dialer_old || dialer_new != smaller) {
        spdlog::info("{}: node {} is connected already (peer #{})", tag(*p), short_id(h.node_id), existing->id);
        return reject(p, kRejectDuplicate, "already connected");
      }
      spdlog::info("{}: replaces peer #{} to the same node (the connection dialed by the smaller id stays)", tag(*p),
                   existing->id);
      existing->conn->close("replaced by the connection dialed by the smaller node id");
      --ready;
    }
    if (ready >= config.max_peers) {
      if (p->inbound) {
        spdlog::info("{} refused: at the peer cap ({})", tag(*p), config.max_peers);
        p->conn->send(kAddr, encode_addr(p));  // somewhere else to go
        return reject(p, kRejectFull, "at the peer cap");
      }
      p->conn->close("at the peer cap");
      return;
    }
    if (p->inbound) p->conn->send(kHello, encode_hello(our_hello(0)));
    p->conn->accept_foreign_magic = false;
    PeerInfo info;
    {
      std::lock_guard g(mu);
      p->state = Peer::State::ready;
      p->info.node_id = h.node_id;
      p->info.stratum_port = h.stratum_port;
      p->info.user_agent = h.user_agent;
      p->info.connected_unix = unix_now();
      if (h.listen_port) p->info.listen = join_host_port(p->conn->remote_ip(), h.listen_port);
      if (!p->inbound) {
        if (auto it = addresses.find(p->dial_key); it != addresses.end()) it->second.failures = 0;
      }
      if (!p->info.listen.empty()) remember_locked(p->info.listen, false);
      info = p->info;
    }
    p->ping_sent = Clock::now();  // the first ping after one interval
    spdlog::info("{} connected ({}, {}, \"{}\")", tag(*p), p->inbound ? "inbound" : "outbound",
                 p->info.listen.empty() ? "not listening" : "listens on " + p->info.listen, h.user_agent);
    p->conn->send(kGetAddr, {});
    callback([&] { handler.on_connected(info); });
  }

  void on_reject(const std::shared_ptr<Peer>& p, ByteSpan payload) {
    WireReader r(payload);
    uint8_t code = r.u8("reject.code");
    std::string reason = r.str8("reject.reason");
    r.finish("reject");
    if (code == kRejectSelf) mark_dial_failure(p, true);
    spdlog::log(code == kRejectFull || code == kRejectDuplicate ? spdlog::level::info : spdlog::level::warn,
                "{} refused us: {} ({})", tag(*p), reject_text(code), reason);
    p->conn->close(std::string("refused by the peer: ") + reject_text(code));
  }

  // ---- peer exchange ----

  Bytes encode_addr(const std::shared_ptr<Peer>& to) {
    std::vector<std::pair<asio::ip::address, uint16_t>> list;
    std::set<std::string> seen;
    auto add = [&](const std::string& key) {
      if (list.size() >= 250 || seen.count(key) || key == to->info.listen) return;
      auto hp = split_host_port(key);
      if (!hp) return;
      boost::system::error_code ec;
      auto a = asio::ip::make_address(hp->first, ec);
      if (ec) return;  // names are not relayed
      seen.insert(key);
      list.emplace_back(a, hp->second);
    };
    {
      std::lock_guard g(mu);
      for (auto& [id, q] : peers)
        if (q->state == Peer::State::ready && q != to && !q->info.listen.empty()) add(q->info.listen);
      for (auto& [key, a] : addresses)
        if (!a.self && a.failures == 0) add(key);
    }
    WireWriter w;
    w.u16(uint16_t(list.size()));
    for (auto& [a, port] : list) {
      if (a.is_v4()) {
        auto b = a.to_v4().to_bytes();
        w.u8(4).raw(b);
      } else {
        auto b = a.to_v6().to_bytes();
        w.u8(6).raw(b);
      }
      w.u16(port);
    }
    return w.take();
  }

  void on_addr(const std::shared_ptr<Peer>& p, ByteSpan payload) {
    WireReader r(payload);
    size_t n = r.u16("addr.count");
    if (n > kMaxAddrEntries) throw WireError("addr with " + std::to_string(n) + " entries, over " +
                                             std::to_string(kMaxAddrEntries));
    std::vector<std::string> keys;
    for (size_t i = 0; i < n; ++i) {
      uint8_t family = r.u8("addr.family");
      asio::ip::address a;
      if (family == 4) a = asio::ip::address_v4(r.array<4>("addr.ip"));
      else if (family == 6) a = asio::ip::address_v6(r.array<16>("addr.ip"));
      else throw WireError("addr family " + std::to_string(family));
      uint16_t port = r.u16("addr.port");
      if (port == 0 || a.is_unspecified() || a.is_multicast()) continue;
      // Loopback addresses only from a loopback peer (never make a remote node dial our own services).
      if (a.is_loopback() && !p->conn->remote_is_loopback()) continue;
      keys.push_back(join_host_port(canonical_ip(a), port));
    }
    r.finish("addr");
    std::lock_guard g(mu);
    for (auto& k : keys) remember_locked(k, false);
  }

  void remember_locked(const std::string& key, bool seed) {
    if (addresses.count(key)) return;
    if (addresses.size() >= config.max_known_addresses) {
      // Forget the learned address that failed most (seeds stay).
      auto worst = addresses.end();
      for (auto it = addresses.begin(); it != addresses.end(); ++it)
        if (!it->second.seed && (worst == addresses.end() || it->second.failures > worst->second.failures)) worst = it;
      if (worst == addresses.end()) return;
      addresses.erase(worst);
    }
    addresses[key].seed = seed;
  }

  // ---- closing ----

  void on_closed(const std::shared_ptr<Peer>& p, const std::string& why, bool violation) {
    if (p->pow_stop) *p->pow_stop = true;
    if (violation && !stopped && !p->punished) {
      // Framing broken: ban (punish() closes, which is a no-op now).
      punish(p, why);
    }
    bool was_ready;
    {
      std::lock_guard g(mu);
      was_ready = p->state == Peer::State::ready;
      peers.erase(p->id);
      if (!p->inbound && !p->dial_key.empty()) {
        auto it = addresses.find(p->dial_key);
        if (it != addresses.end() && was_ready) it->second.next_try = Clock::now() + config.retry_min;
      }
    }
    if (was_ready) {
      spdlog::info("{} disconnected: {}", tag(*p), why);
      callback([&] { handler.on_disconnected(p->id, why); });
    } else {
      spdlog::debug("{} closed during the handshake: {}", tag(*p), why);
    }
  }

  std::shared_ptr<Peer> find(PeerId id) const {
    std::lock_guard g(mu);
    auto it = peers.find(id);
    return it == peers.end() ? nullptr : it->second;
  }

  // Always posted, also from the strand: a handler that calls misbehaving() inside on_message
  // does not see on_disconnected before its own call returns.
  template <class F>
  void later(F f) {
    asio::post(strand, std::move(f));
  }
};

// ---- Network ------------------------------------------------------------------------------------

Network::Network(asio::io_context& io, NetConfig config, Handler& handler) {
  if (config.network_id == Hash256{}) throw std::invalid_argument("p2p: the network id is not set");
  if (config.node_id == Hash256{}) throw std::invalid_argument("p2p: the node id is not set");
  if (config.max_peers == 0) throw std::invalid_argument("p2p: max_peers must be at least 1");
  if (config.outbound_target > config.max_peers)
    throw std::invalid_argument("p2p: the outbound target (" + std::to_string(config.outbound_target) +
                                ") is over max_peers (" + std::to_string(config.max_peers) + ")");
  if (config.handshake_pow_bits > 40 || config.max_solve_bits > 40)
    throw std::invalid_argument("p2p: handshake proof-of-work bits must be at most 40");
  if (config.max_pending_handshakes == 0 || config.max_pending_per_ip == 0)
    throw std::invalid_argument("p2p: max_pending_handshakes and max_pending_per_ip must be at least 1");
  if (config.max_message < kControlMessageLimit) throw std::invalid_argument("p2p: max_message under 64 KiB");
  for (auto& [type, limit] : config.app_message_limits)
    if (type < kFirstAppType)
      throw std::invalid_argument("p2p: application message types start at 0x40, not 0x" + to_hex({&type, 1}));
  if (config.user_agent.size() > kMaxUserAgent) config.user_agent.resize(kMaxUserAgent);
  for (auto& s : config.seeds)
    if (!split_host_port(s)) throw std::invalid_argument("p2p: seed '" + s + "' is not host:port");
  if (config.retry_min.count() <= 0 || config.retry_max < config.retry_min || config.tick.count() <= 0)
    throw std::invalid_argument("p2p: retry_min, retry_max and tick must be positive, retry_min <= retry_max");
  impl_ = std::make_shared<Impl>(io, std::move(config), handler);
}

Network::~Network() { stop(); }

void Network::start() {
  if (impl_->started || impl_->stopped) return;
  impl_->start();  // sets `started` once bound
}

void Network::stop() {
  auto impl = impl_;
  if (impl->stopped.exchange(true)) return;
  { std::lock_guard g(impl->callback_mu); }  // a callback in flight has finished; later ones see `stopped`
  if (impl->strand.running_in_this_thread() || impl->io.stopped() || !impl->started) {
    impl->shutdown_all();
  } else {
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    asio::post(impl->strand, [impl, done] {
      impl->shutdown_all();
      done->set_value();
    });
    // The loop may not be running (a caller that stopped it first): then the sockets close
    // when the io_context goes.
    f.wait_for(std::chrono::seconds(5));
  }
  impl->pow_pool.join();
}

uint16_t Network::port() const { return impl_->bound_port; }

bool Network::send(PeerId peer, uint8_t type, Bytes payload) {
  if (type < kFirstAppType)
    throw std::invalid_argument("p2p: send of transport message type 0x" + to_hex({&type, 1}));
  auto& cfg = impl_->config;
  size_t limit = cfg.max_message;
  if (!cfg.app_message_limits.empty()) {
    auto it = cfg.app_message_limits.find(type);
    if (it == cfg.app_message_limits.end())
      throw std::invalid_argument("p2p: message type 0x" + to_hex({&type, 1}) + " is not in app_message_limits");
    limit = std::min(limit, it->second);
  }
  if (payload.size() > limit)
    throw std::invalid_argument("p2p: message of " + std::to_string(payload.size()) + " bytes over its limit of " +
                                std::to_string(limit));
  auto p = impl_->find(peer);
  if (!p || impl_->stopped) return false;
  {
    std::lock_guard g(impl_->mu);
    if (p->state != Peer::State::ready) return false;
  }
  Bytes frame = encode_frame(impl_->magic, type, payload);
  if (impl_->strand.running_in_this_thread()) return p->conn->send_frame(std::move(frame));
  asio::post(impl_->strand, [p, frame = std::move(frame)]() mutable { p->conn->send_frame(std::move(frame)); });
  return true;
}

void Network::broadcast(uint8_t type, const Bytes& payload, PeerId except) {
  std::vector<PeerId> ids;
  {
    std::lock_guard g(impl_->mu);
    for (auto& [id, p] : impl_->peers)
      if (id != except && p->state == Peer::State::ready) ids.push_back(id);
  }
  for (PeerId id : ids) send(id, type, payload);
}

void Network::misbehaving(PeerId peer, int score, const std::string& why) {
  auto impl = impl_;
  impl->later([impl, peer, score, why] {
    if (auto p = impl->find(peer)) impl->add_score(p, score, why);
  });
}

void Network::disconnect(PeerId peer, const std::string& why) {
  auto impl = impl_;
  impl->later([impl, peer, why] {
    if (auto p = impl->find(peer); p && p->conn) p->conn->close(why);
  });
}

void Network::ban(const std::string& what, std::chrono::seconds duration, const std::string& reason) {
  bool by_node = false;
  std::string key;
  if (what.size() == 64) {
    key = to_hex(hash_from_hex(what));  // lower case; throws invalid_argument on non-hex
    by_node = true;
  } else {
    boost::system::error_code ec;
    auto a = asio::ip::make_address(what, ec);
    if (ec) throw std::invalid_argument("p2p: '" + what + "' is neither a node id (64 hex digits) nor an IP address");
    key = canonical_ip(a);
  }
  {
    std::lock_guard g(impl_->mu);
    impl_->add_ban_locked(key, by_node, duration, reason);
  }
  auto impl = impl_;
  impl->later([impl, key, by_node] {
    std::vector<std::shared_ptr<Peer>> hit;
    {
      std::lock_guard g(impl->mu);
      for (auto& [id, p] : impl->peers) {
        if (!p->conn) continue;
        if (by_node ? to_hex(p->info.node_id) == key : p->conn->remote_ip() == key) hit.push_back(p);
      }
    }
    for (auto& p : hit) p->conn->close("banned");
  });
}

bool Network::unban(const std::string& what) {
  std::string key = what;
  if (what.size() == 64) {
    try {
      key = to_hex(hash_from_hex(what));
    } catch (const std::invalid_argument&) {
    }
  } else {
    boost::system::error_code ec;
    auto a = asio::ip::make_address(what, ec);
    if (!ec) key = canonical_ip(a);
  }
  std::lock_guard g(impl_->mu);
  return impl_->bans.erase(key) > 0;
}

std::vector<BanInfo> Network::bans() const {
  std::lock_guard g(impl_->mu);
  impl_->prune_bans_locked();
  std::vector<BanInfo> out;
  for (auto& [k, e] : impl_->bans) out.push_back(e.info);
  return out;
}

std::vector<PeerInfo> Network::peers() const {
  std::lock_guard g(impl_->mu);
  std::vector<PeerInfo> out;
  for (auto& [id, p] : impl_->peers) {
    if (p->state != Peer::State::ready) continue;
    PeerInfo i = p->info;
    i.bytes_in = p->conn->bytes_in();
    i.bytes_out = p->conn->bytes_out();
    out.push_back(std::move(i));
  }
  return out;
}

void Network::add_address(const std::string& host_port) {
  if (!split_host_port(host_port)) throw std::invalid_argument("p2p: '" + host_port + "' is not host:port");
  std::lock_guard g(impl_->mu);
  impl_->remember_locked(host_port, false);
}

std::vector<std::string> Network::known_addresses() const {
  std::lock_guard g(impl_->mu);
  std::vector<std::string> out;
  for (auto& [k, a] : impl_->addresses)
    if (!a.self) out.push_back(k);
  return out;
}

}  // namespace otedama::p2p
