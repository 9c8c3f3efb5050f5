// monerod JSON-RPC over HTTP/1.1 keep-alive (Boost.Beast), with HTTP digest authentication for
// daemons started with --rpc-login. Modelled on the Bitcoin-family client (rpc.cpp): a private
// io_context per connection, run for one request at a time; tcp_stream's timer is the deadline.
// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <map>

#include "chain/monero.h"

namespace otedama::chain::monero {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == bhttp::error::partial_message;
}

std::string md5_hex(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(s.data(), s.size(), md, &len, EVP_md5(), nullptr) != 1) throw std::runtime_error("MD5 unavailable");
  return to_hex(ByteSpan(md, len));
}

// key=value pairs of one "Digest ..." challenge (values quoted or not).
std::map<std::string, std::string> parse_challenge(std::string_view s) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  auto skip = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '\t')) ++i;
  };
  while (true) {
    skip();
    size_t k = i;
    while (i < s.size() && s[i] != '=' && s[i] != ',') ++i;
    if (i >= s.size() || s[i] != '=') break;
    std::string key(s.substr(k, i - k));
    for (auto& c : key) c = char(std::tolower(uint8_t(c)));
    ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value.push_back(s[i]);
      }
      ++i;
    } else {
      size_t v = i;
      while (i < s.size() && s[i] != ',') ++i;
      value = std::string(s.substr(v, i - v));
    }
    out[key] = value;
  }
  return out;
}

}  // namespace

struct RpcClient::Connection {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::mutex mutex;  // one request at a time
  uint64_t next_id = 1;
  // Digest state (RFC 7616 with MD5, qop=auth), from the daemon's last challenge.
  std::map<std::string, std::string> challenge;
  uint32_t nonce_count = 0;

  void close() {
    if (stream) {
      beast::error_code ec;
      stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream->socket().close(ec);
      stream.reset();
    }
    buffer.consume(buffer.size());
  }

  void run() {
    io.restart();
    io.run();
  }

  std::string digest(const std::string& user, const std::string& password, std::string_view uri) {
    const std::string& realm = challenge["realm"];
    const std::string& nonce = challenge["nonce"];
    std::string ha1 = md5_hex(user + ":" + realm + ":" + password);
    std::string ha2 = md5_hex("POST:" + std::string(uri));
    std::string h = "Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce + "\", uri=\"" +
                    std::string(uri) + "\", algorithm=MD5";
    bool qop_auth = challenge.count("qop") && challenge["qop"].find("auth") != std::string::npos;
    if (qop_auth) {
      uint8_t rnd[8];
      RAND_bytes(rnd, sizeof rnd);
      std::string cnonce = to_hex(ByteSpan(rnd, sizeof rnd));
      char nc[9];
      std::snprintf(nc, sizeof nc, "%08x", ++nonce_count);
      std::string response = md5_hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2);
      h += ", response=\"" + response + "\", qop=auth, nc=" + nc + ", cnonce=\"" + cnonce + "\"";
    } else {
      h += ", response=\"" + md5_hex(ha1 + ":" + nonce + ":" + ha2) + "\"";
    }
    if (challenge.count("opaque")) h += ", opaque=\"" + challenge["opaque"] + "\"";
    return h;
  }
};

RpcClient::RpcClient(RpcOptions options) : options_(std::move(options)) {
  const std::string& url = options_.url;
  auto sep = url.find("://");
  if (sep == std::string::npos || url.substr(0, sep) != "http")
    throw std::invalid_argument("monerod URL must be http://host:port, got \"" + url + "\"");
  std::string rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  if (!path.empty() && path != "/" && path != "/json_rpc")
    throw std::invalid_argument("monerod URL takes no path (\"/json_rpc\" is implied): \"" + url + "\"");
  std::string hostport = rest.substr(0, slash);
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad IPv6 host in monerod URL \"" + url + "\"");
    host_ = hostport.substr(1, close - 1);
    port_ = close + 1 < hostport.size() && hostport[close + 1] == ':' ? hostport.substr(close + 2) : "";
  } else {
    auto colon = hostport.rfind(':');
    host_ = hostport.substr(0, colon);
    port_ = colon == std::string::npos ? "" : hostport.substr(colon + 1);
  }
  if (host_.empty() || port_.empty()) throw std::invalid_argument("monerod URL needs a host and a port: \"" + url + "\"");
  if (options_.user.empty() != options_.password.empty() && options_.user.empty())
    throw std::invalid_argument("monerod RPC password given without a user");
  conn_ = std::make_unique<Connection>();
}

RpcClient::~RpcClient() = default;

json RpcClient::post(std::string_view path, const std::string& what, const json& body, std::chrono::milliseconds timeout) {
  Connection& c = *conn_;
  std::lock_guard lock(c.mutex);
  const std::string where = "monerod at " + options_.url;
  const std::string payload = body.dump();
  bool auth_retried = false;

  for (int attempt = 0;; ++attempt) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool reused = c.stream.has_value();
    beast::error_code ec;
    if (!reused) {
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
        throw TransportError("cannot connect to " + where + " (" + what +
                             "): " + (ec == beast::error::timeout ? std::string("timed out") : ec.message()));
      }
    }
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, std::string(path), 11};
    req.set(bhttp::field::host, host_);
    req.set(bhttp::field::user_agent, "otedama");
    req.set(bhttp::field::content_type, "application/json");
    if (!options_.user.empty() && !c.challenge.empty())
      req.set(bhttp::field::authorization, c.digest(options_.user, options_.password, path));
    req.keep_alive(true);
    req.body() = payload;
    req.prepare_payload();

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256u << 20);
    parser.header_limit(64u << 10);
    bool got_header = false;
    std::string stage = "send to";
    c.stream->expires_at(deadline);
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
      // monerod closes idle keep-alive connections: retry once on a fresh one.
      if (reused && !got_header && attempt == 0 && is_stale_connection_error(ec)) continue;
      std::string why = ec == beast::error::timeout ? "timed out after " + std::to_string(timeout.count()) + " ms" : ec.message();
      throw TransportError("cannot " + stage + " " + where + " (" + what + "): " + why);
    }
    auto& res = parser.get();
    if (!res.keep_alive()) c.close();
    const unsigned status = res.result_int();
    if (status == 401) {
      if (options_.user.empty())
        throw AuthError(where + " requires an RPC login (monerod --rpc-login): set the daemon user and password");
      // Take the MD5 (not MD5-sess) digest challenge; answer it once per request.
      std::map<std::string, std::string> fresh;
      for (auto it = res.find(bhttp::field::www_authenticate); it != res.end() && it->name() == bhttp::field::www_authenticate; ++it) {
        std::string_view v(it->value().data(), it->value().size());
        if (v.size() < 7 || (v.substr(0, 7) != "Digest " && v.substr(0, 7) != "digest ")) continue;
        auto ch = parse_challenge(v.substr(7));
        auto alg = ch.find("algorithm");
        if (alg == ch.end() || alg->second == "MD5" || alg->second == "md5") {
          fresh = std::move(ch);
          break;
        }
      }
      bool stale = fresh.count("stale") && (fresh["stale"] == "true" || fresh["stale"] == "TRUE");
      if (fresh.empty() || (auth_retried && !stale))
        throw AuthError("RPC authentication failed at " + where + " (HTTP 401): wrong monerod rpc user or password");
      auth_retried = true;
      c.challenge = std::move(fresh);
      c.nonce_count = 0;
      continue;
    }
    json answer;
    try {
      answer = json::parse(res.body());
    } catch (const json::exception&) {
      std::string snippet = res.body().substr(0, 120);
      throw TransportError(where + " answered " + what + " with HTTP " + std::to_string(status) + " and no JSON body" +
                           (snippet.empty() ? "" : ": " + snippet));
    }
    if (!answer.is_object()) throw TransportError(where + " answered " + what + " with JSON that is not an object");
    if (status != 200 && !answer.contains("error"))
      throw TransportError(where + " answered " + what + " with HTTP " + std::to_string(status));
    return answer;
  }
}

namespace {

// A result whose "status" is not OK is the daemon refusing (BUSY, Failed, ...).
void check_status(const json& r, const std::string& method) {
  if (r.is_object() && r.contains("status") && r["status"].is_string() && r["status"] != "OK")
    throw RpcError(method, 0, r["status"].get<std::string>());
}

}  // namespace

json RpcClient::call(std::string_view method, json params, std::chrono::milliseconds timeout) {
  const std::string m(method);
  json body = {{"jsonrpc", "2.0"}, {"id", "0"}, {"method", m}};
  if (!params.is_null()) body["params"] = std::move(params);
  json answer = post("/json_rpc", m, body, timeout.count() > 0 ? timeout : options_.timeout);
  if (answer.contains("error") && !answer["error"].is_null()) {
    const json& e = answer["error"];
    int code = e.is_object() && e.contains("code") && e["code"].is_number_integer() ? e["code"].get<int>() : 0;
    std::string msg = e.is_object() && e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : e.dump();
    throw RpcError(m, code, msg);
  }
  if (!answer.contains("result")) throw TransportError("monerod answered " + m + " with JSON that is not a JSON-RPC reply");
  check_status(answer["result"], m);
  return answer["result"];
}

json RpcClient::call_path(std::string_view path, json body, std::chrono::milliseconds timeout) {
  if (path.empty() || path[0] != '/') throw std::invalid_argument("monerod endpoint path must start with '/'");
  const std::string what(path.substr(1));
  json answer = post(path, what, body, timeout.count() > 0 ? timeout : options_.timeout);
  check_status(answer, what);
  return answer;
}

// ---- typed calls ---------------------------------------------------------------------------------

namespace {

template <typename F>
auto parse_answer(const std::string& method, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const json::exception& e) {
    throw TransportError(method + " answer is malformed: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw TransportError(method + " answer is malformed: " + e.what());
  }
}

U256 wide(const json& j, const char* wide_name, const char* narrow_name) {
  if (j.contains(wide_name) && j[wide_name].is_string()) {
    std::string_view w = j[wide_name].get_ref<const std::string&>();
    if (w.starts_with("0x")) w.remove_prefix(2);
    if (w.empty() || w.size() > 64 || w.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
      throw std::invalid_argument(std::string(wide_name) + " is not a hex number");
    return U256::from_hex(w);
  }
  return U256::from_u64(j.at(narrow_name).get<uint64_t>());
}

BlockHeader parse_header(const json& r, const std::string& method) {
  return parse_answer(method, [&] {
    const json& h = r.at("block_header");
    BlockHeader b;
    b.height = h.at("height").get<uint64_t>();
    b.timestamp = h.at("timestamp").get<uint64_t>();
    b.major_version = h.at("major_version").get<uint64_t>();
    b.minor_version = h.at("minor_version").get<uint64_t>();
    b.nonce = h.at("nonce").get<uint32_t>();
    b.hash = hash_from_hex(h.at("hash").get<std::string>());
    b.prev_hash = hash_from_hex(h.at("prev_hash").get<std::string>());
    b.difficulty = wide(h, "wide_difficulty", "difficulty");
    b.reward = h.at("reward").get<uint64_t>();
    b.depth = h.value("depth", uint64_t(0));
    b.num_txes = h.value("num_txes", uint64_t(0));
    b.orphan = h.value("orphan_status", false);
    if (h.contains("miner_tx_hash") && h["miner_tx_hash"].is_string() && !h["miner_tx_hash"].get<std::string>().empty())
      b.miner_tx_hash = hash_from_hex(h["miner_tx_hash"].get<std::string>());
    b.raw = h;
    return b;
  });
}

}  // namespace

json RpcClient::get_block_template_json(std::string_view wallet_address, size_t reserve_size) {
  // monerod 0.18 checks for 255 but then fails above 127 ("-5 failed to create block template"): the
  // extra nonce's length must fit one byte of tx extra varint. Verified on 0.18.0.0 regtest.
  if (reserve_size > 127) throw std::invalid_argument("reserve_size must be at most 127 (monerod fails above)");
  return call("get_block_template", {{"wallet_address", std::string(wallet_address)}, {"reserve_size", reserve_size}});
}

BlockTemplate RpcClient::get_block_template(std::string_view wallet_address, size_t reserve_size) {
  json j = get_block_template_json(wallet_address, reserve_size);
  try {
    return parse_block_template(j, reserve_size);
  } catch (const std::invalid_argument& e) {
    throw TransportError("monerod at " + options_.url + " sent a " + e.what());
  }
}

std::optional<std::string> RpcClient::submit_block(ByteSpan block_blob) {
  try {
    call("submit_block", json::array({to_hex(block_blob)}));
    return std::nullopt;
  } catch (const RpcError& e) {
    return e.code ? e.message + " (" + std::to_string(e.code) + ")" : e.message;
  }
}

DaemonInfo RpcClient::get_info() {
  json r = call("get_info");
  return parse_answer("get_info", [&] {
    DaemonInfo i;
    i.height = r.at("height").get<uint64_t>();
    i.target_height = r.value("target_height", uint64_t(0));
    i.top_block_hash = hash_from_hex(r.at("top_block_hash").get<std::string>());
    i.difficulty = wide(r, "wide_difficulty", "difficulty");
    i.nettype = r.value("nettype", std::string());
    i.offline = r.value("offline", false);
    i.synchronized = r.value("synchronized", false);
    i.busy_syncing = r.value("busy_syncing", false);
    i.raw = r;
    return i;
  });
}

BlockHeader RpcClient::get_last_block_header() { return parse_header(call("get_last_block_header"), "get_last_block_header"); }

BlockHeader RpcClient::get_block_header_by_height(uint64_t height) {
  return parse_header(call("get_block_header_by_height", {{"height", height}}), "get_block_header_by_height");
}

BlockHeader RpcClient::get_block_header_by_hash(const Hash256& hash) {
  return parse_header(call("get_block_header_by_hash", {{"hash", to_hex(hash)}}), "get_block_header_by_hash");
}

json RpcClient::get_block(uint64_t height) { return call("get_block", {{"height", height}}); }

std::vector<Hash256> RpcClient::generate_blocks(uint64_t count, std::string_view wallet_address) {
  auto timeout = std::chrono::milliseconds(60000 + 2000 * std::min<uint64_t>(count, 1u << 20));
  json r = call("generateblocks", {{"amount_of_blocks", count}, {"wallet_address", std::string(wallet_address)}},
                std::max(timeout, options_.timeout));
  return parse_answer("generateblocks", [&] {
    std::vector<Hash256> out;
    for (const auto& h : r.at("blocks")) out.push_back(hash_from_hex(h.get<std::string>()));
    return out;
  });
}

}  // namespace otedama::chain::monero
