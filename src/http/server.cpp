// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <set>
#include <stdexcept>

#include "http/http.h"

namespace otedama::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
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

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  asio::io_context& io;
  std::string name;
  std::shared_ptr<const Router> router;
  ServerOptions options;
  tcp::acceptor acceptor;
  bool stopped = false;
  std::set<Session*> sessions;

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
    Response out = server->router->dispatch(r);
    if (r.method == "HEAD") out.body.clear();
    write(out, req.version(), req.keep_alive() && !server->stopped);
  }

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
      if (ec || !keep_alive) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
  }
};

void Server::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || self->stopped) return;
    if (!ec) {
      if (self->sessions.size() >= self->options.max_connections) {
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
}

uint16_t Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

const std::string& Server::name() const { return impl_->name; }
size_t Server::active_connections() const { return impl_->sessions.size(); }

}  // namespace otedama::http
