// The API in-process: every endpoint's shape and values against a stats collector fed with
// shares, errors as JSON 4xx, auth (no / wrong / expired / revoked token, wrong password, viewer
// role) with the audit log, the rate limit's 429 and recovery, the WebSocket topics and per-IP
// cap, the dashboard's caching headers, and the OpenAPI document against the served routes.
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/api.h"
#include "support/support.h"

using namespace otedama;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string kAdminPassword = "correct horse";

class ApiFixture : public ::testing::Test {
 protected:
  void start(std::function<void(config::Config&)> tweak = nullptr) {
    cfg.app.data_dir = dir.path().string();
    config::PoolConfig p;
    p.name = "ltc";
    p.coin = "litecoin";
    p.algorithm = "scrypt";
    cfg.pools = {p};
    static const std::string admin_hash = api::hash_password(kAdminPassword);
    static const std::string viewer_hash = api::hash_password("just looking");
    cfg.api.auth.users = {{"admin", admin_hash, "admin"}, {"viewer", viewer_hash, "viewer"}};
    cfg.api.rate_limit.enabled = false;
    if (tweak) tweak(cfg);
    collector = std::make_unique<stats::Collector>(stats::Clock::now() - 1h);  // divisor = the window
    collector->register_pool("ltc", "litecoin", "scrypt", 65536);
    api::NodeInfo node;
    node.config = &cfg;
    node.components = &components;
    node.stats = collector.get();
    node.pools = [] { return std::vector<api::PoolView>{{"ltc", "litecoin", "scrypt", 500, 0.25, 3}}; };
    node.miner.state = [this] {
      stats::MinerState s;
      s.running = miner_running;
      s.algorithm = "scrypt";
      return s;
    };
    node.miner.start = [this]() -> std::optional<std::string> {
      miner_running = true;
      collector->set_miner_state(node_state());
      return std::nullopt;
    };
    node.miner.stop = [this]() -> std::optional<std::string> {
      miner_running = false;
      collector->set_miner_state(node_state());
      return std::nullopt;
    };
    node.hashrate_push_interval = 200ms;
    server_api = std::make_unique<api::ApiServer>(io, node);
    auto router = std::make_shared<http::Router>();
    server_api->add_routes(*router);
    routes = router->routes();
    http::ServerOptions o;
    o.max_websockets_per_ip = 4;
    server = std::make_unique<http::Server>(io, "api", router, o);
    port = test::free_port();
    server->listen("127.0.0.1", port);
    server->start();
    server_api->start();
    thread = std::thread([this] { io.run(); });
  }
  stats::MinerState node_state() {
    stats::MinerState s;
    s.running = miner_running;
    s.algorithm = "scrypt";
    return s;
  }
  void TearDown() override {
    if (!thread.joinable()) return;
    boost::asio::post(io, [this] {
      server_api->stop();
      server->stop();
    });
    test::eventually([&] { return server->active_connections() == 0; }, 5s);
    work.reset();
    io.stop();
    thread.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
  http::ClientResponse get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return http::request("GET", url(path), "", h);
  }
  http::ClientResponse post(const std::string& path, const std::string& body = "", const std::string& token = "") {
    std::vector<std::pair<std::string, std::string>> h;
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    return http::request("POST", url(path), body, h);
  }
  std::string login(const std::string& user, const std::string& password) {
    auto r = post("/api/auth/login", json{{"username", user}, {"password", password}}.dump());
    EXPECT_EQ(r.status, 200u) << r.body;
    return json::parse(r.body).value("token", "");
  }
  std::vector<json> audit_lines() {
    std::vector<json> out;
    std::istringstream in(test::read_file(dir.path() / "audit.log"));
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  void expect_error(const http::ClientResponse& r, unsigned status) {
    EXPECT_EQ(r.status, status) << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["error"]["code"], status) << r.body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }

  test::TempDir dir;
  config::Config cfg;
  monitor::Components components;
  std::unique_ptr<stats::Collector> collector;
  std::atomic<bool> miner_running{false};
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work{boost::asio::make_work_guard(io)};
  std::unique_ptr<api::ApiServer> server_api;
  std::unique_ptr<http::Server> server;
  std::vector<std::pair<std::string, std::string>> routes;
  uint16_t port = 0;
  std::thread thread;
};

TEST_F(ApiFixture, StatsWorkersMinersAndBlocksFromShares) {
  start();
  auto now = stats::Clock::now();
  collector->set_network("ltc", 500, 0.25);
  collector->record_share({"ltc", "Laddr1", "rig1", 0.01, stats::ShareResult::valid, now});
  collector->record_share({"ltc", "Laddr1", "rig1", 0.02, stats::ShareResult::valid, now});
  collector->record_share({"ltc", "Laddr1", "rig2", 0.03, stats::ShareResult::stale, now});
  collector->record_share({"ltc", "Laddr2", "default", 0.06, stats::ShareResult::valid, now});

  auto st = json::parse(get("/api/stats").body);
  ASSERT_EQ(st["pools"].size(), 1u);
  const auto& p = st["pools"][0];
  EXPECT_EQ(p["name"], "ltc");
  EXPECT_EQ(p["coin"], "litecoin");
  // (0.01 + 0.02 + 0.06) * 65536 / 60 s
  EXPECT_NEAR(p["hashrate"]["1m"].get<double>(), 0.09 * 65536 / 60, 1e-6);
  EXPECT_NEAR(p["hashrate"]["1h"].get<double>(), 0.09 * 65536 / 3600, 1e-6);
  EXPECT_EQ(p["shares"]["valid"], 3);
  EXPECT_EQ(p["shares"]["stale"], 1);
  EXPECT_EQ(p["shares"]["total"], 4);
  EXPECT_EQ(p["miners"], 2);
  EXPECT_EQ(p["workers"], 3);
  EXPECT_NEAR(p["effort"].get<double>(), 0.09 / 0.25, 1e-9);
  EXPECT_EQ(p["height"], 500);
  EXPECT_EQ(p["connections"], 3);
  EXPECT_EQ(st["miner"]["running"], false);

  auto ws = json::parse(get("/api/workers").body);
  ASSERT_EQ(ws["workers"].size(), 3u);
  EXPECT_EQ(ws["total"], 3);
  for (const auto& w : ws["workers"]) {
    EXPECT_EQ(w["coin"], "litecoin");
    EXPECT_NEAR(w["last_share"].get<double>(), std::chrono::duration<double>(now.time_since_epoch()).count(), 1);
    if (w["worker"] == "rig1") {
      EXPECT_NEAR(w["hashrate"]["1m"].get<double>(), 0.03 * 65536 / 60, 1e-6);
      EXPECT_EQ(w["difficulty"], 0.02);
      EXPECT_EQ(w["shares"]["valid"], 2);
    }
  }
  EXPECT_EQ(json::parse(get("/api/workers?coin=litecoin").body)["total"], 3);

  auto m = json::parse(get("/api/miners/Laddr1").body);
  EXPECT_EQ(m["address"], "Laddr1");
  EXPECT_EQ(m["workers"].size(), 2u);
  EXPECT_NEAR(m["hashrate"]["1m"].get<double>(), 0.03 * 65536 / 60, 1e-6);
  EXPECT_EQ(m["shares"]["total"], 3);
  EXPECT_EQ(m["balances"], json::array());  // no payout store: no balances
  EXPECT_EQ(m["payments"], json::array());
  expect_error(get("/api/miners/nobody"), 404);
  expect_error(get("/api/miners/bad%20addr"), 400);

  for (int i = 1; i <= 25; ++i)
    collector->record_block({.pool = "ltc", .height = uint64_t(500 + i), .hash = "h" + std::to_string(i), .miner = "Laddr1"});
  auto b = json::parse(get("/api/blocks?page=2&limit=10").body);
  EXPECT_EQ(b["total"], 25);
  EXPECT_EQ(b["page"], 2);
  ASSERT_EQ(b["blocks"].size(), 10u);
  EXPECT_EQ(b["blocks"][0]["hash"], "h15");  // newest first: page 1 is h25..h16
  EXPECT_EQ(b["blocks"][0]["coin"], "litecoin");
  EXPECT_EQ(json::parse(get("/api/blocks?page=3&limit=10").body)["blocks"].size(), 5u);
  auto first = json::parse(get("/api/blocks?limit=1").body)["blocks"][0];
  EXPECT_EQ(first["hash"], "h25");
  // The first block closed the round with the work so far: 0.09 / 0.25.
  EXPECT_NEAR(json::parse(get("/api/blocks?page=25&limit=1").body)["blocks"][0]["effort"].get<double>(), 0.36, 1e-9);

  auto pay = json::parse(get("/api/payments?coin=litecoin").body);
  EXPECT_EQ(pay["payments"], json::array());
  EXPECT_EQ(pay["total"], 0);

  auto status = json::parse(get("/api/status").body);
  EXPECT_EQ(status["coins"][0]["height"], 500);
  EXPECT_EQ(status["mining"]["running"], false);
  EXPECT_EQ(status["p2p"]["enabled"], false);
}

TEST_F(ApiFixture, BadRequestsAreJson4xx) {
  start();
  expect_error(get("/api/blocks?page=0"), 400);
  expect_error(get("/api/blocks?page=abc"), 400);
  expect_error(get("/api/blocks?limit=1000"), 400);
  expect_error(get("/api/payments?page=-1"), 400);
  expect_error(get("/api/payments?address=not%20one"), 400);
  expect_error(get("/api/stats?coin=dogecoin"), 400);
  expect_error(get("/api/workers?pool=nope"), 400);
  expect_error(get("/api/nothing"), 404);
  expect_error(post("/api/stats"), 405);
  expect_error(get("/api/mining/start"), 405);
  expect_error(post("/api/auth/login", "not json"), 400);
  expect_error(post("/api/auth/login", R"({"username": 1})"), 400);
  expect_error(post("/api/auth/login", R"([1,2])"), 400);
  expect_error(get("/api/ws"), 426);
  // A body past the server's limit is refused, not read.
  expect_error(post("/api/auth/login", std::string(2 << 20, 'x')), 413);
}

TEST_F(ApiFixture, AuthRefusalsAndTheAuditLog) {
  start([](config::Config& c) { c.api.auth.token_expiry = 1500ms; });
  expect_error(post("/api/mining/start"), 401);                   // no token
  expect_error(post("/api/mining/start", "", "deadbeef"), 401);   // unknown token
  expect_error(post("/api/auth/login", json{{"username", "admin"}, {"password", "wrong"}}.dump()), 401);
  expect_error(post("/api/auth/login", json{{"username", "mallory"}, {"password", "x"}}.dump()), 401);
  EXPECT_FALSE(miner_running);

  std::string token = login("admin", kAdminPassword);
  ASSERT_EQ(token.size(), 64u);
  auto r = post("/api/mining/start", "", token);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(json::parse(r.body)["miner"]["running"], true);
  EXPECT_TRUE(miner_running);
  r = post("/api/mining/stop", "", token);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_FALSE(miner_running);

  // A viewer may log in but not control.
  std::string viewer = login("viewer", "just looking");
  expect_error(post("/api/mining/start", "", viewer), 403);

  // Revoked.
  EXPECT_EQ(post("/api/auth/logout", "", token).status, 200u);
  expect_error(post("/api/mining/start", "", token), 401);
  expect_error(post("/api/auth/logout", "", token), 401);

  // Expired (token_expiry 1.5 s).
  std::string soon = login("admin", kAdminPassword);
  EXPECT_EQ(post("/api/mining/start", "", soon).status, 200u);
  std::this_thread::sleep_for(1600ms);
  auto expired = post("/api/mining/stop", "", soon);
  expect_error(expired, 401);
  EXPECT_NE(expired.body.find("expired"), std::string::npos);
  EXPECT_TRUE(miner_running);  // the refused stop did nothing

  auto lines = audit_lines();
  auto count = [&](const std::string& action, bool ok, const std::string& detail_part = "") {
    int n = 0;
    for (const auto& l : lines)
      if (l["action"] == action && l["ok"] == ok && l["detail"].get<std::string>().find(detail_part) != std::string::npos &&
          l["ip"] == "127.0.0.1" && !l["time"].get<std::string>().empty())
        ++n;
    return n;
  };
  EXPECT_EQ(count("mining.start", false, "bearer token"), 1) << test::read_file(dir.path() / "audit.log");
  EXPECT_EQ(count("mining.start", false, "unknown or revoked"), 2);
  EXPECT_EQ(count("login", false, "wrong password"), 1);
  EXPECT_EQ(count("login", false, "unknown user"), 1);
  EXPECT_EQ(count("login", true), 3);
  EXPECT_EQ(count("mining.start", true), 2);
  EXPECT_EQ(count("mining.stop", true), 1);
  EXPECT_EQ(count("mining.start", false, "may not"), 1);
  EXPECT_EQ(count("logout", true), 1);
  EXPECT_EQ(count("mining.stop", false, "expired"), 1);
  // No password ever reaches the log.
  EXPECT_EQ(test::read_file(dir.path() / "audit.log").find(kAdminPassword), std::string::npos);
}

TEST_F(ApiFixture, AuthDisabledLetsControlThroughButStillAudits) {
  start([](config::Config& c) { c.api.auth.enabled = false; });
  EXPECT_EQ(post("/api/mining/start").status, 200u);
  EXPECT_TRUE(miner_running);
  auto lines = audit_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["user"], "anonymous");
  EXPECT_EQ(lines[0]["action"], "mining.start");
}

TEST_F(ApiFixture, RateLimitAnswers429AndRecovers) {
  start([](config::Config& c) {
    c.api.rate_limit.enabled = true;
    c.api.rate_limit.requests_per_second = 2;
    c.api.rate_limit.burst = 3;
  });
  int ok = 0;
  http::ClientResponse limited;
  for (int i = 0; i < 10; ++i) {
    auto r = get("/api/status");
    if (r.status == 200) ++ok;
    else if (r.status == 429) limited = r;
  }
  EXPECT_GE(ok, 3);
  EXPECT_LE(ok, 5);  // the burst, plus what 2/s refilled while the loop ran
  ASSERT_EQ(limited.status, 429u);
  EXPECT_EQ(limited.headers["retry-after"], "1");
  EXPECT_EQ(json::parse(limited.body)["error"]["code"], 429);
  // The WebSocket upgrade is limited too.
  EXPECT_THROW(http::WebSocketClient("ws://127.0.0.1:" + std::to_string(port) + "/api/ws"), std::runtime_error);
  std::this_thread::sleep_for(1600ms);  // 3 tokens back
  EXPECT_EQ(get("/api/status").status, 200u);
  EXPECT_EQ(get("/api/stats").status, 200u);
}

TEST_F(ApiFixture, WebSocketTopicsAndCap) {
  start();
  std::string ws_url = "ws://127.0.0.1:" + std::to_string(port) + "/api/ws";
  http::WebSocketClient c(ws_url);
  auto next = [&](const std::string& type) {
    for (int i = 0; i < 50; ++i) {
      auto m = c.receive(3s);
      if (!m) break;
      auto j = json::parse(*m);
      if (j["type"] == type) return j;
    }
    return json();
  };
  EXPECT_FALSE(next("hello").is_null());
  c.send(R"({"op":"subscribe","topics":["hashrate","share","block","miner","bogus"]})");
  auto sub = next("subscribed");
  EXPECT_EQ(sub["unknown"], json::array({"bogus"}));
  EXPECT_EQ(sub["topics"].size(), 4u);
  auto h = next("hashrate");  // one at once, then every 200 ms
  ASSERT_FALSE(h.is_null());
  EXPECT_EQ(h["pools"][0]["name"], "ltc");

  collector->record_share({"ltc", "Laddr1", "rig1", 0.5, stats::ShareResult::valid, stats::Clock::now()});
  collector->record_share({"ltc", "Laddr1", "rig1", 0.5, stats::ShareResult::duplicate, stats::Clock::now()});
  auto shares = next("shares");
  ASSERT_FALSE(shares.is_null());
  EXPECT_EQ(shares["count"], 2);
  EXPECT_EQ(shares["shares"][0]["worker"], "rig1");
  EXPECT_EQ(shares["shares"][1]["result"], "duplicate");
  // The next hashrate push counts the valid share: 0.5 * 65536 / 60.
  bool counted = false;
  for (int i = 0; i < 10 && !counted; ++i) {
    auto hh = next("hashrate");
    counted = !hh.is_null() && std::abs(hh["pools"][0]["hashrate"]["1m"].get<double>() - 0.5 * 65536 / 60) < 1e-6;
  }
  EXPECT_TRUE(counted);

  collector->record_block({.pool = "ltc", .height = 7, .hash = "abc"});
  auto blk = next("block");
  EXPECT_EQ(blk["block"]["hash"], "abc");
  std::string token = login("admin", kAdminPassword);
  ASSERT_EQ(post("/api/mining/start", "", token).status, 200u);
  auto mi = next("miner");
  EXPECT_EQ(mi["miner"]["running"], true);

  c.send(R"({"op":"ping"})");
  EXPECT_FALSE(next("pong").is_null());
  c.send("garbage");
  EXPECT_FALSE(next("error").is_null());
  c.send(R"({"op":"unsubscribe","topics":["hashrate","share","block","miner"]})");
  EXPECT_EQ(next("subscribed")["topics"], json::array());
  collector->record_block({.pool = "ltc", .height = 8, .hash = "def"});
  EXPECT_TRUE(next("block").is_null());

  // The per-IP cap (4 here): a flood from one address is refused with 429.
  std::vector<std::unique_ptr<http::WebSocketClient>> more;
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    try {
      more.push_back(std::make_unique<http::WebSocketClient>(ws_url + "?topics=block"));
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("429"), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_EQ(more.size(), 3u);
  EXPECT_EQ(refused, 7);
}

TEST_F(ApiFixture, OpenApiDocumentMatchesTheServedRoutes) {
  start();
  auto doc = json::parse(get("/api/docs").body);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  std::set<std::pair<std::string, std::string>> documented, served;
  for (auto& [path, item] : doc["paths"].items()) {
    std::string p = path;
    auto brace = p.find('{');
    if (brace != std::string::npos) p = p.substr(0, brace) + "*";  // /api/miners/{address} -> /api/miners/*
    for (auto& [method, _] : item.items()) {
      std::string m = method;
      for (auto& ch : m) ch = char(toupper((unsigned char)ch));
      documented.insert({m, p});
    }
  }
  for (const auto& r : routes)
    if (r.second.rfind("/api/", 0) == 0) served.insert(r);
  EXPECT_EQ(documented, served);
  // Every $ref resolves.
  std::string text = doc.dump();
  for (size_t at = 0; (at = text.find("#/components/schemas/", at)) != std::string::npos; ++at) {
    std::string name = text.substr(at + 21, text.find('"', at) - at - 21);
    EXPECT_TRUE(doc["components"]["schemas"].contains(name)) << name;
  }
  auto html = get("/api/docs.html");
  EXPECT_EQ(html.status, 200u);
  EXPECT_EQ(html.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(html.body.find("/api/miners/{address}"), std::string::npos);
}

TEST_F(ApiFixture, DashboardFilesWithTypesAndCaching) {
  start();
  auto page = get("/");
  ASSERT_EQ(page.status, 200u);
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(page.headers["cache-control"], "no-cache");
  EXPECT_NE(page.headers["content-security-policy"].find("default-src 'self'"), std::string::npos);
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  std::string etag = page.headers["etag"];
  ASSERT_FALSE(etag.empty());
  auto again = get("/", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());
  auto js = get("/app.js");
  EXPECT_EQ(js.status, 200u);
  EXPECT_EQ(js.headers["content-type"], "text/javascript; charset=utf-8");
  auto lib = get("/vendor/uPlot.iife.min.js");
  EXPECT_EQ(lib.status, 200u);
  EXPECT_EQ(lib.headers["cache-control"], "public, max-age=86400");
  EXPECT_NE(lib.body.find("uPlot"), std::string::npos);
  EXPECT_EQ(get("/vendor/uPlot.min.css").headers["content-type"], "text/css; charset=utf-8");
  EXPECT_EQ(get("/style.css").headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(get("/nothing.js").status, 404u);
}

TEST(Passwords, Argon2AndCrypt) {
  std::string h = api::hash_password("pw");
  EXPECT_EQ(h.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << h;
  EXPECT_TRUE(api::verify_password("pw", h));
  EXPECT_FALSE(api::verify_password("pW", h));
  EXPECT_NE(api::hash_password("pw"), h);  // salted
  // The reference vector of the argon2 project (RFC 9106 style parameters, argon2i).
  EXPECT_TRUE(api::verify_password("password", "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA"));
  // sha512-crypt through crypt(3) (made with glibc crypt: mkpasswd -m sha-512 -S saltsalt secret).
  EXPECT_TRUE(api::verify_password("secret", "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"));
  EXPECT_FALSE(api::verify_password("secret", "$6$saltsalt$broken"));
  EXPECT_FALSE(api::verify_password("secret", "plain"));
  EXPECT_FALSE(api::verify_password("secret", "$argon2id$garbage"));
}

}  // namespace
