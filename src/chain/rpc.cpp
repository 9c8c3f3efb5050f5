// JSON-RPC over HTTP/1.1 keep-alive to a Bitcoin-Core-style daemon (Boost.Beast).
//
// Each connection owns a private io_context and runs it for one request at a time: the
// calls are blocking for the caller, and Beast's tcp_stream timer enforces the deadline.
// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <fstream>
#include <sstream>

#include "chain/chain.h"

namespace otedama::chain {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

RpcError::RpcError(std::string m, int c, std::string msg)
    : ChainError(m + ": RPC error " + std::to_string(c) + ": " + msg), method(std::move(m)), code(c), message(std::move(msg)) {}

namespace {

std::string base64(std::string_view in) {
  static constexpr char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(t[(v >> (6 * k)) & 63]);
  }
  if (size_t rest = in.size() - i) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(in[i + 1])) << 8 : 0);
    out.push_back(t[(v >> 18) & 63]);
    out.push_back(t[(v >> 12) & 63]);
    out.push_back(rest == 2 ? t[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string read_cookie(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw AuthError("cannot read the RPC cookie file " + path + " (is the daemon running with this datadir?)");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.find(':') == std::string::npos) throw AuthError("RPC cookie file " + path + " does not hold user:password");
  return line;
}

bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == bhttp::error::partial_message;
}

}  // namespace

struct RpcClient::Connection {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::mutex mutex;                 // one request at a time
  std::mutex cancel_mutex;          // guards in_flight for cancel()
  bool in_flight = false;
  uint64_t next_id = 1;

  void close() {
    if (stream) {
      beast::error_code ec;
      stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream->socket().close(ec);
      stream.reset();
    }
    buffer.consume(buffer.size());
  }

  // Runs the queued operations to completion; the stream's timer bounds them.
  void run() {
    io.restart();
    io.run();
  }

  void cancel() {
    std::lock_guard lock(cancel_mutex);
    if (!in_flight) return;
    asio::post(io, [this] {
      if (stream) stream->cancel();
    });
  }
};

RpcClient::RpcClient(RpcOptions options) : options_(std::move(options)) {
  const std::string& url = options_.url;
  auto sep = url.find("://");
  if (sep == std::string::npos || url.substr(0, sep) != "http")
    throw std::invalid_argument("daemon URL must be http://host:port[/path], got \"" + url + "\"");
  std::string rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  target_ = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad IPv6 host in daemon URL \"" + url + "\"");
    host_ = hostport.substr(1, close - 1);
    port_ = close + 1 < hostport.size() && hostport[close + 1] == ':' ? hostport.substr(close + 2) : "";
  } else {
    host_ = hostport.substr(0, colon);
    port_ = colon == std::string::npos ? "" : hostport.substr(colon + 1);
  }
  if (host_.empty() || port_.empty())
    throw std::invalid_argument("daemon URL needs a host and a port: \"" + url + "\"");
  if (options_.cookie_file.empty() && options_.user.empty())
    throw std::invalid_argument("daemon RPC needs a user and password or a cookie file");
  main_ = std::make_unique<Connection>();
  longpoll_ = std::make_unique<Connection>();
}

RpcClient::~RpcClient() = default;

std::string RpcClient::authorization() {
  std::lock_guard lock(auth_mutex_);
  if (auth_header_.empty()) {
    std::string cred = options_.cookie_file.empty() ? options_.user + ":" + options_.password : read_cookie(options_.cookie_file);
    auth_header_ = "Basic " + base64(cred);
  }
  return auth_header_;
}

json RpcClient::call_on(Connection& c, std::string_view method, const json& params, std::chrono::milliseconds timeout) {
  std::lock_guard lock(c.mutex);
  {
    // Drain a cancel() posted after the previous request had finished.
    std::lock_guard cl(c.cancel_mutex);
    c.io.restart();
    c.io.poll();
    c.in_flight = true;
  }
  struct Done {
    Connection& c;
    ~Done() {
      std::lock_guard cl(c.cancel_mutex);
      c.in_flight = false;
    }
  } done{c};

  const std::string where = "daemon at " + options_.url;
  json body = {{"jsonrpc", "1.0"}, {"id", c.next_id++}, {"method", std::string(method)}, {"params", params}};
  const std::string payload = body.dump();
  bool auth_retried = false;

  for (int attempt = 0;; ++attempt) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool reused = c.stream.has_value();
    beast::error_code ec;
    std::string stage;
    if (!reused) {
      stage = "connect to";
      c.stream.emplace(c.io);
      tcp::resolver resolver(c.io);
      auto endpoints = resolver.resolve(host_, port_, ec);
      if (!ec) {
        c.stream->expires_at(deadline);
        c.stream->async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
        c.run();
      }
      if (ec) {
        c.close();
        std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
        throw TransportError("cannot " + stage + " " + where + ": " + why);
      }
    }
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target_, 11};
    req.set(bhttp::field::host, host_);
    req.set(bhttp::field::user_agent, "otedama");
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::authorization, authorization());
    req.keep_alive(true);
    req.body() = payload;
    req.prepare_payload();

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256u << 20);
    parser.header_limit(64u << 10);
    bool got_header = false;
    c.stream->expires_at(deadline);
    stage = "send to";
    bhttp::async_write(*c.stream, req, [&](beast::error_code e, size_t) {
      if (e) return void(ec = e);
      stage = "read the answer of";
      bhttp::async_read(*c.stream, c.buffer, parser, [&](beast::error_code e2, size_t) {
        ec = e2;
        got_header = parser.is_header_done();
      });
    });
    c.run();
    if (ec) {
      c.close();
      // The daemon closes idle keep-alive connections (-rpcservertimeout): retry once, fresh.
      if (reused && !got_header && attempt == 0 && is_stale_connection_error(ec)) continue;
      std::string why = ec == beast::error::timeout          ? "timed out after " + std::to_string(timeout.count()) + " ms"
                        : ec == asio::error::operation_aborted ? "cancelled"
                                                               : ec.message();
      throw TransportError("cannot " + stage + " " + where + " (" + std::string(method) + "): " + why);
    }
    auto& res = parser.get();
    if (!res.keep_alive()) c.close();
    const unsigned status = res.result_int();
    if (status == 401 || status == 403) {
      if (!options_.cookie_file.empty() && !auth_retried) {
        // The daemon may have restarted with a new cookie: read it again, once.
        auth_retried = true;
        {
          std::lock_guard al(auth_mutex_);
          auth_header_.clear();
        }
        c.close();
        continue;
      }
      throw AuthError("RPC authentication failed at " + where + " (HTTP " + std::to_string(status) + "): " +
                      (options_.cookie_file.empty() ? "wrong rpc user or password"
                                                    : "cookie file " + options_.cookie_file + " is not accepted"));
    }
    json answer;
    try {
      answer = json::parse(res.body());
    } catch (const json::exception&) {
      std::string snippet = res.body().substr(0, 120);
      throw TransportError(where + " answered " + std::string(method) + " with HTTP " + std::to_string(status) +
                           " and no JSON-RPC body" + (snippet.empty() ? "" : ": " + snippet));
    }
    if (!answer.is_object() || (!answer.contains("result") && !answer.contains("error")))
      throw TransportError(where + " answered " + std::string(method) + " with JSON that is not a JSON-RPC reply");
    if (answer.contains("error") && !answer["error"].is_null()) {
      const json& e = answer["error"];
      int code = e.is_object() && e.contains("code") && e["code"].is_number_integer() ? e["code"].get<int>() : 0;
      std::string msg = e.is_object() && e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>()
                                                                                              : e.dump();
      throw RpcError(std::string(method), code, msg);
    }
    if (status != 200)
      throw TransportError(where + " answered " + std::string(method) + " with HTTP " + std::to_string(status));
    return answer.contains("result") ? answer["result"] : json();
  }
}

json RpcClient::call(std::string_view method, json params, std::chrono::milliseconds timeout) {
  return call_on(*main_, method, params, timeout.count() > 0 ? timeout : options_.timeout);
}

json RpcClient::get_block_template_json(const std::vector<std::string>& rules, const std::string& longpollid) {
  json req = {{"rules", rules}};
  if (longpollid.empty()) return call("getblocktemplate", json::array({req}));
  req["longpollid"] = longpollid;
  return call_on(*longpoll_, "getblocktemplate", json::array({req}), options_.longpoll_timeout);
}

BlockTemplate RpcClient::get_block_template(const std::vector<std::string>& rules, const std::string& longpollid) {
  json j = get_block_template_json(rules, longpollid);
  try {
    return parse_block_template(j);
  } catch (const std::invalid_argument& e) {
    throw TransportError(std::string("daemon at ") + options_.url + " sent a " + e.what());
  }
}

void RpcClient::cancel_longpoll() { longpoll_->cancel(); }

std::optional<std::string> RpcClient::submit_block(ByteSpan block) {
  json r = call("submitblock", json::array({to_hex(block)}));
  if (r.is_null()) return std::nullopt;
  return r.is_string() ? r.get<std::string>() : r.dump();
}

namespace {
const json& field(const json& j, const char* name, const char* method) {
  if (!j.is_object() || !j.contains(name)) throw TransportError(std::string(method) + " answer lacks \"" + name + "\"");
  return j[name];
}
}  // namespace

ChainInfo RpcClient::get_blockchain_info() {
  json j = call("getblockchaininfo");
  ChainInfo info;
  try {
    info.chain = field(j, "chain", "getblockchaininfo").get<std::string>();
    info.blocks = field(j, "blocks", "getblockchaininfo").get<uint64_t>();
    info.headers = j.value("headers", info.blocks);
    info.best_block_hash = hash_from_display(field(j, "bestblockhash", "getblockchaininfo").get<std::string>());
    info.initial_block_download = j.value("initialblockdownload", false);
  } catch (const json::exception& e) {
    throw TransportError(std::string("getblockchaininfo answer is malformed: ") + e.what());
  } catch (const std::invalid_argument& e) {
    throw TransportError(std::string("getblockchaininfo answer is malformed: ") + e.what());
  }
  info.raw = std::move(j);
  return info;
}

json RpcClient::get_block(const Hash256& hash, int verbosity) {
  return call("getblock", json::array({display_hex(hash), verbosity}));
}

Bytes RpcClient::get_block_raw(const Hash256& hash) {
  json j = get_block(hash, 0);
  if (!j.is_string()) throw TransportError("getblock (verbosity 0) did not return hex");
  try {
    return from_hex(j.get<std::string>());
  } catch (const std::invalid_argument& e) {
    throw TransportError(std::string("getblock (verbosity 0) returned bad hex: ") + e.what());
  }
}

uint64_t RpcClient::get_block_count() {
  json j = call("getblockcount");
  if (!j.is_number_unsigned()) throw TransportError("getblockcount did not return a number");
  return j.get<uint64_t>();
}

Hash256 RpcClient::get_best_block_hash() {
  json j = call("getbestblockhash");
  try {
    return hash_from_display(j.get<std::string>());
  } catch (const std::exception& e) {
    throw TransportError(std::string("getbestblockhash answer is malformed: ") + e.what());
  }
}

AddressCheck RpcClient::validate_address(std::string_view address) {
  json j = call("validateaddress", json::array({std::string(address)}));
  AddressCheck out;
  out.valid = j.value("isvalid", false);
  if (out.valid && j.contains("scriptPubKey") && j["scriptPubKey"].is_string())
    out.script_pubkey = from_hex(j["scriptPubKey"].get<std::string>());
  if (j.contains("error") && j["error"].is_string()) out.error = j["error"].get<std::string>();
  return out;
}

}  // namespace otedama::chain
