// The Stratum server's Monero dialect (docs/stratum-monero.md) against a raw TCP client and a
// fake handler: login/getjob/keepalived/submit, pushed jobs, every rejection path, NiceHash
// mode, asynchronous share checks (no head-of-line blocking), and bad input.
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "stratum/stratum.h"
#include "support/line_client.h"

using namespace otedama;
using otedama::test::LineClient;
using json = nlohmann::json;

namespace {

const std::string kAddress = "4AzKEX4gXdJdNeM6dfiBFL7kqund3HYGvMBF3ttsNd9SfzgYB6L7ep1Yg1osYJzLdaKAYSLVh6e6jKnAuzj3bw1oGy9kXCb";

// Accepts addresses starting with '4'; a share is valid when its nonce is even, low difficulty
// when odd. Checks run on their own threads after `delay_for(nonce)`.
struct FakeHandler : stratum::Handler {
  std::mutex mutex;
  int jobs_made = 0;
  std::vector<std::thread> threads;
  std::vector<std::string> rejected;
  std::function<int(uint32_t)> delay_ms = [](uint32_t) { return 0; };
  bool have_work = true;

  ~FakeHandler() override {
    for (auto& t : threads) t.join();
  }

  stratum::AuthResult authorize(stratum::Session&, const stratum::WorkerName& w, std::string_view) override {
    if (w.address.empty() || w.address[0] != '4') return {false, "Invalid address: '" + w.address + "'"};
    return {true, ""};
  }

  std::optional<stratum::MoneroJob> monero_job(stratum::Session& s) override {
    if (!have_work) return std::nullopt;
    std::lock_guard lock(mutex);
    stratum::MoneroJob j;
    j.id = "j" + std::to_string(++jobs_made);
    std::string blob(152, '0');  // 76 bytes
    blob.replace(0, 2, "10");
    char top[3];  // the nonce's top byte (blob byte 42), as a NiceHash-mode pool sets it
    std::snprintf(top, sizeof top, "%02x", s.nonce_byte());
    blob.replace(84, 2, top);
    j.blob_hex = blob;
    j.difficulty = uint64_t(s.difficulty());
    j.target_hex = "e4ffffff";  // any valid target: the fake does not hash
    j.height = 7;
    j.seed_hash_hex = std::string(64, 'a');
    j.clean = false;
    return j;
  }

  void check_monero_share(stratum::Session&, stratum::MoneroShare share, stratum::ShareDone done) override {
    std::lock_guard lock(mutex);
    threads.emplace_back([this, share, done] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(share.nonce)));
      if (share.nonce % 2 == 0) done(stratum::ShareResult::accepted(double(share.job->difficulty)));
      else done(stratum::ShareResult::rejected(stratum::error::low_difficulty, "Low difficulty share"));
    });
  }

  void on_rejected(stratum::Session&, int, std::string_view message) override {
    std::lock_guard lock(mutex);
    rejected.emplace_back(message);
  }
};

class MoneroServer : public ::testing::Test {
 protected:
  void start(stratum::ServerConfig cfg = {}) {
    cfg.protocol = stratum::Protocol::monero;
    cfg.initial_difficulty = 5000;
    cfg.min_difficulty = 1;
    server = std::make_unique<stratum::Server>(io, cfg, handler);
    server->listen("127.0.0.1", 0);
    port = server->port();
    server->start();
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

  std::unique_ptr<LineClient> client() {
    auto c = std::make_unique<LineClient>(port);
    c->jsonrpc2 = true;
    return c;
  }

  // Logs in; returns the login result.
  json login(LineClient& c, const std::string& login = kAddress) {
    auto r = c.call("login", {{"login", login}, {"pass", "x"}, {"agent", "XMRig/6.16.0"}, {"algo", {"rx/0"}}});
    EXPECT_TRUE(r["error"].is_null()) << r;
    return r["result"];
  }

  static json submit(LineClient& c, const std::string& id, const std::string& job, const std::string& nonce,
                     const std::string& result = std::string(64, '0')) {
    return c.call("submit", {{"id", id}, {"job_id", job}, {"nonce", nonce}, {"result", result}});
  }

  static std::string message(const json& reply) {
    return reply["error"].is_object() ? reply["error"].value("message", "") : "";
  }

  boost::asio::io_context io;
  FakeHandler handler;
  std::unique_ptr<stratum::Server> server;
  uint16_t port = 0;
  std::thread thread;
};

TEST_F(MoneroServer, LoginAnswersWithTheFirstJob) {
  start();
  auto c = client();
  json r = login(*c, kAddress + ".rig7+20000");
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["status"], "OK");
  EXPECT_EQ(r["id"].get<std::string>().size(), 16u);
  EXPECT_EQ(r["extensions"], json({"algo", "keepalive"}));
  const json& job = r["job"];
  EXPECT_EQ(job["job_id"], "j1");
  EXPECT_EQ(job["blob"].get<std::string>().size(), 152u);
  EXPECT_EQ(job["target"], "e4ffffff");
  EXPECT_EQ(job["height"], 7);
  EXPECT_EQ(job["seed_hash"], std::string(64, 'a'));
  EXPECT_EQ(job["algo"], "rx/0");
  EXPECT_EQ(job["id"], r["id"]);
  // The +DIFF suffix fixed the difficulty; the worker name is the login's.
  auto [diff, fixed, worker, agent] = on_io([&] {
    stratum::Session* s = nullptr;
    server->for_each_session([&](stratum::Session& x) { s = &x; });
    return std::tuple{s->difficulty(), s->difficulty_fixed(), s->workers().at(0), s->user_agent()};
  });
  EXPECT_EQ(diff, 20000);
  EXPECT_TRUE(fixed);
  EXPECT_EQ(worker, kAddress + ".rig7");
  EXPECT_EQ(agent, "XMRig/6.16.0");
  // JSON-RPC 2.0 replies with "error": null, as miners expect.
  auto k = c->call("keepalived", {{"id", r["id"]}});
  EXPECT_EQ(k["jsonrpc"], "2.0");
  EXPECT_TRUE(k.contains("error") && k["error"].is_null());
  EXPECT_EQ(k["result"]["status"], "KEEPALIVED");
  auto g = c->call("getjob", {{"id", r["id"]}});
  EXPECT_EQ(g["result"]["job_id"], "j2");
}

TEST_F(MoneroServer, RigIdNamesTheWorker) {
  start();
  auto c = client();
  auto r = c->call("login", {{"login", kAddress}, {"pass", "x"}, {"rigid", "farm-3"}});
  ASSERT_TRUE(r["error"].is_null()) << r;
  auto worker = on_io([&] {
    std::string w;
    server->for_each_session([&](stratum::Session& x) { w = x.workers().at(0); });
    return w;
  });
  EXPECT_EQ(worker, kAddress + ".farm-3");
}

TEST_F(MoneroServer, LoginRefusals) {
  start();
  auto c = client();
  auto bad = c->call("login", {{"login", "9notanaddress"}, {"pass", "x"}});
  EXPECT_EQ(message(bad), "Invalid address: '9notanaddress'");
  auto no_login = c->call("login", {{"pass", "x"}});
  EXPECT_EQ(no_login["error"]["code"], stratum::error::invalid_params);
  auto not_object = c->call("login", json::array({kAddress}));
  EXPECT_EQ(not_object["error"]["code"], stratum::error::invalid_params);
  auto algo = c->call("login", {{"login", kAddress}, {"algo", {"cn/r", "kawpow"}}});
  EXPECT_EQ(message(algo), "Unsupported algorithm: this pool mines rx/0");
  // Nothing is accepted before a login.
  auto s = submit(*c, "whatever", "j1", "00000000");
  EXPECT_EQ(message(s), "Unauthenticated");
  auto k = c->call("keepalived", {{"id", "x"}});
  EXPECT_EQ(message(k), "Unauthenticated");
  // No work yet: the miner is told to retry.
  handler.have_work = false;
  auto nowork = c->call("login", {{"login", kAddress}});
  EXPECT_NE(message(nowork).find("no work"), std::string::npos) << nowork;
}

TEST_F(MoneroServer, SharesAndEveryRejection) {
  start();
  auto c = client();
  json r = login(*c);
  std::string id = r["id"], job = r["job"]["job_id"];
  EXPECT_EQ(submit(*c, id, job, "02000000")["result"]["status"], "OK");
  EXPECT_EQ(message(submit(*c, id, job, "02000000")), "Duplicate share");
  EXPECT_EQ(message(submit(*c, id, job, "03000000")), "Low difficulty share");
  EXPECT_EQ(message(submit(*c, id, "nope", "04000000")), "Invalid job id");
  EXPECT_EQ(message(submit(*c, id, job, "0400000")), "Invalid nonce");
  EXPECT_EQ(message(submit(*c, id, job, "0400000g")), "Invalid nonce");
  EXPECT_EQ(message(submit(*c, id, job, "04000000", "abc")), "Invalid result");
  EXPECT_EQ(message(submit(*c, id, job, "04000000", std::string(63, '0') + "x")), "Invalid result");
  EXPECT_EQ(message(submit(*c, "0000000000000000", job, "04000000")), "Unauthenticated");
  auto missing = c->call("submit", {{"id", id}, {"job_id", job}});
  EXPECT_EQ(missing["error"]["code"], -1);
  // A clean job (new block) makes the earlier ones stale.
  auto sid = on_io([&] {
    stratum::SessionId x = 0;
    server->for_each_session([&](stratum::Session& s) { x = s.id(); });
    return x;
  });
  stratum::MoneroJob fresh = *on_io([&] { return handler.monero_job(*server->find(sid)); });
  fresh.clean = true;
  fresh.height = 8;
  ASSERT_TRUE(on_io([&] { return server->send_monero_job(sid, fresh); }));
  auto pushed = c->note("job");
  ASSERT_TRUE(pushed);
  EXPECT_EQ((*pushed)["jsonrpc"], "2.0");
  EXPECT_EQ((*pushed)["params"]["job_id"], fresh.id);
  EXPECT_EQ((*pushed)["params"]["height"], 8);
  EXPECT_EQ(message(submit(*c, id, job, "06000000")), "Stale job");
  EXPECT_EQ(submit(*c, id, fresh.id, "06000000")["result"]["status"], "OK");
  // A malformed job is refused at the API, never sent.
  stratum::MoneroJob broken = fresh;
  broken.id = "other";
  broken.blob_hex = "00";
  EXPECT_THROW(on_io([&] { return server->send_monero_job(sid, broken); }), std::invalid_argument);
  std::lock_guard lock(handler.mutex);
  EXPECT_GE(handler.rejected.size(), 8u);
}

TEST_F(MoneroServer, NiceHashModeFixesTheTopNonceByte) {
  stratum::ServerConfig cfg;
  cfg.nicehash = true;
  start(cfg);
  auto a = client();
  auto b = client();
  json ra = login(*a), rb = login(*b);
  EXPECT_EQ(ra["extensions"], json({"algo", "nicehash", "keepalive"}));
  std::string byte_a = ra["job"]["blob"].get<std::string>().substr(84, 2);
  std::string byte_b = rb["job"]["blob"].get<std::string>().substr(84, 2);
  EXPECT_NE(byte_a, byte_b);  // each connection its own range
  // Nonces are little-endian in the blob: the top byte is the 4th.
  EXPECT_EQ(submit(*a, ra["id"], ra["job"]["job_id"], "020000" + byte_a)["result"]["status"], "OK");
  EXPECT_EQ(message(submit(*a, ra["id"], ra["job"]["job_id"], "040000" + byte_b)),
            "Invalid nonce: outside this connection's NiceHash range");
}

TEST_F(MoneroServer, SlowChecksDoNotHoldUpOtherConnections) {
  handler.delay_ms = [](uint32_t nonce) { return nonce == 2 ? 1500 : 0; };
  start();
  auto slow = client();
  auto fast = client();
  json rs = login(*slow), rf = login(*fast);
  slow->send({{"id", 99}, {"jsonrpc", "2.0"}, {"method", "submit"},
              {"params", {{"id", rs["id"]}, {"job_id", rs["job"]["job_id"]}, {"nonce", "02000000"},
                          {"result", std::string(64, '0')}}}});
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(submit(*fast, rf["id"], rf["job"]["job_id"], "04000000")["result"]["status"], "OK");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  EXPECT_EQ(slow->reply(99)["result"]["status"], "OK");
}

TEST_F(MoneroServer, BadInput) {
  start();
  auto c = client();
  c->send_raw("{not json\n");
  auto parse = c->next();
  ASSERT_TRUE(parse);
  EXPECT_EQ((*parse)["error"]["code"], stratum::error::parse_error);
  auto unknown = c->call("mining.subscribe", json::object());
  EXPECT_EQ(unknown["error"]["code"], stratum::error::method_not_found);
  auto not_object = c->call("getjob", json::array());
  EXPECT_EQ(not_object["error"]["code"], stratum::error::invalid_params);
  // An oversized line: an error, then the server closes.
  c->send_raw(std::string(20000, 'x'));
  auto too_long = c->next();
  ASSERT_TRUE(too_long);
  EXPECT_EQ((*too_long)["error"]["message"], "Line too long");
  EXPECT_TRUE(c->closed_by_server());
  // A flood: disconnected.
  auto f = client();
  json r = login(*f);
  std::string burst;
  for (int i = 0; i < 1100; ++i)
    burst += json({{"id", i}, {"method", "keepalived"}, {"params", {{"id", r["id"]}}}}).dump() + "\n";
  f->send_raw(burst);
  EXPECT_TRUE(f->closed_by_server(5000));
  // The server still serves others.
  auto g = client();
  EXPECT_EQ(login(*g)["status"], "OK");
}

}  // namespace
