// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

#include "http/http.h"

namespace otedama::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

Url parse_url(const std::string& url) {
  Url u;
  auto sep = url.find("://");
  if (sep == std::string::npos) throw std::invalid_argument("not a URL (expected http://host:port/...): " + url);
  u.scheme = url.substr(0, sep);
  if (u.scheme != "http" && u.scheme != "ws") throw std::invalid_argument("only http:// and ws:// URLs are supported: " + url);
  std::string rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad IPv6 host in URL: " + url);
    u.host = hostport.substr(1, close - 1);
    u.port = close + 2 <= hostport.size() && hostport.size() > close + 1 ? hostport.substr(close + 2) : "80";
  } else {
    auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    u.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  }
  if (u.host.empty() || u.port.empty()) throw std::invalid_argument("URL has no host or port: " + url);
  return u;
}

ClientResponse request(const std::string& method, const std::string& url, const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       std::chrono::milliseconds timeout) {
  Url u = parse_url(url);
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), u.target, 11};
  req.set(bhttp::field::host, u.host);
  req.set(bhttp::field::user_agent, "otedama");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.body() = body;
    if (req[bhttp::field::content_type].empty()) req.set(bhttp::field::content_type, "application/json");
    req.prepare_payload();
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code result = asio::error::timed_out;
  std::string stage = "connect";

  stream.expires_after(timeout);
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return void(result = ec);
    stream.async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return void(result = ec);
      stage = "send";
      bhttp::async_write(stream, req, [&](beast::error_code write_ec, size_t) {
        // A server may answer before reading the whole body (413, 429) and stop reading: the
        // write then fails, but its answer is there to read.
        stage = write_ec ? "send" : "read";
        bhttp::async_read(stream, buffer, parser, [&, write_ec](beast::error_code ec, size_t) {
          result = ec && write_ec ? write_ec : ec;
        });
      });
    });
  });
  io.run_for(timeout + std::chrono::milliseconds(200));
  if (result) {
    std::string what = result == beast::error::timeout || result == asio::error::timed_out ? "timed out" : result.message();
    throw std::runtime_error("cannot " + stage + " " + url + ": " + what);
  }
  ClientResponse out;
  auto& res = parser.get();
  out.status = res.result_int();
  out.body = std::move(res.body());
  for (const auto& f : res) {
    std::string n(f.name_string());
    for (auto& c : n) c = char(tolower((unsigned char)c));
    out.headers[n] = std::string(f.value());
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace otedama::http
