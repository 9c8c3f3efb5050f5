// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <set>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "http/http.h"

namespace otedama::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

namespace {

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
      out += char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

void split_target(Request& r) {
  auto q = r.target.find('?');
  r.path = url_decode(r.target.substr(0, q));
  if (q == std::string::npos) return;
  std::string_view qs(r.target);
  qs.remove_prefix(q + 1);
  while (!qs.empty()) {
    auto amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    auto eq = kv.find('=');
    if (!kv.empty())
      r.query[url_decode(kv.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
}

}  // namespace

struct Session;
struct WsSession;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  asio::io_context& io;
  std::string name;
  std::shared_ptr<const Router> router;
  ServerOptions options;
  tcp::acceptor acceptor;
  bool stopped = false;
  std::set<Session*> sessions;
  std::set<WsSession*> websockets;
  std::map<std::string, size_t> websockets_per_ip;

  Impl(asio::io_context& io_, std::string n, std::shared_ptr<const Router> r, ServerOptions o)
      : io(io_), name(std::move(n)), router(std::move(r)), options(o), acceptor(io_) {}

  void accept();
};

struct Session : std::enable_shared_from_this<Session> {
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser;
  bhttp::response<bhttp::string_body> response;
  std::shared_ptr<Server::Impl> server;
  std::string remote_ip;
  bool busy = false;  // a request is being answered

  Session(tcp::socket s, std::shared_ptr<Server::Impl> srv) : stream(std::move(s)), server(std::move(srv)) {
    beast::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote_ip = ep.address().to_string();
  }
  ~Session() { server->sessions.erase(this); }

  void start() {
    server->sessions.insert(this);
    read();
  }

  void read() {
    busy = false;
    if (server->stopped) return close();
    parser.emplace();
    parser->body_limit(server->options.max_body);
    parser->header_limit(uint32_t(server->options.max_header));
    stream.expires_after(server->options.idle_timeout);
    bhttp::async_read(stream, buffer, *parser,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted || ec == beast::error::timeout)
      return close();
    if (ec) {
      // Malformed or oversized request: answer 400/413 once, then close.
      unsigned status = (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) ? 413 : 400;
      Response r = Response::error(status, "bad request: " + ec.message());
      bad_request = true;
      return write(r, 11, false);
    }
    busy = true;
    auto& req = parser->get();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    split_target(r);
    for (const auto& f : req) {
      std::string n(f.name_string());
      for (auto& c : n) c = char(tolower((unsigned char)c));
      r.headers[n] = std::string(f.value());
    }
    r.body = std::move(req.body());
    r.remote_ip = remote_ip;
    if (websocket::is_upgrade(req)) {
      if (const WebSocketRoute* route = server->router->websocket(r.path)) return upgrade(*route, std::move(r));
    }
    Response out = server->router->dispatch(r);
    if (r.method == "HEAD") out.body.clear();
    write(out, req.version(), req.keep_alive() && !server->stopped);
  }

  void upgrade(const WebSocketRoute& route, Request r);

  void write(const Response& r, unsigned version, bool keep_alive) {
    response = {};
    response.version(version);
    response.result(r.status);
    response.set(bhttp::field::server, "otedama");
    response.set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) response.set(k, v);
    response.body() = r.body;
    response.keep_alive(keep_alive);
    response.prepare_payload();
    stream.expires_after(server->options.idle_timeout);
    bhttp::async_write(stream, response, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      if (!ec && self->bad_request) return self->drain_then_close();
      if (ec || !keep_alive) return self->close();
      self->read();
    });
  }

  // After answering a request we did not read whole (413, 400): closing with unread input would
  // reset the connection and the client could lose the answer. Stop sending, read and drop what
  // the client still sends (at most 8 MiB or 2 s), then close.
  void drain_then_close() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(2));
    drain_buffer.resize(64 * 1024);
    drain_step();
  }
  void drain_step() {
    stream.async_read_some(asio::buffer(drain_buffer), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained += n;
      if (ec || self->drained > (8u << 20)) return self->close();
      self->drain_step();
    });
  }

  bool bad_request = false;
  std::vector<char> drain_buffer;
  size_t drained = 0;

  void close() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
  }
};

std::atomic<uint64_t> next_websocket_id{1};

// One WebSocket connection. Everything but send()/close() runs on the loop; the send queue is
// bounded by `pending` (bytes accepted by send() and not yet written), checked before queuing.
struct WsSession : WebSocket, std::enable_shared_from_this<WsSession> {
  websocket::stream<beast::tcp_stream> ws;
  std::shared_ptr<Server::Impl> server;
  std::string ip;
  uint64_t conn_id = next_websocket_id++;
  WebSocketRoute route;
  beast::flat_buffer in;
  std::deque<std::string> queue;
  std::atomic<size_t> pending{0};
  std::atomic<bool> open{false};
  bool writing = false, closing = false, close_sent = false, finished = false, registered = false, accepted = false;

  WsSession(beast::tcp_stream&& s, std::shared_ptr<Server::Impl> srv, std::string remote, WebSocketRoute r)
      : ws(std::move(s)), server(std::move(srv)), ip(std::move(remote)), route(std::move(r)) {}
  ~WsSession() override { unregister(); }

  void start(bhttp::request<bhttp::string_body> req, Request r) {
    registered = true;
    server->websockets.insert(this);
    ++server->websockets_per_ip[ip];
    ws.next_layer().expires_never();  // the websocket's own timeouts take over
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = server->options.websocket_idle_timeout;
    t.keep_alive_pings = true;
    ws.set_option(t);
    ws.read_message_max(server->options.websocket_max_message);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "otedama"); }));
    ws.async_accept(req, [self = shared_from_this(), r = std::move(r)](beast::error_code ec) {
      if (ec) return self->finish();
      self->accepted = true;
      self->open = true;
      if (self->route.on_open) self->route.on_open(self, r);
      self->read();
    });
  }

  void read() {
    ws.async_read(in, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->finish();
      std::string msg = beast::buffers_to_string(self->in.data());
      self->in.consume(self->in.size());
      if (self->route.on_message && !self->closing) self->route.on_message(self, std::move(msg));
      self->read();
    });
  }

  bool send(std::string text) override {
    if (!open) return false;
    size_t n = text.size();
    if (pending.fetch_add(n) + n > server->options.websocket_max_queue) {
      pending.fetch_sub(n);
      asio::post(ws.get_executor(), [self = shared_from_this()] {
        if (self->closing) return;
        spdlog::warn("{}: WebSocket client {} (#{}) dropped: it reads too slowly ({} bytes queued)", self->server->name,
                     self->ip, self->conn_id, self->pending.load());
        self->shutdown(false);
      });
      return false;
    }
    asio::post(ws.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      if (self->closing) {
        self->pending.fetch_sub(text.size());
        return;
      }
      self->queue.push_back(std::move(text));
      if (!self->writing) self->write_next();
    });
    return true;
  }

  void write_next() {
    writing = true;
    ws.text(true);
    ws.async_write(asio::buffer(queue.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing = false;
      self->pending.fetch_sub(self->queue.front().size());
      self->queue.pop_front();
      if (ec) return self->shutdown(false);
      if (self->closing) return self->shutdown(true);
      if (!self->queue.empty()) self->write_next();
    });
  }

  void close() override {
    asio::post(ws.get_executor(), [self = shared_from_this()] { self->shutdown(true); });
  }

  // graceful: a close frame (going away) once no write is in flight; else the socket is cut.
  void shutdown(bool graceful) {
    closing = true;
    open = false;
    if (graceful && !writing) {
      if (close_sent || !ws.is_open()) return;
      close_sent = true;
      ws.async_close(websocket::close_code::going_away, [self = shared_from_this()](beast::error_code) {});
      return;
    }
    if (!graceful) {
      beast::error_code ec;
      ws.next_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
      ws.next_layer().socket().close(ec);
    }
  }

  // The read loop ended: the connection is gone.
  void finish() {
    if (finished) return;
    finished = true;
    open = false;
    closing = true;
    beast::error_code ec;
    ws.next_layer().socket().close(ec);
    unregister();
    if (accepted && route.on_close) route.on_close(shared_from_this());
  }

  void unregister() {
    if (!registered) return;
    registered = false;
    server->websockets.erase(this);
    auto it = server->websockets_per_ip.find(ip);
    if (it != server->websockets_per_ip.end() && --it->second == 0) server->websockets_per_ip.erase(it);
  }

  bool is_open() const override { return open; }
  const std::string& remote_ip() const override { return ip; }
  uint64_t id() const override { return conn_id; }
  size_t queued_bytes() const override { return pending; }
};

void Session::upgrade(const WebSocketRoute& route, Request r) {
  auto refuse = [&](const Response& why) { write(why, parser->get().version(), false); };
  if (server->stopped) return refuse(Response::error(503, "the server is stopping"));
  if (auto refused = server->router->filter(r)) return refuse(*refused);
  if (route.accept)
    if (auto refused = route.accept(r)) return refuse(*refused);
  auto it = server->websockets_per_ip.find(remote_ip);
  if (it != server->websockets_per_ip.end() && it->second >= server->options.max_websockets_per_ip)
    return refuse(too_many_requests(5, "too many WebSocket connections from " + remote_ip + " (at most " +
                                           std::to_string(server->options.max_websockets_per_ip) + ")"));
  auto ws = std::make_shared<WsSession>(std::move(stream), server, remote_ip, route);
  ws->start(parser->release(), std::move(r));
  // This HTTP session ends here: the socket belongs to the WebSocket now.
}

void Server::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || self->stopped) return;
    if (!ec) {
      if (self->sessions.size() + self->websockets.size() >= self->options.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), self)->start();
      }
    }
    self->accept();
  });
}

Server::Server(asio::io_context& io, std::string name, std::shared_ptr<const Router> router, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(name), std::move(router), options)) {}

Server::~Server() {
  if (impl_) {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  }
}

void Server::listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto where = [&] { return "cannot listen on " + host + ":" + std::to_string(port) + " (" + impl_->name + "): "; };
  auto addr = asio::ip::make_address(host, ec);
  tcp::endpoint ep;
  if (ec) {
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) throw std::runtime_error(where() + "cannot resolve host: " + ec.message());
    ep = *results.begin();
  } else {
    ep = tcp::endpoint(addr, port);
  }
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (ec) throw std::runtime_error(where() + ec.message());
  a.set_option(asio::socket_base::reuse_address(true), ec);
  a.bind(ep, ec);
  if (ec) throw std::runtime_error(where() + ec.message());
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(where() + ec.message());
}

void Server::start() { impl_->accept(); }

void Server::stop() {
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  // Idle keep-alive connections are closed now; busy ones close after their response.
  for (Session* s : std::vector<Session*>(impl_->sessions.begin(), impl_->sessions.end()))
    if (!s->busy) s->stream.socket().cancel(ec);
  for (WsSession* w : std::vector<WsSession*>(impl_->websockets.begin(), impl_->websockets.end())) w->shutdown(true);
}

uint16_t Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

const std::string& Server::name() const { return impl_->name; }
size_t Server::active_connections() const { return impl_->sessions.size() + impl_->websockets.size(); }
size_t Server::websocket_connections() const { return impl_->websockets.size(); }

}  // namespace otedama::http
