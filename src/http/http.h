// http: a small HTTP/1.1 server (Boost.Beast on the node's Asio loop) with a route table,
// WebSocket routes (upgrade on a path; bounded per-connection send queue; ping/pong keep-alive;
// a per-IP connection cap), a per-client token-bucket rate limiter, and blocking HTTP and
// WebSocket clients for the CLI and tests. Adding an endpoint is one Router::add call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace otedama::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: /api/blocks?page=2
  std::string path;    // /api/blocks
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remote_ip;
  std::string header(const std::string& lower_name) const;
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(unsigned status, std::string body);
  static Response text(unsigned status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  // {"error":{"code":status,"message":...}}
  static Response error(unsigned status, const std::string& message);
};

using Handler = std::function<Response(const Request&)>;

// One accepted WebSocket connection. send() and close() may be called from any thread; the
// connection itself lives on the server's loop.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Queues one text message. When the bytes queued and not yet written would pass
  // ServerOptions::websocket_max_queue, the client is too slow: it is disconnected and the
  // message is dropped (memory never grows with a stalled reader). false when not sent.
  virtual bool send(std::string text) = 0;
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  virtual const std::string& remote_ip() const = 0;
  virtual uint64_t id() const = 0;
  virtual size_t queued_bytes() const = 0;
};
using WebSocketPtr = std::shared_ptr<WebSocket>;

// What a WebSocket route does. Each callback is optional and runs on the server's loop.
struct WebSocketRoute {
  // Before the upgrade: a Response refuses it (e.g. 401, 429), nullopt accepts.
  std::function<std::optional<Response>(const Request&)> accept;
  std::function<void(const WebSocketPtr&, const Request&)> on_open;
  std::function<void(const WebSocketPtr&, std::string message)> on_message;
  std::function<void(const WebSocketPtr&)> on_close;
};

// Exact-path routes, plus prefix routes (path ending in "/*") for things like /api/miners/{address}.
class Router {
 public:
  void add(const std::string& method, const std::string& path, Handler handler);
  // A WebSocket endpoint (GET with Upgrade: websocket). A plain GET on it answers 426.
  void add_websocket(const std::string& path, WebSocketRoute route);
  // Runs before every route (also before WebSocket upgrades): a Response short-circuits the
  // request (e.g. a rate limit's 429). Only one; a later call replaces it.
  void set_filter(std::function<std::optional<Response>(const Request&)> filter);
  // 404 for an unknown path, 405 (with Allow) for a known path and another method.
  Response dispatch(const Request& request) const;
  // The route for an upgrade request's path, or nullptr.
  const WebSocketRoute* websocket(const std::string& path) const;
  std::optional<Response> filter(const Request& request) const;
  std::vector<std::pair<std::string, std::string>> routes() const;  // (method, path); WebSockets as GET

 private:
  struct Route {
    std::string method, path;
    bool prefix;
    Handler handler;
  };
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, WebSocketRoute>> websockets_;
  std::function<std::optional<Response>(const Request&)> filter_;
};

struct ServerOptions {
  std::chrono::seconds idle_timeout{30};
  size_t max_body = 1 << 20;
  size_t max_header = 16 << 10;
  size_t max_connections = 1024;
  // WebSockets: open connections per client IP (more are refused with 429), bytes queued per
  // connection before a slow client is dropped, the largest message accepted from a client,
  // and the keep-alive: a ping after half the idle time without traffic, and the connection
  // is closed when nothing (no pong) arrives in the other half.
  size_t max_websockets_per_ip = 8;
  size_t websocket_max_queue = 4 << 20;
  size_t websocket_max_message = 64 << 10;
  std::chrono::milliseconds websocket_idle_timeout{30000};
};

// Listens on one address; serves each connection with keep-alive. Thread-compatible with a
// single-threaded io_context (the node's loop).
class Server {
 public:
  Server(boost::asio::io_context& io, std::string name, std::shared_ptr<const Router> router,
         ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens now; throws std::runtime_error naming the address on failure
  // (e.g. "address already in use").
  void listen(const std::string& host, uint16_t port);
  void start();  // begin accepting
  void stop();   // stop accepting and close idle connections; in-flight responses finish
  uint16_t port() const;
  const std::string& name() const;
  size_t active_connections() const;  // HTTP and WebSocket
  size_t websocket_connections() const;

  struct Impl;  // public so the connection type in server.cpp can name it

 private:
  std::shared_ptr<Impl> impl_;
};

struct ClientResponse {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Blocking request (http:// only). Throws std::runtime_error with a readable message when the
// server cannot be reached, times out, or the URL is malformed.
ClientResponse request(const std::string& method, const std::string& url, const std::string& body = "",
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
inline ClientResponse get(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return request("GET", url, "", {}, timeout);
}

struct Url {
  std::string scheme, host, port, target;
};
// http://host:port/target (also ws://) -> parts; throws std::invalid_argument.
Url parse_url(const std::string& url);

// A blocking WebSocket client (ws:// only), for the CLI and tests. Not thread-safe.
class WebSocketClient {
 public:
  // Connects and completes the handshake; throws std::runtime_error with the reason (for a
  // refused upgrade: "HTTP 429 ..." with the server's body).
  explicit WebSocketClient(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  void send(const std::string& text);
  // The next text message, or nullopt on timeout. Throws std::runtime_error when the
  // connection is closed (the message says why). Answers pings while it waits.
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  void close();
  bool is_open() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Per-client token buckets: each key (a client IP) may make `burst` requests at once and
// `rate` per second sustained. Thread-safe; memory is bounded by max_keys (idle clients, whose
// buckets have refilled, are forgotten first; when every tracked client is active, new ones are
// refused until some go idle).
class RateLimiter {
 public:
  struct Options {
    double rate = 20;   // tokens per second
    double burst = 40;  // bucket size
    size_t max_keys = 100000;
  };
  explicit RateLimiter(Options options);
  // 0 when the request may go ahead (a token is taken), else the seconds until it may.
  double acquire(const std::string& key, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  size_t tracked() const;
  const Options& options() const { return options_; }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  void prune(std::chrono::steady_clock::time_point now);
  Options options_;
  mutable std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;
};

// A 429 with Retry-After (whole seconds, at least 1) and the JSON error body.
Response too_many_requests(double retry_after_seconds, const std::string& message);

}  // namespace otedama::http
