// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <charconv>
#include <deque>
#include <filesystem>
#include <set>

#include "api/internal.h"

namespace otedama::api {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

const std::set<std::string> kTopics = {"hashrate", "share", "block", "payment", "miner"};
constexpr size_t kSharesPerPush = 50;

http::Response ok(const json& j) { return http::Response::json(200, j.dump()); }
http::Response fail(unsigned status, const std::string& message) { return http::Response::error(status, message); }

struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string param(const http::Request& r, const std::string& name) {
  auto it = r.query.find(name);
  return it == r.query.end() ? std::string() : it->second;
}

uint64_t int_param(const http::Request& r, const std::string& name, uint64_t def, uint64_t min, uint64_t max) {
  auto it = r.query.find(name);
  if (it == r.query.end() || it->second.empty()) return def;
  uint64_t v = 0;
  const auto& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max)
    throw BadRequest("parameter '" + name + "' must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + " (got '" + s + "')");
  return v;
}

struct Paging {
  uint64_t page, limit, offset;
};
Paging paging(const http::Request& r) {
  Paging p;
  p.page = int_param(r, "page", 1, 1, 1000000);
  p.limit = int_param(r, "limit", 20, 1, 100);
  p.offset = (p.page - 1) * p.limit;
  return p;
}

bool valid_address(std::string_view a) {
  if (a.empty() || a.size() > 128) return false;
  for (char c : a)
    if (!isalnum((unsigned char)c)) return false;
  return true;
}

}  // namespace

struct ApiServer::Impl : std::enable_shared_from_this<ApiServer::Impl> {
  asio::io_context& io;
  NodeInfo node;
  std::vector<config::User> users;
  TokenStore tokens;
  std::unique_ptr<AuditLog> audit;
  std::shared_ptr<http::RateLimiter> limiter;
  std::string dummy_hash;  // verified for unknown users, so timing does not tell names apart

  struct Subscriber {
    http::WebSocketPtr ws;
    std::set<std::string> topics;
  };
  std::map<uint64_t, Subscriber> subscribers;  // on the loop only
  uint64_t stats_subscription = 0;
  asio::steady_timer hashrate_timer, shares_timer;
  bool stopped = false;

  std::mutex shares_mutex;  // the pools' threads add, the loop flushes
  std::deque<stats::Share> share_batch;
  uint64_t shares_since_flush = 0;

  Impl(asio::io_context& io_, NodeInfo n)
      : io(io_),
        node(std::move(n)),
        users(load_users(node.config->api.auth)),
        tokens(node.config->api.auth.token_expiry),
        hashrate_timer(io_),
        shares_timer(io_) {
    if (!node.stats) throw std::invalid_argument("api: NodeInfo.stats is required");
    std::string path = node.audit_log_path;
    if (path.empty()) path = (std::filesystem::path(node.config->app.data_dir) / "audit.log").string();
    audit = std::make_unique<AuditLog>(path);
    const auto& rl = node.config->api.rate_limit;
    if (rl.enabled) limiter = std::make_shared<http::RateLimiter>(http::RateLimiter::Options{rl.requests_per_second, double(rl.burst)});
  }

  std::string coin_of(const std::string& pool) const {
    for (const auto& p : node.config->pools)
      if (p.name == pool) return p.coin;
    return "";
  }

  // ?coin= must name a coin some pool serves; ?pool= a pool.
  void check_filters(const http::Request& r) const {
    std::string coin = param(r, "coin"), pool = param(r, "pool");
    if (!coin.empty()) {
      bool known = false;
      for (const auto& p : node.config->pools) known = known || (p.enable && p.coin == coin);
      if (!known) throw BadRequest("no pool on this node serves coin '" + coin + "'");
    }
    if (!pool.empty() && coin_of(pool).empty()) {
      bool known = false;
      for (const auto& p : node.config->pools) known = known || p.name == pool;
      if (!known) throw BadRequest("no pool named '" + pool + "'");
    }
  }

  bool pool_selected(const http::Request& r, const std::string& pool, const std::string& coin) const {
    std::string c = param(r, "coin"), p = param(r, "pool");
    return (c.empty() || c == coin) && (p.empty() || p == pool);
  }

  // ---- auth ----------------------------------------------------------------------------

  // nullopt when the request may run the control action; else the refusal (audited).
  std::optional<http::Response> authorize(const http::Request& r, const std::string& action, std::string& user) {
    user = "anonymous";
    if (!node.config->api.auth.enabled) return std::nullopt;
    auto refuse = [&](unsigned status, const std::string& why) {
      audit->record(action, user, r.remote_ip, false, why);
      auto resp = fail(status, why);
      if (status == 401) resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"otedama\"");
      return resp;
    };
    std::string h = r.header("authorization");
    if (h.size() < 8 || strncasecmp(h.c_str(), "Bearer ", 7) != 0)
      return refuse(401, "this endpoint needs a bearer token (POST /api/auth/login)");
    auto checked = tokens.check(h.substr(7));
    if (auto* why = std::get_if<std::string>(&checked)) return refuse(401, *why);
    const auto& s = std::get<TokenStore::Session>(checked);
    user = s.user;
    if (s.role != "admin") return refuse(403, "user '" + s.user + "' (role " + s.role + ") may not do this");
    return std::nullopt;
  }

  http::Response login(const http::Request& r) {
    json body;
    try {
      body = json::parse(r.body);
    } catch (const std::exception&) {
      return fail(400, "the body must be JSON: {\"username\": ..., \"password\": ...}");
    }
    if (!body.is_object() || !body.contains("username") || !body["username"].is_string() || !body.contains("password") ||
        !body["password"].is_string())
      return fail(400, "the body must be JSON: {\"username\": ..., \"password\": ...}");
    std::string name = body["username"], password = body["password"];
    const config::User* user = nullptr;
    for (const auto& u : users)
      if (u.name == name) user = &u;
    bool good;
    if (user) {
      good = verify_password(password, user->password_hash);
    } else {
      if (dummy_hash.empty()) dummy_hash = hash_password("not a password");
      verify_password(password, dummy_hash);
      good = false;
    }
    if (!good) {
      audit->record("login", name, r.remote_ip, false, user ? "wrong password" : "unknown user");
      auto resp = fail(401, "wrong username or password");
      resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"otedama\"");
      return resp;
    }
    auto t = tokens.issue(user->name, user->role);
    audit->record("login", user->name, r.remote_ip, true);
    return ok({{"token", t.token},
               {"token_type", "Bearer"},
               {"expires_at", unix_seconds(t.expires)},
               {"expires_in", std::chrono::duration<double>(t.expires - Clock::now()).count()},
               {"user", user->name},
               {"role", user->role}});
  }

  http::Response logout(const http::Request& r) {
    std::string h = r.header("authorization");
    if (h.size() < 8 || strncasecmp(h.c_str(), "Bearer ", 7) != 0) {
      audit->record("logout", "anonymous", r.remote_ip, false, "no token");
      return fail(401, "send the token to revoke as Authorization: Bearer TOKEN");
    }
    std::string token = h.substr(7);
    auto checked = tokens.check(token);
    if (auto* why = std::get_if<std::string>(&checked)) {
      audit->record("logout", "anonymous", r.remote_ip, false, *why);
      return fail(401, *why);
    }
    std::string user = std::get<TokenStore::Session>(checked).user;
    tokens.revoke(token);
    audit->record("logout", user, r.remote_ip, true, "token revoked");
    return ok({{"revoked", true}});
  }

  http::Response mining(const http::Request& r, bool start) {
    std::string action = start ? "mining.start" : "mining.stop";
    std::string user;
    if (auto refused = authorize(r, action, user)) return *refused;
    if (!node.miner.start || !node.miner.stop || !node.miner.state) {
      audit->record(action, user, r.remote_ip, false, "no built-in miner");
      return fail(409, "this node has no built-in miner (mining.enable_cpu and a Bitcoin-family pool)");
    }
    auto why = start ? node.miner.start() : node.miner.stop();
    audit->record(action, user, r.remote_ip, !why, why.value_or(""));
    if (why) return fail(409, *why);
    return ok({{"ok", true}, {"miner", miner_state_json(node.miner.state())}});
  }

  // Manual P2P bans (partitions for maintenance, a misbehaving peer the ban score missed).
  http::Response p2p_ban(const http::Request& r) {
    std::string user;
    if (auto refused = authorize(r, "p2p.ban", user)) return *refused;
    if (!node.p2p.ban) return fail(404, "P2P is off on this node (p2p.enable)");
    json body;
    try {
      body = json::parse(r.body);
    } catch (const std::exception&) {
      return fail(400, "the body must be JSON: {\"peer\": node id or IP, \"seconds\": N}");
    }
    if (!body.is_object() || !body.contains("peer") || !body["peer"].is_string())
      return fail(400, "\"peer\" (a node id in hex or an IP address) is required");
    int64_t seconds = 3600;
    if (body.contains("seconds")) {
      if (!body["seconds"].is_number_integer() || body["seconds"].get<int64_t>() <= 0)
        return fail(400, "\"seconds\" must be a positive integer");
      seconds = body["seconds"].get<int64_t>();
    }
    std::string peer = body["peer"].get<std::string>();
    std::string why = node.p2p.ban(peer, seconds);
    audit->record("p2p.ban", user, r.remote_ip, why.empty(), why.empty() ? peer : why);
    if (!why.empty()) return fail(400, why);
    return ok({{"ok", true}, {"peer", peer}, {"seconds", seconds}});
  }

  http::Response p2p_unban(const http::Request& r) {
    std::string user;
    if (auto refused = authorize(r, "p2p.unban", user)) return *refused;
    if (!node.p2p.unban) return fail(404, "P2P is off on this node (p2p.enable)");
    std::string peer = r.path.substr(std::string("/api/p2p/bans/").size());
    bool lifted = node.p2p.unban(peer);
    audit->record("p2p.unban", user, r.remote_ip, lifted, peer);
    if (!lifted) return fail(404, "no ban on " + peer);
    return ok({{"ok", true}, {"peer", peer}});
  }

  // ---- read-only endpoints --------------------------------------------------------------

  json stats_json(const http::Request& r) {
    std::map<std::string, PoolView> views;
    if (node.pools)
      for (auto& v : node.pools()) views[v.name] = v;
    json pools = json::array();
    for (const auto& p : node.stats->pools()) {
      if (!pool_selected(r, p.name, p.coin)) continue;
      json j = {{"name", p.name},
                {"coin", p.coin},
                {"algorithm", p.algorithm},
                {"hashrate", hashrates_json(p.hashrate)},
                {"hashes_per_difficulty1", p.hashes_per_difficulty1},
                {"miners", p.miners},
                {"workers", p.workers},
                {"shares", shares_json(p.shares)},
                {"blocks_found", p.blocks_found},
                {"effort", p.effort},
                {"round_work", p.round_work},
                {"height", p.height},
                {"network_difficulty", p.network_difficulty},
                {"last_block_time", unix_seconds(p.last_block)},
                {"connections", 0}};
      if (auto it = views.find(p.name); it != views.end()) {
        j["connections"] = it->second.connections;
        if (it->second.height) j["height"] = it->second.height;
        if (it->second.network_difficulty > 0) j["network_difficulty"] = it->second.network_difficulty;
      }
      j["pps_operator_balance"] = nullptr;
      if (node.data.operator_balance)
        if (auto ob = node.data.operator_balance(p.name, p.coin))
          j["pps_operator_balance"] = {{"reward_system", ob->reward_system},
                                       {"confirmed", ob->confirmed},
                                       {"pending", ob->pending},
                                       {"expected", ob->confirmed + ob->pending},
                                       {"rewards_confirmed", ob->rewards_confirmed},
                                       {"rewards_pending", ob->rewards_pending},
                                       {"share_credits", ob->share_credits}};
      pools.push_back(std::move(j));
    }
    json out = {{"time", unix_seconds(Clock::now())}, {"pools", pools}, {"miner", nullptr}};
    if (node.miner.state) out["miner"] = miner_state_json(node.miner.state());
    return out;
  }

  json workers_json(const http::Request& r) {
    json list = json::array();
    for (const auto& w : node.stats->workers(param(r, "pool"))) {
      std::string coin = coin_of(w.pool);
      if (pool_selected(r, w.pool, coin)) list.push_back(worker_json(w, coin));
    }
    return {{"workers", list}, {"total", list.size()}};
  }

  stats::BlockPage block_page(const std::string& coin, size_t offset, size_t limit) {
    if (node.data.blocks) return node.data.blocks(coin, offset, limit);
    return node.stats->blocks("", coin, offset, limit);
  }

  PaymentPage payment_page(const std::string& coin, const std::string& address, size_t offset, size_t limit) {
    if (node.data.payments) return node.data.payments(coin, address, offset, limit);
    return {};  // no payout store on this node: nothing has been paid
  }

  json blocks_json(const http::Request& r) {
    Paging pg = paging(r);
    auto page = block_page(param(r, "coin"), pg.offset, pg.limit);
    json list = json::array();
    for (const auto& b : page.blocks) list.push_back(block_json(b));
    return {{"blocks", list}, {"page", pg.page}, {"limit", pg.limit}, {"total", page.total}};
  }

  json payments_json(const http::Request& r) {
    Paging pg = paging(r);
    std::string address = param(r, "address");
    if (!address.empty() && !valid_address(address)) throw BadRequest("'" + address + "' is not an address");
    auto page = payment_page(param(r, "coin"), address, pg.offset, pg.limit);
    json list = json::array();
    for (const auto& p : page.payments) list.push_back(payment_json(p));
    return {{"payments", list}, {"page", pg.page}, {"limit", pg.limit}, {"total", page.total}};
  }

  http::Response miner(const http::Request& r) {
    std::string address = r.path.substr(std::string("/api/miners/").size());
    if (!valid_address(address)) return fail(400, "'" + address + "' is not an address (letters and digits only)");
    std::string coin = param(r, "coin"), pool = param(r, "pool");
    json workers = json::array();
    stats::Hashrates h;
    stats::ShareCounts shares;
    double last = 0;
    bool known = false;
    for (const auto& w : node.stats->workers(pool)) {
      std::string wc = coin_of(w.pool);
      if (w.miner != address || !pool_selected(r, w.pool, wc)) continue;
      known = true;
      h.m1 += w.hashrate.m1, h.m15 += w.hashrate.m15, h.h1 += w.hashrate.h1, h.h24 += w.hashrate.h24;
      shares.add(w.shares);
      last = std::max(last, unix_seconds(w.last_share));
      workers.push_back(worker_json(w, wc));
    }
    json balances = json::array();
    double balance = 0, pending = 0, paid = 0;
    if (node.data.balances) {
      for (const auto& b : node.data.balances(address, coin)) {
        known = true;
        balances.push_back({{"coin", b.coin}, {"balance", b.balance}, {"pending", b.pending}, {"paid", b.paid}});
        balance += b.balance, pending += b.pending, paid += b.paid;
      }
    }
    auto payments = payment_page(coin, address, 0, 10);
    json recent = json::array();
    for (const auto& p : payments.payments) recent.push_back(payment_json(p));
    known = known || payments.total > 0;
    if (!known) return fail(404, "no shares, balance or payments for miner " + address);
    return ok({{"address", address},
               {"hashrate", hashrates_json(h)},
               {"shares", shares_json(shares)},
               {"last_share", last},
               {"workers", workers},
               {"balances", balances},
               {"balance", balance},
               {"pending", pending},
               {"paid", paid},
               {"payments", recent},
               {"payments_total", payments.total}});
  }

  // ---- WebSocket -------------------------------------------------------------------------

  json hashrate_push() {
    json pools = json::array();
    for (const auto& p : node.stats->pools())
      pools.push_back({{"name", p.name},
                       {"coin", p.coin},
                       {"hashrate", hashrates_json(p.hashrate)},
                       {"miners", p.miners},
                       {"workers", p.workers},
                       {"shares", shares_json(p.shares)},
                       {"blocks_found", p.blocks_found},
                       {"effort", p.effort}});
    json j = {{"type", "hashrate"}, {"time", unix_seconds(Clock::now())}, {"pools", pools}, {"miner", nullptr}};
    if (node.miner.state) j["miner"] = miner_state_json(node.miner.state());
    return j;
  }

  void broadcast(const std::string& topic, const std::string& text) {
    for (auto& [_, s] : subscribers)
      if (s.topics.count(topic)) s.ws->send(text);
  }

  void set_topics(Subscriber& s, const json& topics, bool add, json& unknown) {
    for (const auto& t : topics) {
      if (!t.is_string() || !kTopics.count(t.get<std::string>())) {
        unknown.push_back(t);
        continue;
      }
      if (add) {
        bool fresh = s.topics.insert(t.get<std::string>()).second;
        if (fresh && t == "hashrate") s.ws->send(hashrate_push().dump());  // a first point at once
        if (fresh && t == "miner" && node.miner.state)
          s.ws->send(json{{"type", "miner"}, {"miner", miner_state_json(node.miner.state())}}.dump());
      } else {
        s.topics.erase(t.get<std::string>());
      }
    }
  }

  void on_ws_message(const http::WebSocketPtr& ws, const std::string& text) {
    auto it = subscribers.find(ws->id());
    if (it == subscribers.end()) return;
    auto error = [&](const std::string& m) { ws->send(json{{"type", "error"}, {"message", m}}.dump()); };
    json m;
    try {
      m = json::parse(text);
    } catch (const std::exception&) {
      return error("messages are JSON: {\"op\":\"subscribe\",\"topics\":[...]}");
    }
    if (!m.is_object() || !m.contains("op") || !m["op"].is_string()) return error("a message needs an \"op\"");
    std::string op = m["op"];
    if (op == "ping") return (void)ws->send(R"({"type":"pong"})");
    if (op != "subscribe" && op != "unsubscribe") return error("unknown op '" + op + "' (subscribe, unsubscribe, ping)");
    if (!m.contains("topics") || !m["topics"].is_array()) return error("\"topics\" must be an array");
    json unknown = json::array();
    set_topics(it->second, m["topics"], op == "subscribe", unknown);
    json reply = {{"type", "subscribed"}, {"topics", it->second.topics}};
    if (!unknown.empty()) reply["unknown"] = unknown;
    ws->send(reply.dump());
  }

  void on_ws_open(const http::WebSocketPtr& ws, const http::Request& r) {
    auto& s = subscribers[ws->id()];
    s.ws = ws;
    ws->send(json{{"type", "hello"}, {"topics", kTopics}}.dump());
    std::string q = param(r, "topics");
    if (!q.empty()) {
      json list = json::array(), unknown = json::array();
      for (size_t start = 0; start <= q.size();) {
        auto comma = q.find(',', start);
        list.push_back(q.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      set_topics(s, list, true, unknown);
      json reply = {{"type", "subscribed"}, {"topics", s.topics}};
      if (!unknown.empty()) reply["unknown"] = unknown;
      ws->send(reply.dump());
    }
  }

  void on_stats_event(const stats::Event& e) {
    if (e.kind == stats::Event::Kind::share) {
      std::lock_guard lock(shares_mutex);
      ++shares_since_flush;
      share_batch.push_back(std::get<stats::Share>(e.data));
      if (share_batch.size() > kSharesPerPush) share_batch.pop_front();
      return;
    }
    json j;
    std::string topic;
    switch (e.kind) {
      case stats::Event::Kind::block:
        topic = "block", j = {{"type", "block"}, {"block", block_json(std::get<stats::Block>(e.data))}};
        break;
      case stats::Event::Kind::payment:
        topic = "payment", j = {{"type", "payment"}, {"payment", payment_json(std::get<stats::Payment>(e.data))}};
        break;
      case stats::Event::Kind::miner_state:
        topic = "miner", j = {{"type", "miner"}, {"miner", miner_state_json(std::get<stats::MinerState>(e.data))}};
        break;
      default: return;
    }
    asio::post(io, [w = weak_from_this(), topic, text = j.dump()] {
      if (auto self = w.lock(); self && !self->stopped) self->broadcast(topic, text);
    });
  }

  void flush_shares() {
    std::deque<stats::Share> batch;
    uint64_t count;
    {
      std::lock_guard lock(shares_mutex);
      batch.swap(share_batch);
      count = shares_since_flush;
      shares_since_flush = 0;
    }
    if (count == 0) return;
    json list = json::array();
    for (const auto& s : batch)
      list.push_back({{"pool", s.pool},
                      {"coin", coin_of(s.pool)},
                      {"miner", s.miner},
                      {"worker", s.worker},
                      {"difficulty", s.difficulty},
                      {"result", stats::to_string(s.result)},
                      {"time", unix_seconds(s.time)}});
    broadcast("share", json{{"type", "shares"}, {"count", count}, {"shares", list}}.dump());
  }

  void tick_hashrate() {
    hashrate_timer.expires_after(node.hashrate_push_interval);
    hashrate_timer.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped) return;
      bool any = false;
      for (auto& [_, s] : self->subscribers) any = any || s.topics.count("hashrate");
      if (any) self->broadcast("hashrate", self->hashrate_push().dump());
      self->tick_hashrate();
    });
  }

  void tick_shares() {
    shares_timer.expires_after(std::chrono::milliseconds(500));
    shares_timer.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped) return;
      self->flush_shares();
      self->node.stats->prune();
      self->tick_shares();
    });
  }

  // ---- routes --------------------------------------------------------------------------------

  // Read-only handler with ?coin=/?pool= checks and BadRequest -> 400.
  template <class F>
  http::Handler read(F f) {
    return [w = weak_from_this(), f](const http::Request& r) -> http::Response {
      auto self = w.lock();
      if (!self) return fail(503, "the API is stopping");
      try {
        self->check_filters(r);
        return f(*self, r);
      } catch (const BadRequest& e) {
        return fail(400, e.what());
      }
    };
  }

  void add_routes(http::Router& router) {
    router.add("GET", "/api/status", read([](Impl& s, const http::Request&) { return ok(status_json(s.node)); }));
    router.add("GET", "/api/stats", read([](Impl& s, const http::Request& r) { return ok(s.stats_json(r)); }));
    router.add("GET", "/api/workers", read([](Impl& s, const http::Request& r) { return ok(s.workers_json(r)); }));
    router.add("GET", "/api/blocks", read([](Impl& s, const http::Request& r) { return ok(s.blocks_json(r)); }));
    router.add("GET", "/api/payments", read([](Impl& s, const http::Request& r) { return ok(s.payments_json(r)); }));
    router.add("GET", "/api/miners/*", read([](Impl& s, const http::Request& r) { return s.miner(r); }));
    router.add("POST", "/api/mining/start", read([](Impl& s, const http::Request& r) { return s.mining(r, true); }));
    router.add("POST", "/api/mining/stop", read([](Impl& s, const http::Request& r) { return s.mining(r, false); }));
    router.add("GET", "/api/p2p", read([](Impl& s, const http::Request&) {
      if (!s.node.p2p.status_json) return fail(404, "P2P is off on this node (p2p.enable)");
      return http::Response::json(200, s.node.p2p.status_json());
    }));
    router.add("GET", "/api/p2p/shares", read([](Impl& s, const http::Request& r) {
      if (!s.node.p2p.shares_json) return fail(404, "P2P is off on this node (p2p.enable)");
      return http::Response::json(200, s.node.p2p.shares_json(int_param(r, "limit", 100, 1, 100000)));
    }));
    router.add("POST", "/api/p2p/bans", read([](Impl& s, const http::Request& r) { return s.p2p_ban(r); }));
    router.add("DELETE", "/api/p2p/bans/*", read([](Impl& s, const http::Request& r) { return s.p2p_unban(r); }));
    router.add("POST", "/api/auth/login", read([](Impl& s, const http::Request& r) { return s.login(r); }));
    router.add("POST", "/api/auth/logout", read([](Impl& s, const http::Request& r) { return s.logout(r); }));
    router.add("GET", "/api/docs", [](const http::Request&) { return http::Response::json(200, openapi_json()); });
    router.add("GET", "/api/docs.html", [](const http::Request&) {
      return http::Response::text(200, openapi_html(), "text/html; charset=utf-8");
    });
    http::WebSocketRoute ws;
    ws.on_open = [w = weak_from_this()](const http::WebSocketPtr& c, const http::Request& r) {
      if (auto self = w.lock()) self->on_ws_open(c, r);
    };
    ws.on_message = [w = weak_from_this()](const http::WebSocketPtr& c, std::string m) {
      if (auto self = w.lock()) self->on_ws_message(c, m);
    };
    ws.on_close = [w = weak_from_this()](const http::WebSocketPtr& c) {
      if (auto self = w.lock()) self->subscribers.erase(c->id());
    };
    router.add_websocket("/api/ws", ws);
    add_web_routes(router);
    if (limiter) {
      router.set_filter([l = limiter](const http::Request& r) -> std::optional<http::Response> {
        if (double wait = l->acquire(r.remote_ip))
          return http::too_many_requests(wait, "rate limit: at most " + std::to_string(l->options().rate) +
                                                   " requests per second from " + r.remote_ip);
        return std::nullopt;
      });
    }
  }
};

ApiServer::ApiServer(asio::io_context& io, NodeInfo node) : impl_(std::make_shared<Impl>(io, std::move(node))) {}

ApiServer::~ApiServer() { stop(); }

void ApiServer::add_routes(http::Router& router) { impl_->add_routes(router); }

void ApiServer::start() {
  std::weak_ptr<Impl> w = impl_;
  impl_->stats_subscription = impl_->node.stats->subscribe([w](const stats::Event& e) {
    if (auto self = w.lock()) self->on_stats_event(e);
  });
  impl_->tick_hashrate();
  impl_->tick_shares();
}

void ApiServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->stats_subscription) impl_->node.stats->unsubscribe(impl_->stats_subscription);
  impl_->hashrate_timer.cancel();
  impl_->shares_timer.cancel();
  for (auto& [_, s] : impl_->subscribers) s.ws->close();
}

size_t ApiServer::websocket_clients() const { return impl_->subscribers.size(); }

}  // namespace otedama::api
