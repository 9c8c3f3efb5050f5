// http: a small HTTP/1.1 server (Boost.Beast on the node's Asio loop) with a route table,
// and a blocking client for the CLI and tests. Adding an endpoint is one Router::add call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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

// Exact-path routes, plus prefix routes (path ending in "/*") for things like /api/miners/{address}.
class Router {
 public:
  void add(const std::string& method, const std::string& path, Handler handler);
  // 404 for an unknown path, 405 (with Allow) for a known path and another method.
  Response dispatch(const Request& request) const;
  std::vector<std::pair<std::string, std::string>> routes() const;  // (method, path)

 private:
  struct Route {
    std::string method, path;
    bool prefix;
    Handler handler;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::chrono::seconds idle_timeout{30};
  size_t max_body = 1 << 20;
  size_t max_header = 16 << 10;
  size_t max_connections = 1024;
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
  size_t active_connections() const;

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
// http://host:port/target -> parts; throws std::invalid_argument.
Url parse_url(const std::string& url);

}  // namespace otedama::http
