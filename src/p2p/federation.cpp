// Federation links: authenticated connections to the pools listed in the config, with block
// notices, health and takeover offers (docs/p2p.md, "Federation"). Same framing as the peer
// network (net.h) with its own magic; at most one link per listed pool.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <random>

#include "p2p/federation.h"

namespace otedama::p2p {

namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Hash256 random_nonce() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  Hash256 h;
  for (size_t i = 0; i < 32; i += 8) {
    uint64_t v = rng();
    std::memcpy(h.data() + i, &v, 8);
  }
  return h;
}

Bytes encode_health(const Health& h) {
  WireWriter w;
  w.str8(h.coin).u8(h.daemon_ok ? 1 : 0).u64(h.height).u32(h.miners).f64(h.hashrate).str8(h.stratum_host);
  w.u16(h.stratum_port).i64(h.unix_ms);
  return w.take();
}

Health decode_health(ByteSpan p) {
  WireReader r(p);
  Health h;
  h.coin = r.str8("health.coin");
  uint8_t ok = r.u8("health.daemon_ok");
  if (ok > 1) throw WireError("health.daemon_ok is not 0 or 1");
  h.daemon_ok = ok;
  h.height = r.u64("health.height");
  h.miners = r.u32("health.miners");
  h.hashrate = r.f64("health.hashrate");
  if (h.hashrate < 0) throw WireError("health.hashrate is negative");
  h.stratum_host = r.str8("health.stratum_host");
  h.stratum_port = r.u16("health.stratum_port");
  h.unix_ms = r.i64("health.unix_ms");
  r.finish("health");
  return h;
}

}  // namespace

struct Link {
  enum class State { connecting, awaiting_challenge, awaiting_hello, awaiting_ok, ready };
  uint64_t id = 0;
  State state = State::connecting;
  bool inbound = false;
  int peer_index = -1;  // into config.peers; known at once when dialing, after the hello when accepting
  std::shared_ptr<tcp::socket> connecting_socket;
  std::shared_ptr<FramedConnection> conn;
  Clock::time_point started = Clock::now();
  Hash256 our_nonce{}, their_nonce{};
  uint64_t ping_nonce = 0;
  Clock::time_point ping_sent{};
  bool ping_outstanding = false;
  double ping_ms = -1;
};

struct PeerState {
  std::shared_ptr<Link> link;  // the ready link
  std::map<std::string, std::pair<Health, Clock::time_point>> health;  // by coin
  std::map<std::string, std::pair<TakeoverOffer, Clock::time_point>> offers;
  Clock::time_point next_dial{};
  int failures = 0;
};

struct Federation::Impl : std::enable_shared_from_this<Federation::Impl> {
  Impl(asio::io_context& io_, FederationConfig config_, Callbacks cb_)
      : io(io_), strand(asio::make_strand(io_)), config(std::move(config_)), cb(std::move(cb_)),
        magic(federation_magic()), acceptor(strand), tick_timer(strand), resolver(strand),
        peers(config.peers.size()) {}

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;
  FederationConfig config;
  Callbacks cb;
  Magic magic;
  tcp::acceptor acceptor;
  asio::steady_timer tick_timer;
  tcp::resolver resolver;
  std::atomic<bool> started{false}, stopped{false};
  std::atomic<uint16_t> bound_port{0};
  uint64_t next_id = 1;
  Clock::time_point last_health_sent{};

  mutable std::mutex mu;
  std::map<uint64_t, std::shared_ptr<Link>> links;  // every connection, pending ones included
  std::vector<PeerState> peers;                     // parallel to config.peers
  std::map<std::string, Health> our_health;         // by coin
  std::recursive_mutex callback_mu;

  template <class F>
  void callback(F f) {
    std::lock_guard g(callback_mu);
    if (stopped) return;
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("federation: a callback threw: {}", e.what());
    }
  }

  std::string tag(const Link& l) const {
    std::string s = "federation link #" + std::to_string(l.id);
    if (l.peer_index >= 0) s += " '" + config.peers[l.peer_index].name + "'";
    if (l.conn) s += " " + join_host_port(l.conn->remote_ip(), l.conn->remote_port());
    return s;
  }

  int index_of(const PublicKey& key) const {
    for (size_t i = 0; i < config.peers.size(); ++i)
      if (config.peers[i].public_key == key) return int(i);
    return -1;
  }

  std::optional<size_t> limit_for(const Link& l, uint8_t type) const {
    switch (l.state) {
      case Link::State::connecting: return std::nullopt;
      case Link::State::awaiting_challenge:
        return type == kFedChallenge || type == kFedReject ? std::optional<size_t>(kFederationMessageLimit) : std::nullopt;
      case Link::State::awaiting_hello:
        return type == kFedHello || type == kFedReject ? std::optional<size_t>(kFederationMessageLimit) : std::nullopt;
      case Link::State::awaiting_ok:
        return type == kFedAuthOk || type == kFedReject ? std::optional<size_t>(kFederationMessageLimit) : std::nullopt;
      case Link::State::ready:
        switch (type) {
          case kFedReject:
          case kFedPing:
          case kFedPong:
          case kFedBlock:
          case kFedHealth:
          case kFedTakeoverRequest:
          case kFedTakeoverOffer: return kFederationMessageLimit;
        }
        return std::nullopt;
    }
    return std::nullopt;
  }

  // ---- lifecycle ----

  void start() {
    if (config.listen) {
      tcp::endpoint ep;
      boost::system::error_code ec;
      auto a = asio::ip::make_address(config.listen_host, ec);
      if (ec) throw std::runtime_error("federation: listen address '" + config.listen_host + "' is not an IP address");
      ep = tcp::endpoint(a, config.listen_port);
      acceptor.open(ep.protocol(), ec);
      if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acceptor.bind(ep, ec);
      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (ec)
        throw std::runtime_error("federation: cannot listen on " + join_host_port(config.listen_host, config.listen_port) +
                                 ": " + ec.message());
      bound_port = acceptor.local_endpoint().port();
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
    std::vector<std::shared_ptr<Link>> all;
    {
      std::lock_guard g(mu);
      for (auto& [id, l] : links) all.push_back(l);
      links.clear();
      for (auto& p : peers) p.link.reset();
    }
    for (auto& l : all) {
      if (l->connecting_socket) l->connecting_socket->close(ec);
      if (l->conn) l->conn->close("stopping");
    }
  }

  void accept() {
    auto self = shared_from_this();
    acceptor.async_accept([self](boost::system::error_code ec, tcp::socket socket) {
      if (self->stopped || !self->acceptor.is_open()) return;
      if (!ec) self->on_accepted(std::move(socket));
      else if (ec != asio::error::operation_aborted) spdlog::warn("federation: accept failed: {}", ec.message());
      self->accept();
    });
  }

  void on_accepted(tcp::socket socket) {
    auto conn = std::make_shared<FramedConnection>(std::move(socket), magic, 1 << 20);
    conn->accept_foreign_magic = false;
    std::shared_ptr<Link> oldest;
    size_t pending = 0;
    {
      std::lock_guard g(mu);
      for (auto& [id, l] : links)
        if (l->inbound && l->state != Link::State::ready) {
          ++pending;
          if (!oldest || l->started < oldest->started) oldest = l;
        }
    }
    if (pending >= config.max_pending && oldest && oldest->conn) oldest->conn->close("pending connections at the cap");
    auto l = std::make_shared<Link>();
    l->id = next_id++;
    l->inbound = true;
    l->conn = conn;
    l->state = Link::State::awaiting_hello;
    l->our_nonce = random_nonce();
    {
      std::lock_guard g(mu);
      links[l->id] = l;
    }
    attach(l);
    WireWriter w;
    w.u32(kFederationVersion).raw(config.key->public_key()).raw(l->our_nonce);
    conn->send(kFedChallenge, w.bytes());
  }

  void attach(const std::shared_ptr<Link>& l) {
    std::weak_ptr<Impl> weak = shared_from_this();
    std::weak_ptr<Link> wl = l;
    FramedConnection::Callbacks c;
    c.limit = [weak, wl](uint8_t type) -> std::optional<size_t> {
      auto self = weak.lock();
      auto link = wl.lock();
      if (!self || !link) return std::nullopt;
      return self->limit_for(*link, type);
    };
    c.frame = [weak, wl](uint8_t type, ByteSpan payload, bool) {
      auto self = weak.lock();
      auto link = wl.lock();
      if (self && link && !self->stopped) self->on_frame(link, type, payload);
    };
    c.closed = [weak, wl](const std::string& why, bool violation) {
      auto self = weak.lock();
      auto link = wl.lock();
      if (self && link) self->on_closed(link, why, violation);
    };
    l->conn->start(std::move(c));
  }

  // ---- dialing ----

  std::chrono::milliseconds backoff(int failures) const {
    auto d = config.retry_min;
    for (int i = 1; i < failures && d < config.retry_max; ++i) d *= 2;
    return std::min(d, config.retry_max);
  }

  void maybe_dial() {
    std::vector<int> to_dial;
    auto now = Clock::now();
    {
      std::lock_guard g(mu);
      std::vector<bool> busy(config.peers.size(), false);
      for (auto& [id, l] : links)
        if (l->peer_index >= 0) busy[l->peer_index] = true;
      for (size_t i = 0; i < config.peers.size(); ++i) {
        if (busy[i] || config.peers[i].address.empty() || peers[i].next_dial > now) continue;
        ++peers[i].failures;
        peers[i].next_dial = now + backoff(peers[i].failures);
        to_dial.push_back(int(i));
      }
    }
    for (int i : to_dial) dial(i);
  }

  void dial(int index) {
    const auto& peer = config.peers[index];
    auto hp = split_host_port(peer.address);
    if (!hp) return;  // refused by the constructor
    auto l = std::make_shared<Link>();
    l->id = next_id++;
    l->peer_index = index;
    l->connecting_socket = std::make_shared<tcp::socket>(strand);
    {
      std::lock_guard g(mu);
      links[l->id] = l;
    }
    auto self = shared_from_this();
    resolver.async_resolve(hp->first, std::to_string(hp->second),
                           [self, l](boost::system::error_code ec, tcp::resolver::results_type results) {
      if (self->stopped) return;
      if (ec || !l->connecting_socket) return self->dial_failed(l, ec ? "cannot resolve: " + ec.message() : "timed out");
      asio::async_connect(*l->connecting_socket, results, [self, l](boost::system::error_code ec2, const tcp::endpoint&) {
        if (self->stopped) return;
        if (ec2) return self->dial_failed(l, ec2 == asio::error::operation_aborted ? "connect timed out" : ec2.message());
        auto socket = std::move(*l->connecting_socket);
        l->connecting_socket.reset();
        l->conn = std::make_shared<FramedConnection>(std::move(socket), self->magic, 1 << 20);
        l->conn->accept_foreign_magic = false;
        {
          std::lock_guard g(self->mu);
          l->state = Link::State::awaiting_challenge;
        }
        self->attach(l);
      });
    });
  }

  void dial_failed(const std::shared_ptr<Link>& l, const std::string& why) {
    spdlog::debug("federation: dialing '{}' ({}) failed: {}", config.peers[l->peer_index].name,
                  config.peers[l->peer_index].address, why);
    std::lock_guard g(mu);
    links.erase(l->id);
    l->connecting_socket.reset();
  }

  // ---- housekeeping ----

  void tick() {
    if (stopped) return;
    auto now = Clock::now();
    std::vector<std::shared_ptr<Link>> all;
    {
      std::lock_guard g(mu);
      for (auto& [id, l] : links) all.push_back(l);
    }
    bool send_health = now - last_health_sent >= config.health_interval;
    if (send_health) last_health_sent = now;
    for (auto& l : all) {
      if (l->state != Link::State::ready) {
        if (now - l->started > config.handshake_timeout) {
          boost::system::error_code ec;
          if (l->connecting_socket) l->connecting_socket->close(ec);
          else if (l->conn) l->conn->close("no handshake within " + format_duration(config.handshake_timeout));
        }
        continue;
      }
      if (now - l->conn->last_received() > config.peer_timeout) {
        l->conn->close("timed out: nothing received for " + format_duration(config.peer_timeout));
        continue;
      }
      if (send_health) {
        if (!l->ping_outstanding) {
          l->ping_nonce = random_nonce()[0] | uint64_t(now.time_since_epoch().count()) << 8;
          l->ping_sent = now;
          l->ping_outstanding = true;
          l->conn->send(kFedPing, WireWriter().u64(l->ping_nonce).bytes());
        }
        send_our_health(l);
      }
    }
    maybe_dial();
    tick_timer.expires_after(config.tick);
    auto self = shared_from_this();
    tick_timer.async_wait([self](boost::system::error_code ec) {
      if (!ec) self->tick();
    });
  }

  void send_our_health(const std::shared_ptr<Link>& l) {
    std::vector<Bytes> msgs;
    {
      std::lock_guard g(mu);
      for (auto& [coin, h] : our_health) {
        Health copy = h;
        copy.unix_ms = unix_ms_now();
        msgs.push_back(encode_health(copy));
      }
    }
    for (auto& m : msgs) l->conn->send(kFedHealth, m);
  }

  // ---- frames ----

  void on_frame(const std::shared_ptr<Link>& l, uint8_t type, ByteSpan payload) {
    try {
      switch (type) {
        case kFedChallenge: return on_challenge(l, payload);
        case kFedHello: return on_hello(l, payload);
        case kFedAuthOk: return on_auth_ok(l, payload);
        case kFedReject: {
          WireReader r(payload);
          uint8_t code = r.u8("reject.code");
          std::string reason = r.str8("reject.reason");
          r.finish("reject");
          spdlog::warn("{} refused by the other side (code {}): {}", tag(*l), code, reason);
          l->conn->close("refused by the other side: " + reason);
          return;
        }
        case kFedPing: {
          WireReader r(payload);
          uint64_t n = r.u64("ping.nonce");
          r.finish("ping");
          l->conn->send(kFedPong, WireWriter().u64(n).bytes());
          return;
        }
        case kFedPong: {
          WireReader r(payload);
          uint64_t n = r.u64("pong.nonce");
          r.finish("pong");
          if (l->ping_outstanding && n == l->ping_nonce) {
            l->ping_outstanding = false;
            std::lock_guard g(mu);
            l->ping_ms = std::chrono::duration<double, std::milli>(Clock::now() - l->ping_sent).count();
          }
          return;
        }
        case kFedBlock: {
          WireReader r(payload);
          BlockNotice n;
          n.coin = r.str8("block.coin");
          n.height = r.u64("block.height");
          n.hash = r.array<32>("block.hash");
          n.unix_ms = r.i64("block.unix_ms");
          r.finish("block notice");
          std::string name = config.peers[l->peer_index].name;
          spdlog::info("federation: '{}' found {} block {} at height {}", name, n.coin, to_hex(n.hash), n.height);
          if (cb.on_block_notice) callback([&] { cb.on_block_notice(name, n); });
          return;
        }
        case kFedHealth: {
          Health h = decode_health(payload);
          if (h.stratum_host.empty() || h.stratum_host == "0.0.0.0" || h.stratum_host == "::")
            h.stratum_host = l->conn->remote_ip();
          std::string name = config.peers[l->peer_index].name;
          {
            std::lock_guard g(mu);
            peers[l->peer_index].health[h.coin] = {h, Clock::now()};
            if (peers[l->peer_index].health.size() > 64) peers[l->peer_index].health.erase(h.coin);  // bounded
          }
          if (cb.on_health) callback([&] { cb.on_health(name, h); });
          return;
        }
        case kFedTakeoverRequest: {
          WireReader r(payload);
          std::string coin = r.str8("takeover_request.coin");
          uint32_t miners = r.u32("takeover_request.miners");
          r.finish("takeover request");
          std::string name = config.peers[l->peer_index].name;
          std::optional<Health> ours;
          {
            std::lock_guard g(mu);
            if (auto it = our_health.find(coin); it != our_health.end()) ours = it->second;
          }
          bool accept = ours && ours->daemon_ok && ours->stratum_port != 0;
          if (cb.on_takeover_request) {
            bool decided = false;
            callback([&] { decided = cb.on_takeover_request(name, coin, miners); });
            accept = accept && decided;
          }
          spdlog::info("federation: '{}' asks us to take {} {} miners: {}", name, miners, coin,
                       accept ? "accepted" : "declined");
          WireWriter w;
          w.str8(coin).u8(accept ? 1 : 0).str8(accept ? ours->stratum_host : "").u16(accept ? ours->stratum_port : 0);
          w.u32(accept ? miners : 0);
          l->conn->send(kFedTakeoverOffer, w.bytes());
          return;
        }
        case kFedTakeoverOffer: {
          WireReader r(payload);
          TakeoverOffer o;
          o.coin = r.str8("takeover_offer.coin");
          uint8_t a = r.u8("takeover_offer.accept");
          if (a > 1) throw WireError("takeover_offer.accept is not 0 or 1");
          o.accept = a;
          o.stratum_host = r.str8("takeover_offer.stratum_host");
          o.stratum_port = r.u16("takeover_offer.stratum_port");
          o.capacity = r.u32("takeover_offer.capacity");
          r.finish("takeover offer");
          if (o.stratum_host.empty() || o.stratum_host == "0.0.0.0" || o.stratum_host == "::")
            o.stratum_host = l->conn->remote_ip();
          std::string name = config.peers[l->peer_index].name;
          {
            std::lock_guard g(mu);
            peers[l->peer_index].offers[o.coin] = {o, Clock::now()};
            if (peers[l->peer_index].offers.size() > 64) peers[l->peer_index].offers.erase(o.coin);
          }
          if (cb.on_takeover_offer) callback([&] { cb.on_takeover_offer(name, o); });
          return;
        }
      }
      l->conn->close("unexpected message type", true);
    } catch (const WireError& e) {
      spdlog::warn("{} dropped: malformed message: {}", tag(*l), e.what());
      l->conn->close(std::string("malformed message: ") + e.what(), true);
    }
  }

  void refuse(const std::shared_ptr<Link>& l, const std::string& why) {
    spdlog::warn("{} refused: {}", tag(*l), why);
    WireWriter w;
    w.u8(1).str8(why.substr(0, 255));
    l->conn->send(kFedReject, w.bytes());
    l->conn->close_after_flush("refused: " + why);
  }

  // Connector: the listener's challenge names its key; it must be the one listed for the address.
  void on_challenge(const std::shared_ptr<Link>& l, ByteSpan payload) {
    WireReader r(payload);
    uint32_t version = r.u32("challenge.version");
    PublicKey theirs = r.array<32>("challenge.public_key");
    l->their_nonce = r.array<32>("challenge.nonce");
    r.finish("challenge");
    const auto& peer = config.peers[l->peer_index];
    if (version != kFederationVersion)
      return refuse(l, "federation protocol version " + std::to_string(version) + ", we speak " +
                           std::to_string(kFederationVersion));
    if (theirs != peer.public_key)
      return refuse(l, "wrong key: '" + peer.name + "' at " + peer.address + " is listed with key " +
                           to_hex(peer.public_key) + " but presents " + to_hex(theirs));
    l->our_nonce = random_nonce();
    auto sig = config.key->sign(
        federation_transcript(true, l->their_nonce, l->our_nonce, config.key->public_key(), peer.public_key));
    WireWriter w;
    w.u32(kFederationVersion).raw(config.key->public_key()).raw(l->our_nonce).str8(config.name.substr(0, 255)).raw(sig);
    l->state = Link::State::awaiting_ok;
    l->conn->send(kFedHello, w.bytes());
  }

  // Listener: the connector's key must be listed, and its signature must cover our nonce.
  void on_hello(const std::shared_ptr<Link>& l, ByteSpan payload) {
    WireReader r(payload);
    uint32_t version = r.u32("hello.version");
    PublicKey theirs = r.array<32>("hello.public_key");
    l->their_nonce = r.array<32>("hello.nonce");
    std::string name = r.str8("hello.name");
    Signature sig = r.array<64>("hello.signature");
    r.finish("hello");
    if (version != kFederationVersion)
      return refuse(l, "federation protocol version " + std::to_string(version) + ", we speak " +
                           std::to_string(kFederationVersion));
    int index = index_of(theirs);
    if (index < 0) return refuse(l, "unknown key " + to_hex(theirs) + " (\"" + name + "\"): not in federation.peers");
    if (!ed25519_verify(theirs,
                        federation_transcript(true, l->our_nonce, l->their_nonce, theirs, config.key->public_key()),
                        sig))
      return refuse(l, "bad signature for the key of '" + config.peers[index].name + "'");
    l->peer_index = index;
    auto ours = config.key->sign(
        federation_transcript(false, l->their_nonce, l->our_nonce, config.key->public_key(), theirs));
    if (!become_ready(l)) return;
    WireWriter w;
    w.str8(config.name.substr(0, 255)).raw(ours);
    l->conn->send(kFedAuthOk, w.bytes());
    announce_ready(l);
  }

  // Connector: the listener's signature over our nonce proves it holds the listed key.
  void on_auth_ok(const std::shared_ptr<Link>& l, ByteSpan payload) {
    WireReader r(payload);
    std::string name = r.str8("auth_ok.name");
    Signature sig = r.array<64>("auth_ok.signature");
    r.finish("auth_ok");
    const auto& peer = config.peers[l->peer_index];
    if (!ed25519_verify(peer.public_key,
                        federation_transcript(false, l->our_nonce, l->their_nonce, peer.public_key,
                                              config.key->public_key()),
                        sig))
      return refuse(l, "bad signature: '" + peer.name + "' does not hold the key listed for it");
    if (!become_ready(l)) return;
    announce_ready(l);
  }

  // One link per pool: of two, the one dialed by the smaller key stays.
  bool become_ready(const std::shared_ptr<Link>& l) {
    std::shared_ptr<Link> existing;
    const PublicKey& theirs = config.peers[l->peer_index].public_key;
    {
      std::lock_guard g(mu);
      existing = peers[l->peer_index].link;
    }
    if (existing && existing != l) {
      const PublicKey& dialer_new = l->inbound ? theirs : config.key->public_key();
      const PublicKey& dialer_old = existing->inbound ? theirs : config.key->public_key();
      if (dialer_new == dialer_old || dialer_new != std::min(theirs, config.key->public_key())) {
        refuse(l, "already linked");
        return false;
      }
      existing->conn->close("replaced by the link dialed by the smaller key");
    }
    std::lock_guard g(mu);
    l->state = Link::State::ready;
    peers[l->peer_index].link = l;
    peers[l->peer_index].failures = 0;
    return true;
  }

  void announce_ready(const std::shared_ptr<Link>& l) {
    std::string name = config.peers[l->peer_index].name;
    spdlog::info("{} up ({})", tag(*l), l->inbound ? "inbound" : "outbound");
    l->ping_sent = Clock::now();
    send_our_health(l);
    if (cb.on_link) callback([&] { cb.on_link(name, true); });
  }

  void on_closed(const std::shared_ptr<Link>& l, const std::string& why, bool violation) {
    bool was_ready = false;
    {
      std::lock_guard g(mu);
      links.erase(l->id);
      if (l->peer_index >= 0 && peers[l->peer_index].link == l) {
        was_ready = true;
        peers[l->peer_index].link.reset();
        peers[l->peer_index].health.clear();
        peers[l->peer_index].offers.clear();
        peers[l->peer_index].next_dial = Clock::now() + config.retry_min;
      }
    }
    if (violation && !was_ready) spdlog::warn("{} dropped: {}", tag(*l), why);
    if (was_ready) {
      std::string name = config.peers[l->peer_index].name;
      spdlog::warn("{} down: {}", tag(*l), why);
      if (cb.on_link) callback([&] { cb.on_link(name, false); });
    }
  }

  std::vector<std::shared_ptr<Link>> ready_links() const {
    std::lock_guard g(mu);
    std::vector<std::shared_ptr<Link>> out;
    for (auto& p : peers)
      if (p.link) out.push_back(p.link);
    return out;
  }

  void broadcast(uint8_t type, Bytes payload) {
    auto self = shared_from_this();
    asio::post(strand, [self, type, payload = std::move(payload)] {
      if (self->stopped) return;
      for (auto& l : self->ready_links()) l->conn->send(type, payload);
    });
  }
};

// ---- Federation ---------------------------------------------------------------------------------

Federation::Federation(asio::io_context& io, FederationConfig config, Callbacks callbacks) {
  if (!config.key) throw std::invalid_argument("federation: no key (federation.key_file)");
  for (size_t i = 0; i < config.peers.size(); ++i) {
    const auto& p = config.peers[i];
    if (p.name.empty()) throw std::invalid_argument("federation: peer " + std::to_string(i) + " has no name");
    if (!p.address.empty() && !split_host_port(p.address))
      throw std::invalid_argument("federation: peer '" + p.name + "': address '" + p.address + "' is not host:port");
    if (p.public_key == config.key->public_key())
      throw std::invalid_argument("federation: peer '" + p.name + "' has this pool's own key");
    for (size_t j = 0; j < i; ++j) {
      if (config.peers[j].public_key == p.public_key)
        throw std::invalid_argument("federation: peers '" + config.peers[j].name + "' and '" + p.name +
                                    "' have the same key");
      if (config.peers[j].name == p.name) throw std::invalid_argument("federation: two peers are named '" + p.name + "'");
    }
  }
  if (config.max_pending == 0 || config.tick.count() <= 0 || config.retry_min.count() <= 0 ||
      config.retry_max < config.retry_min)
    throw std::invalid_argument("federation: max_pending, tick and retry_min must be positive, retry_min <= retry_max");
  if (config.name.size() > 255) config.name.resize(255);
  impl_ = std::make_shared<Impl>(io, std::move(config), std::move(callbacks));
}

Federation::~Federation() { stop(); }

void Federation::start() {
  if (impl_->started || impl_->stopped) return;
  impl_->start();
}

void Federation::stop() {
  auto impl = impl_;
  if (impl->stopped.exchange(true)) return;
  { std::lock_guard g(impl->callback_mu); }
  if (impl->strand.running_in_this_thread() || impl->io.stopped() || !impl->started) {
    impl->shutdown_all();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  asio::post(impl->strand, [impl, done] {
    impl->shutdown_all();
    done->set_value();
  });
  f.wait_for(std::chrono::seconds(5));
}

uint16_t Federation::port() const { return impl_->bound_port; }

void Federation::announce_block(const BlockNotice& n) {
  WireWriter w;
  w.str8(n.coin).u64(n.height).raw(n.hash).i64(n.unix_ms ? n.unix_ms : unix_ms_now());
  impl_->broadcast(kFedBlock, w.take());
}

void Federation::set_health(const Health& health) {
  Health h = health;
  h.unix_ms = unix_ms_now();
  Bytes payload = encode_health(h);  // throws invalid_argument for an over-long coin or host
  {
    std::lock_guard g(impl_->mu);
    impl_->our_health[h.coin] = h;
  }
  impl_->broadcast(kFedHealth, std::move(payload));
}

void Federation::request_takeover(const std::string& coin, uint32_t miners) {
  WireWriter w;
  w.str8(coin).u32(miners);
  impl_->broadcast(kFedTakeoverRequest, w.take());
}

std::optional<std::pair<std::string, uint16_t>> Federation::healthy_stratum_for(const std::string& coin) const {
  std::lock_guard g(impl_->mu);
  auto now = Clock::now();
  std::optional<std::pair<std::string, uint16_t>> healthy;
  for (size_t i = 0; i < impl_->peers.size(); ++i) {
    const auto& p = impl_->peers[i];
    if (!p.link) continue;
    auto h = p.health.find(coin);
    if (h == p.health.end() || !h->second.first.daemon_ok || h->second.first.stratum_port == 0 ||
        now - h->second.second > impl_->config.health_max_age)
      continue;
    auto o = p.offers.find(coin);
    if (o != p.offers.end() && o->second.first.accept && o->second.first.stratum_port != 0 &&
        now - o->second.second <= impl_->config.health_max_age)
      return std::make_pair(o->second.first.stratum_host, o->second.first.stratum_port);
    if (!healthy) healthy = std::make_pair(h->second.first.stratum_host, h->second.first.stratum_port);
  }
  return healthy;
}

std::vector<LinkInfo> Federation::links() const {
  std::lock_guard g(impl_->mu);
  std::vector<LinkInfo> out;
  for (size_t i = 0; i < impl_->peers.size(); ++i) {
    const auto& cfg = impl_->config.peers[i];
    const auto& p = impl_->peers[i];
    LinkInfo info;
    info.name = cfg.name;
    info.public_key = to_hex(cfg.public_key);
    info.address = cfg.address;
    if (p.link) {
      info.up = true;
      info.inbound = p.link->inbound;
      info.ping_ms = p.link->ping_ms;
      info.address = join_host_port(p.link->conn->remote_ip(), p.link->conn->remote_port());
      for (auto& [coin, h] : p.health) info.health.push_back(h.first);
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace otedama::p2p
