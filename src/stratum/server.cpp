// The Stratum v1 server: accept loop, sessions (line framing, JSON-RPC, method dispatch), jobs
// with the difficulty in force per job, share pre-checks, flood limits and bans.
//
// Memory per idle connection is kept small on purpose (the goal is 10,000 connections at a few
// KiB each): reads wait for readiness and then read into one buffer per thread, so an idle
// session holds no read buffer; replies are written at once when the socket takes them and
// queued only when it does not; job lines are shared between sessions, not copied.
#include "stratum/connection.h"

namespace otedama::stratum {

// ---- Session ------------------------------------------------------------------------------

namespace {
Connection& conn(Session* s) { return *static_cast<Connection*>(s); }
}  // namespace

std::string Session::extranonce1_hex() const { return hex_bytes(extranonce1_.data(), extranonce1_size_); }

double Session::set_difficulty(double difficulty) {
  difficulty_ = conn(this).clamp_difficulty(difficulty);
  return difficulty_;
}

double Session::set_fixed_difficulty(double difficulty) {
  difficulty_fixed_ = true;
  return set_difficulty(difficulty);
}

bool Session::set_extranonce(ByteSpan extranonce1, size_t extranonce2_size) {
  if (!extranonce_subscribed_) return false;
  if (extranonce1.empty() || extranonce1.size() > 8 || extranonce2_size < 1 || extranonce2_size > 8)
    throw std::invalid_argument("set_extranonce: extranonce1 and extranonce2 sizes must be 1..8 bytes");
  auto& c = conn(this);
  uint64_t v = pack(extranonce1.data(), extranonce1.size());
  uint64_t old = pack(extranonce1_.data(), extranonce1_size_);
  if (v != old || extranonce1.size() != extranonce1_size_) {
    if (c.server->extranonce1_in_use.count(v))
      throw std::invalid_argument("set_extranonce: extranonce1 " + to_hex(extranonce1) + " is in use");
    c.server->extranonce1_in_use.erase(old);
    c.server->extranonce1_in_use.insert(v);
  }
  std::copy(extranonce1.begin(), extranonce1.end(), extranonce1_.begin());
  extranonce1_size_ = uint8_t(extranonce1.size());
  extranonce2_size_ = uint8_t(extranonce2_size);
  c.send(notification("mining.set_extranonce",
                      "[\"" + extranonce1_hex() + "\"," + std::to_string(extranonce2_size) + "]"));
  return true;
}

void Session::reconnect(const std::string& host, uint16_t port, uint32_t wait_seconds) {
  json params = json::array({host, port, wait_seconds});
  conn(this).send(notification("client.reconnect", params.dump()));
}

void Session::show_message(const std::string& text) {
  conn(this).send(notification("client.show_message", json::array({text}).dump()));
}

void Session::disconnect() { conn(this).close_gracefully(); }

// ---- Server -------------------------------------------------------------------------------

std::vector<std::shared_ptr<Connection>> Server::Impl::snapshot() const {
  std::vector<std::shared_ptr<Connection>> out;
  out.reserve(sessions.size());
  for (const auto& [id, c] : sessions) out.push_back(c);
  return out;
}

bool Server::Impl::allocate_extranonce1(size_t size, uint64_t& out) {
  uint64_t space_mask = size >= 8 ? ~0ull : ((1ull << (8 * size)) - 1);
  if (size < 8 && extranonce1_in_use.size() > space_mask) return false;
  for (int tries = 0; tries < 1 << 20; ++tries) {
    uint64_t v = next_extranonce1++ & space_mask;
    if (extranonce1_in_use.insert(v).second) {
      out = v;
      return true;
    }
  }
  return false;
}

void Server::Impl::accept(bool secure) {
  auto& a = secure ? tls_acceptor : acceptor;
  a.async_accept([self = shared_from_this(), secure](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || self->stopped) return;
    if (ec) {  // e.g. out of file descriptors: try again shortly instead of spinning
      spdlog::warn("stratum {}: accept failed: {}", self->cfg.name, ec.message());
      auto& retry = secure ? self->tls_accept_retry : self->accept_retry;
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([self, secure](boost::system::error_code e) {
        if (!e && !self->stopped) self->accept(secure);
      });
      return;
    }
    self->on_accept(std::move(socket), secure);
    self->accept(secure);
  });
}

void Server::Impl::on_accept(tcp::socket socket, bool secure) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return;
  std::string ip = ep.address().to_string();
  if (banned(ip, Clock::now())) {
    m_refused_banned.inc();
    socket.close(ec);
    return;
  }
  std::unique_ptr<tls::Channel> channel;
  if (secure) {
    try {
      channel = std::make_unique<tls::Channel>(tls_ctx.get());
    } catch (const std::exception& e) {
      spdlog::warn("stratum {}: refusing a TLS connection from {}: {}", cfg.name, ip, e.what());
      socket.close(ec);
      return;
    }
  }
  uint64_t en1 = 0;
  if (sessions.size() >= cfg.max_connections || !allocate_extranonce1(cfg.extranonce1_size, en1)) {
    m_refused_full.inc();
    socket.close(ec);
    return;
  }
  auto c = std::make_shared<Connection>(shared_from_this(), std::move(socket));
  c->init(next_id++, std::move(ip), en1);
  if (channel) c->attach_tls(std::move(channel));
  sessions.emplace(c->id(), c);
  m_connections_total.inc();
  m_connections.set(double(sessions.size()));
  c->start();
  if (handler) handler->on_connect(*c);
}

void Server::Impl::schedule_sweep() {
  auto period = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), cfg.idle_timeout / 2);
  if (tls_ctx) period = std::min(period, cfg.tls_handshake_timeout / 2);
  sweep_timer.expires_after(std::max(period, std::chrono::milliseconds(10)));
  sweep_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped) return;
    self->sweep();
    self->schedule_sweep();
  });
}

void Server::Impl::sweep() {
  auto now = Clock::now();
  for (auto& c : snapshot())
    if (!c->closed && now - c->last_activity > cfg.idle_timeout) {
      spdlog::debug("stratum {}: {} idle for {}, closing", cfg.name, c->remote_ip(), format_duration(cfg.idle_timeout));
      c->close_gracefully();
    }
  if (tls_ctx)  // stratum+ssl: a handshake that never finishes holds a slot; drop it
    for (auto& c : snapshot())
      if (!c->closed && c->channel && !c->channel->handshake_done() && now - c->last_activity > cfg.tls_handshake_timeout) {
        if (m_tls_failures) m_tls_failures->inc();
        spdlog::debug("stratum {}: TLS handshake with {} timed out", cfg.name, c->remote_ip());
        c->finish();
      }
  std::erase_if(bans, [now](const auto& b) { return b.second <= now; });
}

void Server::Impl::remember_job(const std::shared_ptr<const JobEntry>& e) {
  std::string& slot = recent_order[recent_next];
  if (!slot.empty()) recent_jobs.erase(slot);
  slot = e->job.id;
  recent_jobs[slot] = e->seq;
  recent_next = (recent_next + 1) % recent_order.size();
}

std::shared_ptr<const JobEntry> Server::Impl::make_entry(Job job) {
  auto bad = [&](const std::string& what) {
    throw std::invalid_argument("stratum job '" + job.id.substr(0, 64) + "': " + what);
  };
  if (job.id.empty() || job.id.size() > 64) bad("the id must be 1..64 characters");
  if (recent_jobs.count(job.id)) bad("the id was used before");
  if (job.prevhash_hex.size() != 64 || !is_hex(job.prevhash_hex)) bad("prevhash must be 64 hex digits");
  if (job.coinb1_hex.size() % 2 || !is_hex(job.coinb1_hex)) bad("coinb1 is not hex");
  if (job.coinb2_hex.size() % 2 || !is_hex(job.coinb2_hex)) bad("coinb2 is not hex");
  for (const auto& b : job.merkle_branch_hex)
    if (b.size() != 64 || !is_hex(b)) bad("merkle branch entries must be 64 hex digits");
  auto e = std::make_shared<JobEntry>();
  e->line = std::make_shared<const std::string>(notify_line(job));
  e->job = std::move(job);
  e->seq = ++job_seq;
  remember_job(e);
  return e;
}

Server::Server(asio::io_context& io, ServerConfig config, Handler& handler) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("stratum config: " + what); };
  if (config.extranonce1_size < 1 || config.extranonce1_size > 8) bad("extranonce1_size must be 1..8");
  if (config.extranonce2_size < 1 || config.extranonce2_size > 8) bad("extranonce2_size must be 1..8");
  if (!(config.min_difficulty > 0) || !(config.max_difficulty >= config.min_difficulty) ||
      !std::isfinite(config.max_difficulty))
    bad("difficulty needs 0 < min <= max");
  if (!(config.initial_difficulty > 0)) bad("initial difficulty must be positive");
  if (config.max_line < 64) bad("max_line must be at least 64 bytes");
  if (config.max_jobs_per_session < 1) bad("max_jobs_per_session must be at least 1");
  if (config.idle_timeout.count() <= 0) bad("idle_timeout must be positive");
  if (config.tls_handshake_timeout.count() <= 0) bad("tls_handshake_timeout must be positive");
  if (config.diff1_target.is_zero()) bad("diff1_target must not be zero");
  impl_ = std::make_shared<Impl>(io, std::move(config), handler);
}

Server::~Server() {
  stop();
  impl_->handler = nullptr;
}

namespace {
void bind_acceptor(Server::Impl& impl, tcp::acceptor& a, const std::string& host, uint16_t port, const char* kind) {
  boost::system::error_code ec;
  auto where = [&] {
    return "cannot listen on " + host + ":" + std::to_string(port) + " (stratum " + impl.cfg.name + kind + "): ";
  };
  auto addr = asio::ip::make_address(host, ec);
  tcp::endpoint ep;
  if (ec) {
    tcp::resolver resolver(impl.io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) throw std::runtime_error(where() + "cannot resolve host: " + ec.message());
    ep = *results.begin();
  } else {
    ep = tcp::endpoint(addr, port);
  }
  a.open(ep.protocol(), ec);
  if (ec) throw std::runtime_error(where() + ec.message());
  a.set_option(asio::socket_base::reuse_address(true), ec);
  a.bind(ep, ec);
  if (ec) {
    a.close();
    throw std::runtime_error(where() + ec.message());
  }
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(where() + ec.message());
}
}  // namespace

void Server::listen(const std::string& host, uint16_t port) { bind_acceptor(*impl_, impl_->acceptor, host, port, ""); }

void Server::listen_tls(const std::string& host, uint16_t port, const std::string& cert_file,
                        const std::string& key_file) {
  if (impl_->tls_acceptor.is_open())
    throw std::runtime_error("stratum " + impl_->cfg.name + ": listen_tls was called already");
  auto ctx = tls::make_server_context(cert_file, key_file);  // before binding: no half-open port
  bind_acceptor(*impl_, impl_->tls_acceptor, host, port, ", TLS");
  impl_->tls_ctx = std::move(ctx);
  impl_->m_tls_failures = &metrics().counter("otedama_stratum_tls_handshake_failures_total",
                                             "TLS handshakes that failed or timed out", {{"server", impl_->cfg.name}});
}

void Server::start() {
  impl_->stopped = false;
  if (impl_->acceptor.is_open()) impl_->accept();
  if (impl_->tls_acceptor.is_open()) impl_->accept(true);
  impl_->schedule_sweep();
}

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->tls_acceptor.close(ec);
  impl_->sweep_timer.cancel();
  impl_->accept_retry.cancel();
  impl_->tls_accept_retry.cancel();
  for (auto& c : impl_->snapshot()) c->close_gracefully();
}

uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

uint16_t Server::tls_port() const {
  boost::system::error_code ec;
  auto ep = impl_->tls_acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

const ServerConfig& Server::config() const { return impl_->cfg; }

void Server::notify_all(Job job) {
  auto e = impl_->make_entry(std::move(job));
  impl_->current_job = e;
  for (auto& c : impl_->snapshot())
    if (c->ready_for_jobs()) c->send_job(e);
}

bool Server::notify(SessionId id, Job job) {
  auto it = impl_->sessions.find(id);
  if (it == impl_->sessions.end() || !it->second->ready_for_jobs()) return false;
  auto c = it->second;
  c->send_job(impl_->make_entry(std::move(job)));
  return true;
}

void Server::set_version_mask(uint32_t mask) {
  impl_->cfg.version_mask = mask;
  for (auto& c : impl_->snapshot()) c->change_version_mask(mask);
}

Session* Server::find(SessionId id) {
  auto it = impl_->sessions.find(id);
  return it == impl_->sessions.end() || it->second->closed ? nullptr : it->second.get();
}

void Server::for_each_session(const std::function<void(Session&)>& fn) {
  for (auto& c : impl_->snapshot())
    if (!c->closed) fn(*c);
}

size_t Server::session_count() const { return impl_->sessions.size(); }

void Server::ban(const std::string& ip, std::chrono::milliseconds duration) {
  impl_->bans[ip] = Clock::now() + duration;
}

bool Server::is_banned(const std::string& ip) const { return impl_->banned(ip, Clock::now()); }

}  // namespace otedama::stratum
