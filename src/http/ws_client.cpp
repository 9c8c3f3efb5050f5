// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <stdexcept>

#include "http/http.h"

namespace otedama::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

// One read is always pending once connected; messages land in `inbox`. The io_context runs
// only inside the calls, so a client that does not call receive() does not answer pings
// either (which is how tests play a stalled client).
struct WebSocketClient::Impl {
  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  beast::flat_buffer buffer;
  std::deque<std::string> inbox;
  std::string closed_reason;  // set when the connection ended
  bool reading = false;

  void read() {
    reading = true;
    ws.async_read(buffer, [this](beast::error_code ec, size_t) {
      reading = false;
      if (ec) {
        closed_reason = ec == websocket::error::closed ? "closed by the server (" + std::string(ws.reason().reason.data(), ws.reason().reason.size()) +
                                                             " code " + std::to_string(ws.reason().code) + ")"
                                                       : ec.message();
        return;
      }
      inbox.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
      read();
    });
  }

  // Runs the loop until `done` or the deadline; false on timeout.
  template <class F>
  bool run_until(F done, std::chrono::steady_clock::time_point deadline) {
    while (!done()) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      io.restart();
      io.run_one_for(deadline - now);
    }
    return true;
  }
};

WebSocketClient::WebSocketClient(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  Url u = parse_url(url);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto& ws = impl_->ws;
  tcp::resolver resolver(impl_->io);
  beast::error_code ec;
  auto results = resolver.resolve(u.host, u.port, ec);
  if (ec) throw std::runtime_error("cannot resolve " + u.host + ": " + ec.message());
  bool done = false;
  beast::get_lowest_layer(ws).expires_after(timeout);
  beast::get_lowest_layer(ws).async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { ec = e, done = true; });
  impl_->run_until([&] { return done; }, deadline + std::chrono::milliseconds(100));
  if (!done || ec) throw std::runtime_error("cannot connect to " + u.host + ":" + u.port + ": " + (done ? ec.message() : "timeout"));
  beast::get_lowest_layer(ws).expires_never();
  websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::client);
  t.handshake_timeout = timeout;
  ws.set_option(t);
  ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    req.set(bhttp::field::user_agent, "otedama");
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  websocket::response_type res;
  done = false;
  ws.async_handshake(res, u.host + ":" + u.port, u.target, [&](beast::error_code e) { ec = e, done = true; });
  impl_->run_until([&] { return done; }, deadline + std::chrono::milliseconds(100));
  if (!done) throw std::runtime_error("WebSocket handshake with " + url + " timed out");
  if (ec) {
    if (ec == websocket::error::upgrade_declined)
      throw std::runtime_error("HTTP " + std::to_string(res.result_int()) + " " + res.body());
    throw std::runtime_error("WebSocket handshake with " + url + " failed: " + ec.message());
  }
  impl_->read();
}

WebSocketClient::~WebSocketClient() {
  if (impl_ && impl_->closed_reason.empty()) {
    beast::error_code ec;
    beast::get_lowest_layer(impl_->ws).socket().close(ec);
  }
}

void WebSocketClient::send(const std::string& text) {
  if (!impl_->closed_reason.empty()) throw std::runtime_error("WebSocket closed: " + impl_->closed_reason);
  bool done = false;
  beast::error_code ec;
  impl_->ws.text(true);
  impl_->ws.async_write(asio::buffer(text), [&](beast::error_code e, size_t) { ec = e, done = true; });
  if (!impl_->run_until([&] { return done; }, std::chrono::steady_clock::now() + std::chrono::seconds(10)))
    throw std::runtime_error("WebSocket send timed out");
  if (ec) throw std::runtime_error("WebSocket send failed: " + ec.message());
}

std::optional<std::string> WebSocketClient::receive(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  d.run_until([&] { return !d.inbox.empty() || !d.closed_reason.empty(); }, std::chrono::steady_clock::now() + timeout);
  if (!d.inbox.empty()) {
    std::string m = std::move(d.inbox.front());
    d.inbox.pop_front();
    return m;
  }
  if (!d.closed_reason.empty()) throw std::runtime_error("WebSocket closed: " + d.closed_reason);
  return std::nullopt;
}

void WebSocketClient::close() {
  auto& d = *impl_;
  if (!d.closed_reason.empty()) return;
  bool done = false;
  d.ws.async_close(websocket::close_code::normal, [&](beast::error_code) { done = true; });
  d.run_until([&] { return done && !d.reading; }, std::chrono::steady_clock::now() + std::chrono::seconds(5));
  if (d.closed_reason.empty()) d.closed_reason = "closed by the client";
  beast::error_code ec;
  beast::get_lowest_layer(d.ws).socket().close(ec);
}

bool WebSocketClient::is_open() const { return impl_->closed_reason.empty(); }

}  // namespace otedama::http
