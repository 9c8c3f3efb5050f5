// The Stratum v1 server against a raw TCP client: the protocol flow, every rejection path,
// the difficulty in force per job, and the limits (connections, floods, bans, idle).
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "stratum/stratum.h"
#include "support/line_client.h"

using namespace otedama;
using json = nlohmann::json;
using stratum::Job;

namespace {

using Client = otedama::test::LineClient;

struct SeenShare {
  std::string job_id, worker, extranonce1, extranonce2;
  uint32_t ntime, nonce, version;
  double difficulty;
  U256 target;
};

// Accepts shares with an even nonce; 0xdeadbeef is a block candidate; address "bad" is refused.
class FakeHandler : public stratum::Handler {
 public:
  stratum::AuthResult authorize(stratum::Session&, const stratum::WorkerName& w, std::string_view) override {
    std::lock_guard lock(mu);
    names.push_back(w);
    if (w.address == "bad") return {false, "unknown address"};
    return {true, ""};
  }
  stratum::ShareResult check_share(stratum::Session&, const stratum::ShareSubmission& s) override {
    std::lock_guard lock(mu);
    shares.push_back({s.job.id, std::string(s.worker), to_hex(s.extranonce1), to_hex(s.extranonce2), s.ntime, s.nonce,
                      s.version, s.difficulty, s.target});
    if (s.nonce == 0xdeadbeef) return stratum::ShareResult::accepted(s.difficulty * 1e6, true);
    if (s.nonce % 2) return stratum::ShareResult::rejected(stratum::error::low_difficulty, "", s.difficulty / 2);
    return stratum::ShareResult::accepted(s.difficulty);
  }
  void on_rejected(stratum::Session&, int code, std::string_view) override {
    std::lock_guard lock(mu);
    rejected.push_back(code);
  }
  SeenShare last() {
    std::lock_guard lock(mu);
    return shares.back();
  }
  size_t count() {
    std::lock_guard lock(mu);
    return shares.size();
  }

  std::mutex mu;
  std::vector<stratum::WorkerName> names;
  std::vector<SeenShare> shares;
  std::vector<int> rejected;
};

Job make_job(const std::string& id, bool clean, uint32_t ntime = 0x66000000) {
  Job j;
  j.id = id;
  j.prevhash_hex = std::string(64, 'a');
  j.coinb1_hex = "01000000010000";
  j.coinb2_hex = "ffffffff0100";
  j.merkle_branch_hex = {std::string(64, 'b'), std::string(64, 'c')};
  j.version = 0x20000000;
  j.nbits = 0x1d00ffff;
  j.ntime = ntime;
  j.clean = clean;
  return j;
}

class StratumServer : public ::testing::Test {
 protected:
  void start(stratum::ServerConfig c = {}) {
    server = std::make_unique<stratum::Server>(io, c, handler);
    server->listen("127.0.0.1", 0);
    server->start();
    port = server->port();
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
  }

  template <class F>
  auto on_io(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return result.get();
  }

  void TearDown() override {
    if (thread.joinable()) {
      on_io([this] { server->stop(); });
      io.stop();
      thread.join();
    }
  }

  // On the loop thread only.
  stratum::Session* by_worker(const std::string& worker) {
    stratum::Session* found = nullptr;
    server->for_each_session([&](stratum::Session& s) {
      for (auto& w : s.workers()) {
        if (w == worker) found = &s;
      }
    });
    return found;
  }
  stratum::SessionId session_of(const std::string& worker) {
    return on_io([&] { return by_worker(worker)->id(); });
  }
  void notify(Job j) {
    on_io([&] { server->notify_all(j); });
  }

  // Subscribe + authorize; returns the first job's notify when one is out.
  std::unique_ptr<Client> miner(const std::string& worker, bool expect_job = true) {
    auto c = std::make_unique<Client>(port);
    auto sub = c->call("mining.subscribe", {"test-miner/1.0"});
    EXPECT_TRUE(sub["error"].is_null()) << sub;
    auto auth = c->call("mining.authorize", {worker, "x"});
    EXPECT_EQ(auth["result"], true) << auth;
    if (expect_job) {
      EXPECT_TRUE(c->note("mining.notify"));
    }
    return c;
  }

  // A second connection still gets served.
  void expect_server_alive() {
    Client other(port);
    auto r = other.call("mining.ping");
    EXPECT_EQ(r["result"], "pong");
  }

  static int error_code(const json& reply) {
    if (reply["error"].is_array()) return reply["error"][0].get<int>();
    if (reply["error"].is_object()) return reply["error"]["code"].get<int>();
    return 0;
  }

  boost::asio::io_context io;
  FakeHandler handler;
  std::unique_ptr<stratum::Server> server;
  uint16_t port = 0;
  std::thread thread;
};

json submit_params(const std::string& worker, const std::string& job, const std::string& en2, uint32_t ntime,
                   uint32_t nonce) {
  return {worker, job, en2, stratum::hex32(ntime), stratum::hex32(nonce)};
}

// ---- flow --------------------------------------------------------------------------------

TEST_F(StratumServer, SubscribeAuthorizeThenDifficultyThenJob) {
  start();
  notify(make_job("j1", true));
  Client c(port);
  auto sub = c.call("mining.subscribe", {"cgminer/4.11"});
  ASSERT_TRUE(sub["result"].is_array()) << sub;
  EXPECT_EQ(sub["result"][0][0][0], "mining.set_difficulty");
  EXPECT_EQ(sub["result"][0][1][0], "mining.notify");
  EXPECT_EQ(sub["result"][1].get<std::string>().size(), 8u);  // 4-byte extranonce1
  EXPECT_EQ(sub["result"][2], 8);
  // Nothing before authorize: no job, no difficulty.
  EXPECT_FALSE(c.next(200));
  auto auth = c.call("mining.authorize", {"addr.rig1", "x"});
  EXPECT_EQ(auth["result"], true);
  // Right after the reply: the difficulty, then the job.
  auto d = c.next();
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["method"], "mining.set_difficulty");
  EXPECT_EQ((*d)["params"][0], 16);
  auto n = c.next();
  ASSERT_TRUE(n);
  ASSERT_EQ((*n)["method"], "mining.notify");
  auto& p = (*n)["params"];
  EXPECT_EQ(p[0], "j1");
  EXPECT_EQ(p[1], std::string(64, 'a'));
  EXPECT_EQ(p[2], "01000000010000");
  EXPECT_EQ(p[3], "ffffffff0100");
  EXPECT_EQ(p[4].size(), 2u);
  EXPECT_EQ(p[5], "20000000");
  EXPECT_EQ(p[6], "1d00ffff");
  EXPECT_EQ(p[7], "66000000");
  EXPECT_EQ(p[8], true);
  // The next job alone (difficulty unchanged).
  notify(make_job("j2", false));
  auto n2 = c.next();
  ASSERT_TRUE(n2);
  EXPECT_EQ((*n2)["method"], "mining.notify");
  EXPECT_EQ((*n2)["params"][0], "j2");
  EXPECT_EQ((*n2)["params"][8], false);
  EXPECT_FALSE(c.saw("mining.set_version_mask"));
  EXPECT_EQ(on_io([&] { return by_worker("addr.rig1")->user_agent(); }), "cgminer/4.11");
  std::lock_guard lock(handler.mu);
  ASSERT_EQ(handler.names.size(), 1u);
  EXPECT_EQ(handler.names[0].address, "addr");
  EXPECT_EQ(handler.names[0].worker, "rig1");
}

TEST_F(StratumServer, AuthorizeRefusedByHandler) {
  start();
  Client c(port);
  c.call("mining.subscribe");
  auto r = c.call("mining.authorize", {"bad.rig", "x"});
  EXPECT_EQ(error_code(r), stratum::error::unauthorized);
  EXPECT_EQ(r["error"][1], "unknown address");
  EXPECT_EQ(c.call("mining.ping")["result"], "pong");
}

TEST_F(StratumServer, PingVersionAndJsonRpcIds) {
  start();
  Client c(port);
  EXPECT_EQ(c.call("mining.ping")["result"], "pong");
  auto v = c.call("client.get_version");
  EXPECT_EQ(v["result"].get<std::string>().rfind("otedama/", 0), 0u) << v;
  c.send_raw(R"({"id":"abc","method":"mining.ping","params":[]})" "\n");
  EXPECT_EQ(c.reply("abc")["result"], "pong");
  c.send_raw(R"({"jsonrpc":"2.0","id":null,"method":"mining.ping"})" "\n");
  auto r = c.reply(nullptr);
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["result"], "pong");
  c.send_raw(R"({"jsonrpc":"2.0","id":7,"method":"mining.nope"})" "\n");
  auto e = c.reply(7);
  EXPECT_EQ(e["error"]["code"], stratum::error::method_not_found);
}

TEST_F(StratumServer, ConfigureNegotiatesVersionMaskAndNeverSendsItEarly) {
  start();
  notify(make_job("j1", true));
  auto plain = miner("addr.plain");
  Client c(port);
  auto r = c.call("mining.configure",
                  {{"version-rolling", "minimum-difficulty", "subscribe-extranonce", "unknown-ext"},
                   {{"version-rolling.mask", "00fff000"},
                    {"version-rolling.min-bit-count", 2},
                    {"minimum-difficulty.value", 64}}});
  auto& res = r["result"];
  EXPECT_EQ(res["version-rolling"], true) << r;
  EXPECT_EQ(res["version-rolling.mask"], "00ffe000");  // pool 1fffe000 & miner 00fff000
  EXPECT_EQ(res["minimum-difficulty"], true);
  EXPECT_EQ(res["subscribe-extranonce"], true);
  EXPECT_EQ(res["unknown-ext"], false);
  c.call("mining.subscribe");
  c.call("mining.authorize", {"addr.asic", "x"});
  auto d = c.note("mining.set_difficulty");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["params"][0], 64);  // raised to the miner's minimum
  ASSERT_TRUE(c.note("mining.notify"));
  EXPECT_FALSE(c.saw("mining.set_version_mask"));

  // The pool's mask changes: only the session that negotiated version rolling hears of it.
  on_io([&] { server->set_version_mask(0x0fffe000); });
  auto m = c.note("mining.set_version_mask");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["params"][0], "00ffe000");
  EXPECT_EQ(plain->call("mining.ping")["result"], "pong");
  EXPECT_FALSE(plain->saw("mining.set_version_mask"));

  // Too few bits for the miner's minimum: version rolling stays off.
  Client few(port);
  auto f = few.call("mining.configure", {{"version-rolling"}, {{"version-rolling.mask", "00003000"},
                                                              {"version-rolling.min-bit-count", 16}}});
  EXPECT_EQ(f["result"]["version-rolling"], false);
}

TEST_F(StratumServer, SuggestDifficultyHonouredWithinLimits) {
  stratum::ServerConfig cfg;
  cfg.min_difficulty = 0.001;
  cfg.max_difficulty = 1e6;
  start(cfg);
  notify(make_job("j1", true));
  Client c(port);
  c.call("mining.subscribe");
  EXPECT_EQ(c.call("mining.suggest_difficulty", {32})["result"], true);
  c.call("mining.authorize", {"addr.a", "x"});
  auto d = c.note("mining.set_difficulty");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["params"][0], 32);
  EXPECT_TRUE(on_io([&] { return by_worker("addr.a")->difficulty_fixed(); }));
  // Above max: clamped, and sent with the next job, not alone.
  c.call("mining.suggest_difficulty", {1e20});
  EXPECT_FALSE(c.note("mining.set_difficulty", 200));
  notify(make_job("j2", false));
  d = c.note("mining.set_difficulty");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["params"][0], 1e6);
  // Below min: clamped up.
  c.call("mining.suggest_difficulty", {1e-9});
  notify(make_job("j3", false));
  d = c.note("mining.set_difficulty");
  ASSERT_TRUE(d);
  EXPECT_DOUBLE_EQ((*d)["params"][0].get<double>(), 0.001);
  EXPECT_EQ(error_code(c.call("mining.suggest_difficulty", {"big"})), stratum::error::invalid_params);
  EXPECT_EQ(error_code(c.call("mining.suggest_difficulty", {-1})), stratum::error::invalid_params);
}

TEST_F(StratumServer, FixedDifficultySuffix) {
  start();
  notify(make_job("j1", true));
  Client c(port);
  c.call("mining.subscribe");
  EXPECT_EQ(c.call("mining.authorize", {"addr.rental+512", "x"})["result"], true);
  auto d = c.note("mining.set_difficulty");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["params"][0], 512);
  {
    std::lock_guard lock(handler.mu);
    ASSERT_EQ(handler.names.size(), 1u);
    EXPECT_EQ(handler.names[0].user, "addr.rental");
    EXPECT_EQ(handler.names[0].fixed_difficulty, 512);
  }
  // Shares name the worker with or without the suffix.
  ASSERT_TRUE(c.note("mining.notify"));
  EXPECT_EQ(c.call("mining.submit", submit_params("addr.rental+512", "j1", "0000000000000001", 0x66000000, 2))["result"], true);
  EXPECT_EQ(c.call("mining.submit", submit_params("addr.rental", "j1", "0000000000000001", 0x66000000, 4))["result"], true);
  EXPECT_EQ(handler.last().difficulty, 512);
}

TEST_F(StratumServer, ExtranonceSubscribeThenSetExtranonce) {
  start();
  notify(make_job("j1", true));
  auto c = miner("addr.nh");
  EXPECT_EQ(c->call("mining.extranonce.subscribe")["result"], true);
  auto plain = miner("addr.plain");
  const Bytes en1 = {1, 2, 3, 4, 5};
  EXPECT_TRUE(on_io([&] { return by_worker("addr.nh")->set_extranonce(en1, 3); }));
  EXPECT_FALSE(on_io([&] { return by_worker("addr.plain")->set_extranonce(Bytes{9, 9, 9, 9, 9}, 3); }));
  auto m = c->note("mining.set_extranonce");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["params"][0], "0102030405");
  EXPECT_EQ((*m)["params"][1], 3);
  // The job sent before the change keeps the old extranonce; the next one uses the new.
  auto old = c->call("mining.submit", submit_params("addr.nh", "j1", "0000000000000001", 0x66000000, 2));
  EXPECT_EQ(old["result"], true) << old;
  EXPECT_NE(handler.last().extranonce1, "0102030405");
  notify(make_job("j2", false));
  ASSERT_TRUE(c->note("mining.notify"));
  auto wrong = c->call("mining.submit", submit_params("addr.nh", "j2", "0000000000000001", 0x66000000, 2));
  EXPECT_EQ(error_code(wrong), stratum::error::other);  // 8 bytes no longer fit
  auto ok = c->call("mining.submit", submit_params("addr.nh", "j2", "abcdef", 0x66000000, 2));
  EXPECT_EQ(ok["result"], true) << ok;
  EXPECT_EQ(handler.last().extranonce1, "0102030405");
  EXPECT_EQ(handler.last().extranonce2, "abcdef");
  EXPECT_FALSE(plain->saw("mining.set_extranonce"));
  // An extranonce1 another session holds is refused.
  auto other_en1 = on_io([&] { return Bytes(by_worker("addr.plain")->extranonce1().begin(),
                                            by_worker("addr.plain")->extranonce1().end()); });
  EXPECT_THROW(on_io([&] { return by_worker("addr.nh")->set_extranonce(other_en1, 4); }),
               std::invalid_argument);
}

TEST_F(StratumServer, Extranonce1UniqueAcross100Connections) {
  start();
  std::vector<std::unique_ptr<Client>> clients;
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<Client>(port));
    auto r = clients.back()->call("mining.subscribe");
    seen.insert(r["result"][1].get<std::string>());
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(on_io([&] { return server->session_count(); }), 100u);
}

TEST_F(StratumServer, ReconnectAndShowMessage) {
  start();
  notify(make_job("j1", true));
  auto c = miner("addr.r");
  on_io([&] {
    auto* s = by_worker("addr.r");
    s->show_message("maintenance at noon");
    s->reconnect("pool2.example", 3334, 5);
  });
  auto m = c->note("client.show_message");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["params"][0], "maintenance at noon");
  auto r = c->note("client.reconnect");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["params"], json({"pool2.example", 3334, 5}));
}

// ---- shares ------------------------------------------------------------------------------

TEST_F(StratumServer, AcceptsAndPassesTheShare) {
  start();
  notify(make_job("j1", true));
  auto c = miner("addr.w");
  auto r = c->call("mining.submit", submit_params("addr.w", "j1", "00000000000000ff", 0x66000010, 0x1234));
  EXPECT_EQ(r["result"], true) << r;
  EXPECT_TRUE(r["error"].is_null());
  auto s = handler.last();
  EXPECT_EQ(s.job_id, "j1");
  EXPECT_EQ(s.extranonce2, "00000000000000ff");
  EXPECT_EQ(s.ntime, 0x66000010u);
  EXPECT_EQ(s.nonce, 0x1234u);
  EXPECT_EQ(s.version, 0x20000000u);
  EXPECT_EQ(s.difficulty, 16);
  EXPECT_EQ(s.target, target_from_difficulty(16, U256::from_compact(0x1d00ffff)));
  // A block candidate is accepted like any share (the handler submits the block).
  auto& blocks = metrics().counter("otedama_stratum_block_candidates_total", "", {{"server", "stratum"}});
  double before = blocks.value();
  r = c->call("mining.submit", submit_params("addr.w", "j1", "00000000000000ff", 0x66000010, 0xdeadbeef));
  EXPECT_EQ(r["result"], true);
  EXPECT_EQ(blocks.value(), before + 1);
}

TEST_F(StratumServer, StaleOnlyBeforeTheLastCleanJob) {
  start();
  notify(make_job("a", true));
  auto c = miner("addr.w");
  notify(make_job("b", false));  // a refresh: "a" stays valid
  ASSERT_TRUE(c->note("mining.notify"));
  EXPECT_EQ(c->call("mining.submit", submit_params("addr.w", "a", "0000000000000001", 0x66000000, 2))["result"], true);
  notify(make_job("c", true));  // a new block: "a" and "b" are stale now
  ASSERT_TRUE(c->note("mining.notify"));
  auto r = c->call("mining.submit", submit_params("addr.w", "b", "0000000000000001", 0x66000000, 2));
  EXPECT_EQ(error_code(r), stratum::error::job_not_found) << r;
  EXPECT_NE(r["error"][1].get<std::string>().find("Stale"), std::string::npos);
  r = c->call("mining.submit", submit_params("addr.w", "nosuchjob", "0000000000000001", 0x66000000, 2));
  EXPECT_EQ(error_code(r), stratum::error::job_not_found);
  EXPECT_EQ(r["error"][1], "Job not found");
  EXPECT_EQ(c->call("mining.submit", submit_params("addr.w", "c", "0000000000000001", 0x66000000, 2))["result"], true);
  expect_server_alive();
}

TEST_F(StratumServer, DuplicateShare) {
  start();
  notify(make_job("j1", true));
  auto c = miner("addr.w");
  auto p = submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 2);
  EXPECT_EQ(c->call("mining.submit", p)["result"], true);
  EXPECT_EQ(error_code(c->call("mining.submit", p)), stratum::error::duplicate);
  // Any field different: not a duplicate.
  EXPECT_EQ(c->call("mining.submit", submit_params("addr.w", "j1", "0000000000000002", 0x66000000, 2))["result"], true);
  EXPECT_EQ(c->call("mining.submit", submit_params("addr.w", "j1", "0000000000000001", 0x66000001, 2))["result"], true);
  EXPECT_EQ(c->call("mining.submit", submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 4))["result"], true);
  EXPECT_EQ(c->call("mining.ping")["result"], "pong");
  expect_server_alive();
}

TEST_F(StratumServer, LowDifficultyFromTheHandler) {
  start();
  notify(make_job("j1", true));
  auto c = miner("addr.w");
  auto r = c->call("mining.submit", submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 3));
  EXPECT_EQ(error_code(r), stratum::error::low_difficulty);
  EXPECT_EQ(r["error"][1], "Low difficulty share");
  EXPECT_EQ(c->call("mining.ping")["result"], "pong");
  expect_server_alive();
}

TEST_F(StratumServer, BadNtime) {
  start();
  notify(make_job("j1", true, 0x66000000));
  auto c = miner("addr.w");
  auto code = [&](json ntime) {
    json p = submit_params("addr.w", "j1", "0000000000000001", 0, 2);
    p[3] = ntime;
    return error_code(c->call("mining.submit", p));
  };
  EXPECT_EQ(code("65ffffff"), stratum::error::other);                        // earlier than the job
  EXPECT_EQ(code(stratum::hex32(0x66000000 + 7201)), stratum::error::other);  // over 2 h later
  EXPECT_EQ(code("zzzzzzzz"), stratum::error::other);
  EXPECT_EQ(code("6600"), stratum::error::other);
  EXPECT_EQ(code(stratum::hex32(0x66000000 + 7200)), 0);  // the edge is fine
  EXPECT_EQ(c->call("mining.ping")["result"], "pong");
  expect_server_alive();
}

TEST_F(StratumServer, VersionBitsOutsideTheMask) {
  start();
  notify(make_job("j1", true));
  Client c(port);
  c.call("mining.configure", {{"version-rolling"}, {{"version-rolling.mask", "ffffffff"}}});
  c.call("mining.subscribe");
  c.call("mining.authorize", {"addr.w", "x"});
  ASSERT_TRUE(c.note("mining.notify"));
  auto submit = [&](const std::string& bits, uint32_t nonce) {
    json p = submit_params("addr.w", "j1", "0000000000000001", 0x66000000, nonce);
    p.push_back(bits);
    return c.call("mining.submit", p);
  };
  auto r = submit("00000001", 2);
  EXPECT_EQ(error_code(r), stratum::error::other) << r;
  EXPECT_EQ(error_code(submit("40000000", 2)), stratum::error::other);
  EXPECT_EQ(error_code(submit("xyz", 2)), stratum::error::other);
  r = submit("00002000", 2);  // BIP310: the rolled bits
  EXPECT_EQ(r["result"], true) << r;
  EXPECT_EQ(handler.last().version, 0x20002000u);
  r = submit("2000e000", 4);  // the whole nVersion, as some firmwares send it
  EXPECT_EQ(r["result"], true) << r;
  EXPECT_EQ(handler.last().version, 0x2000e000u);
  // Without mining.configure no bit may change.
  auto plain = miner("addr.plain", true);
  json p = submit_params("addr.plain", "j1", "0000000000000001", 0x66000000, 2);
  p.push_back("00002000");
  EXPECT_EQ(error_code(plain->call("mining.submit", p)), stratum::error::other);
  expect_server_alive();
}

TEST_F(StratumServer, BadExtranonce2AndNonce) {
  start();
  notify(make_job("j1", true));
  auto c = miner("addr.w");
  EXPECT_EQ(error_code(c->call("mining.submit", submit_params("addr.w", "j1", "0001", 0x66000000, 2))),
            stratum::error::other);
  EXPECT_EQ(error_code(c->call("mining.submit", submit_params("addr.w", "j1", "000000000000000g", 0x66000000, 2))),
            stratum::error::other);
  json p = submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 2);
  p[4] = "12345";
  EXPECT_EQ(error_code(c->call("mining.submit", p)), stratum::error::other);
  expect_server_alive();
}

TEST_F(StratumServer, MalformedJsonUnknownMethodAndWrongTypes) {
  start();
  notify(make_job("j1", true));
  auto c = miner("addr.w");
  c->send_raw("{\"id\": 1, \"method\": \"mining.subscribe\", \n");
  auto r = c->reply(nullptr);
  EXPECT_EQ(error_code(r), stratum::error::parse_error);
  c->send_raw("[1,2,3]\n");
  EXPECT_EQ(error_code(c->reply(nullptr)), stratum::error::invalid_request);
  EXPECT_EQ(error_code(c->call("mining.frobnicate")), stratum::error::method_not_found);
  json p = submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 2);
  p[4] = 2;  // a number where a hex string belongs
  EXPECT_EQ(error_code(c->call("mining.submit", p)), stratum::error::invalid_params);
  EXPECT_EQ(error_code(c->call("mining.submit", {"addr.w", "j1"})), stratum::error::invalid_params);
  EXPECT_EQ(error_code(c->call("mining.authorize", {42})), stratum::error::invalid_params);
  EXPECT_EQ(error_code(c->call("mining.configure", {"version-rolling"})), stratum::error::invalid_params);
  c->send_raw(R"({"id":9,"method":"mining.submit","params":{"worker":"addr.w"}})" "\n");
  EXPECT_EQ(error_code(c->reply(9)), stratum::error::invalid_params);
  // Still the same connection, still working.
  EXPECT_EQ(c->call("mining.submit", submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 2))["result"], true);
  expect_server_alive();
}

TEST_F(StratumServer, OversizedLineDisconnectsOnlyThatConnection) {
  start();
  notify(make_job("j1", true));
  auto bystander = miner("addr.b");
  Client c(port);
  c.call("mining.subscribe");
  std::string big = R"({"id":5,"method":"mining.subscribe","params":[")" + std::string(17 * 1024, 'x') + "\"]}\n";
  c.send_raw(big);
  auto r = c.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(error_code(*r), stratum::error::other);
  EXPECT_EQ((*r)["error"][1], "Line too long");
  EXPECT_TRUE(c.closed_by_server());
  // A line just under the cap is fine.
  Client ok(port);
  std::string agent(16 * 1024 - 100, 'y');
  auto sub = ok.call("mining.subscribe", {agent});
  EXPECT_TRUE(sub["error"].is_null());
  EXPECT_EQ(bystander->call("mining.ping")["result"], "pong");
  expect_server_alive();
}

TEST_F(StratumServer, SubmitBeforeSubscribeOrAuthorize) {
  start();
  notify(make_job("j1", true));
  Client c(port);
  auto r = c.call("mining.submit", submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 2));
  EXPECT_EQ(error_code(r), stratum::error::not_subscribed);
  c.call("mining.subscribe");
  r = c.call("mining.submit", submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 2));
  EXPECT_EQ(error_code(r), stratum::error::unauthorized);
  c.call("mining.authorize", {"addr.w", "x"});
  r = c.call("mining.submit", submit_params("addr.other", "j1", "0000000000000001", 0x66000000, 2));
  EXPECT_EQ(error_code(r), stratum::error::unauthorized);
  EXPECT_EQ(handler.count(), 0u);
  EXPECT_EQ(c.call("mining.ping")["result"], "pong");
  expect_server_alive();
}

// ---- difficulty in force -------------------------------------------------------------------

TEST_F(StratumServer, ShareJudgedAtTheDifficultyItsJobWasSentWith) {
  start();
  notify(make_job("j1", true));
  Client c(port);
  c.call("mining.subscribe");
  on_io([&] {  // before authorize: the first job goes out at 8
    server->for_each_session([](stratum::Session& s) { s.set_difficulty(8); });
  });
  c.call("mining.authorize", {"addr.w", "x"});
  auto d = c.next();
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["method"], "mining.set_difficulty");
  EXPECT_EQ((*d)["params"][0], 8);
  ASSERT_EQ((*c.next())["params"][0], "j1");
  auto id = session_of("addr.w");

  // Raised to 16: nothing is sent until the next job, and then right before it.
  on_io([&] { server->find(id)->set_difficulty(16); });
  EXPECT_EQ(c.call("mining.ping")["result"], "pong");
  EXPECT_TRUE(c.pending.empty());
  notify(make_job("j2", false));
  d = c.next();
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["method"], "mining.set_difficulty");
  EXPECT_EQ((*d)["params"][0], 16);
  auto n = c.next();
  ASSERT_TRUE(n);
  EXPECT_EQ((*n)["params"][0], "j2");

  auto diff1 = U256::from_compact(0x1d00ffff);
  EXPECT_EQ(c.call("mining.submit", submit_params("addr.w", "j1", "0000000000000001", 0x66000000, 2))["result"], true);
  EXPECT_EQ(handler.last().difficulty, 8);  // the older job keeps its lower difficulty
  EXPECT_EQ(handler.last().target, target_from_difficulty(8, diff1));
  EXPECT_EQ(c.call("mining.submit", submit_params("addr.w", "j2", "0000000000000001", 0x66000000, 2))["result"], true);
  EXPECT_EQ(handler.last().difficulty, 16);

  // Lowered to 4: in-flight work for j2 is still judged at 16, j3 at 4.
  on_io([&] { server->find(id)->set_difficulty(4); });
  notify(make_job("j3", false));
  d = c.note("mining.set_difficulty");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["params"][0], 4);
  ASSERT_TRUE(c.note("mining.notify"));
  EXPECT_EQ(c.call("mining.submit", submit_params("addr.w", "j2", "0000000000000002", 0x66000000, 2))["result"], true);
  EXPECT_EQ(handler.last().difficulty, 16);
  EXPECT_EQ(c.call("mining.submit", submit_params("addr.w", "j3", "0000000000000002", 0x66000000, 2))["result"], true);
  EXPECT_EQ(handler.last().difficulty, 4);
  EXPECT_EQ(handler.last().target, target_from_difficulty(4, diff1));

  // notify() to one session: fresh work right after a difficulty change.
  on_io([&] { server->find(id)->set_difficulty(32); });
  EXPECT_TRUE(on_io([&] { return server->notify(id, make_job("j3b", false)); }));
  d = c.next();
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["params"][0], 32);
  EXPECT_EQ((*c.next())["params"][0], "j3b");
}

TEST_F(StratumServer, JobsAreValidated) {
  start();
  notify(make_job("j1", true));
  EXPECT_THROW(notify(make_job("j1", false)), std::invalid_argument);
  auto bad = make_job("j2", false);
  bad.prevhash_hex = "abcd";
  EXPECT_THROW(notify(bad), std::invalid_argument);
  bad = make_job("j3", false);
  bad.coinb1_hex = "0g";
  EXPECT_THROW(notify(bad), std::invalid_argument);
}

// ---- limits ------------------------------------------------------------------------------

TEST_F(StratumServer, MaxConnectionsEnforced) {
  stratum::ServerConfig cfg;
  cfg.max_connections = 3;
  start(cfg);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(port));
    EXPECT_EQ(clients.back()->call("mining.ping")["result"], "pong");
  }
  Client extra(port);
  extra.send_raw("{\"id\":1,\"method\":\"mining.ping\"}\n");
  EXPECT_TRUE(extra.closed_by_server());
  EXPECT_FALSE(extra.saw("mining.ping"));
  clients.pop_back();  // a slot frees up
  for (int i = 0; i < 100 && on_io([&] { return server->session_count(); }) > 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Client again(port);
  EXPECT_EQ(again.call("mining.ping")["result"], "pong");
}

TEST_F(StratumServer, FloodLimit) {
  stratum::ServerConfig cfg;
  cfg.max_messages_per_second = 20;
  start(cfg);
  Client c(port);
  std::string burst;
  for (int i = 0; i < 50; ++i) burst += "{\"id\":" + std::to_string(i) + ",\"method\":\"mining.ping\"}\n";
  c.send_raw(burst);
  EXPECT_TRUE(c.closed_by_server());
  int pongs = 0;
  bool told = false;
  for (auto& j : c.log) {
    if (j.value("result", json()) == "pong") ++pongs;
    if (j["error"].is_array() && j["error"][1] == "Too many messages") told = true;
  }
  EXPECT_EQ(pongs, 20);
  EXPECT_TRUE(told);
  expect_server_alive();
}

TEST_F(StratumServer, BanAfterInvalidRatioThenExpiry) {
  stratum::ServerConfig cfg;
  cfg.ban_min_shares = 10;
  cfg.ban_invalid_ratio = 0.5;
  cfg.ban_window = std::chrono::seconds(60);
  cfg.ban_duration = std::chrono::milliseconds(500);
  start(cfg);
  notify(make_job("j1", true));
  auto c = miner("addr.bad");
  // 4 good shares, then bad ones: banned once bad > 50% of >= 10.
  for (uint32_t i = 0; i < 4; ++i)
    EXPECT_EQ(c->call("mining.submit", submit_params("addr.bad", "j1", "0000000000000001", 0x66000000, 2 * i))["result"], true);
  for (uint32_t i = 0; i < 5; ++i)
    EXPECT_EQ(error_code(c->call("mining.submit", submit_params("addr.bad", "j1", "0000000000000001", 0x66000000, 2 * i + 1))),
              stratum::error::low_difficulty);
  EXPECT_FALSE(on_io([&] { return server->is_banned("127.0.0.1"); }));  // 5 of 9: not enough shares yet
  c->send(json{{"id", 100}, {"method", "mining.submit"},
               {"params", submit_params("addr.bad", "j1", "0000000000000001", 0x66000000, 11)}});
  EXPECT_TRUE(c->closed_by_server());
  EXPECT_TRUE(on_io([&] { return server->is_banned("127.0.0.1"); }));
  Client refused(port);
  refused.send_raw("{\"id\":1,\"method\":\"mining.ping\"}\n");
  EXPECT_TRUE(refused.closed_by_server());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_FALSE(on_io([&] { return server->is_banned("127.0.0.1"); }));
  Client back(port);
  EXPECT_EQ(back.call("mining.ping")["result"], "pong");
}

TEST_F(StratumServer, IdleTimeout) {
  stratum::ServerConfig cfg;
  cfg.idle_timeout = std::chrono::milliseconds(300);
  start(cfg);
  Client quiet(port);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(quiet.closed_by_server(3000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
}

TEST_F(StratumServer, StopClosesSessions) {
  start();
  Client c(port);
  EXPECT_EQ(c.call("mining.ping")["result"], "pong");
  on_io([&] { server->stop(); });
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(on_io([&] { return server->session_count(); }), 0u);
}

TEST_F(StratumServer, ListenErrorNamesTheAddress) {
  start();
  stratum::Server second(io, {}, handler);
  try {
    second.listen("127.0.0.1", port);
    FAIL() << "bound a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
  }
}

TEST(StratumConfig, RejectsInconsistentValues) {
  boost::asio::io_context io;
  FakeHandler h;
  stratum::ServerConfig c;
  c.extranonce2_size = 0;
  EXPECT_THROW(stratum::Server(io, c, h), std::invalid_argument);
  c = {};
  c.min_difficulty = 10;
  c.max_difficulty = 1;
  EXPECT_THROW(stratum::Server(io, c, h), std::invalid_argument);
}

// ---- wire helpers ------------------------------------------------------------------------

TEST(StratumWire, WorkerNames) {
  auto w = stratum::parse_worker_name("ltc1qxyz.rig7+2048");
  EXPECT_EQ(w.user, "ltc1qxyz.rig7");
  EXPECT_EQ(w.address, "ltc1qxyz");
  EXPECT_EQ(w.worker, "rig7");
  EXPECT_EQ(w.fixed_difficulty, 2048);
  w = stratum::parse_worker_name("ltc1qxyz");
  EXPECT_EQ(w.address, "ltc1qxyz");
  EXPECT_EQ(w.worker, "");
  EXPECT_FALSE(w.fixed_difficulty);
  w = stratum::parse_worker_name("addr.w+0.5");
  EXPECT_EQ(w.fixed_difficulty, 0.5);
  w = stratum::parse_worker_name("addr.w+abc");  // not a number: part of the name
  EXPECT_EQ(w.worker, "w+abc");
  EXPECT_FALSE(w.fixed_difficulty);
  EXPECT_FALSE(stratum::parse_worker_name("addr.w+-5").fixed_difficulty);
  EXPECT_FALSE(stratum::parse_worker_name("addr.w+inf").fixed_difficulty);
}

TEST(StratumWire, HexAndDifficulty) {
  EXPECT_EQ(stratum::hex32(0x1d00ffff), "1d00ffff");
  EXPECT_EQ(stratum::hex32(0), "00000000");
  uint32_t v = 0;
  EXPECT_TRUE(stratum::parse_hex32("DEADbeef", v));
  EXPECT_EQ(v, 0xdeadbeefu);
  EXPECT_FALSE(stratum::parse_hex32("deadbee", v));
  EXPECT_FALSE(stratum::parse_hex32("deadbeeg", v));
  EXPECT_EQ(stratum::difficulty_json(16), "16");
  EXPECT_EQ(json::parse(stratum::difficulty_json(0.0001)).get<double>(), 0.0001);
  EXPECT_EQ(json::parse(stratum::difficulty_json(1.0 / 4294967296.0)).get<double>(), 1.0 / 4294967296.0);
}

}  // namespace
