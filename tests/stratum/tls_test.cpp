// stratum+ssl: one Server listening on a plain and a TLS port, serving both kinds of client
// from the same sessions, jobs and extranonce space; handshake failures and timeouts drop only
// the client concerned; bad certificate and key files give errors that name the file.
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "stratum/stratum.h"
#include "support/support.h"
#include "support/tls.h"

using namespace otedama;
using json = nlohmann::json;
using test::LineClient;

namespace {

// Accepts shares with an even nonce, refuses odd ones; counts shares per session kind.
class FakeHandler : public stratum::Handler {
 public:
  stratum::AuthResult authorize(stratum::Session&, const stratum::WorkerName& w, std::string_view) override {
    if (w.address == "bad") return {false, "unknown address"};
    return {true, ""};
  }
  stratum::ShareResult check_share(stratum::Session& s, const stratum::ShareSubmission& share) override {
    std::lock_guard lock(mu);
    (s.tls() ? tls_shares : plain_shares).push_back(std::string(share.worker) + "/" + to_hex(share.extranonce1) + "/" +
                                                     to_hex(share.extranonce2));
    if (share.nonce % 2) return stratum::ShareResult::rejected(stratum::error::low_difficulty, "");
    return stratum::ShareResult::accepted(share.difficulty);
  }
  std::mutex mu;
  std::vector<std::string> tls_shares, plain_shares;
};

stratum::Job make_job(const std::string& id, bool clean) {
  stratum::Job j;
  j.id = id;
  j.prevhash_hex = std::string(64, 'a');
  j.coinb1_hex = "01000000010000";
  j.coinb2_hex = "ffffffff0100";
  j.merkle_branch_hex = {std::string(64, 'b')};
  j.version = 0x20000000;
  j.nbits = 0x1d00ffff;
  j.ntime = 0x66000000;
  j.clean = clean;
  return j;
}

// A Stratum conversation over a LineClient: replies by id, notifications kept aside.
class Miner {
 public:
  Miner(uint16_t port, bool tls) : c(port, LineClient::Options{tls, 0}) {}

  json call(const std::string& method, json params = json::array()) {
    int id = ++next_id_;
    if (!c.send_raw(json{{"id", id}, {"method", method}, {"params", params}}.dump() + "\n"))
      throw std::runtime_error("send failed");
    for (;;) {
      auto l = c.line();
      if (!l) throw std::runtime_error("no reply to " + method);
      json j = json::parse(*l);
      if (!j.contains("method") && j.value("id", json()) == id) return j;
      pending.push_back(j);
    }
  }
  std::optional<json> note(const std::string& method, int timeout_ms = 3000) {
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if (it->value("method", "") == method) {
        json j = *it;
        pending.erase(it);
        return j;
      }
    for (;;) {
      auto l = c.line(timeout_ms);
      if (!l) return std::nullopt;
      json j = json::parse(*l);
      if (j.value("method", "") == method) return j;
      pending.push_back(j);
    }
  }
  // Subscribe and authorize; returns extranonce1 (the first job is then waiting in note()).
  std::string login(const std::string& worker) {
    auto sub = call("mining.subscribe", {"tls-test/1.0"});
    EXPECT_TRUE(sub["error"].is_null()) << sub;
    auto auth = call("mining.authorize", {worker, "x"});
    EXPECT_EQ(auth["result"], true) << auth;
    return sub["result"][1].get<std::string>();
  }
  json submit(const std::string& worker, const std::string& job, const std::string& en2, uint32_t nonce) {
    return call("mining.submit", {worker, job, en2, stratum::hex32(0x66000000), stratum::hex32(nonce)});
  }

  LineClient c;
  std::vector<json> pending;

 private:
  int next_id_ = 0;
};

class StratumTls : public ::testing::Test {
 protected:
  void SetUp() override { certs = test::make_self_signed(dir.path()); }

  void start(stratum::ServerConfig c = {}) {
    server = std::make_unique<stratum::Server>(io, c, handler);
    server->listen("127.0.0.1", 0);
    server->listen_tls("127.0.0.1", 0, certs.cert, certs.key);
    server->start();
    port = server->port();
    tls_port = server->tls_port();
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

  void notify(stratum::Job j) {
    on_io([&] { server->notify_all(j); });
  }

  // Ping on both ports: the server still serves plain and TLS clients.
  void expect_alive() {
    Miner a(port, false), b(tls_port, true);
    ASSERT_TRUE(b.c.handshake_ok()) << b.c.handshake_error();
    EXPECT_EQ(a.call("mining.ping")["result"], "pong");
    EXPECT_EQ(b.call("mining.ping")["result"], "pong");
  }

  test::TempDir dir;
  test::CertFiles certs;
  boost::asio::io_context io;
  FakeHandler handler;
  std::unique_ptr<stratum::Server> server;
  uint16_t port = 0, tls_port = 0;
  std::thread thread;
};

}  // namespace

TEST_F(StratumTls, PlainAndTlsMinersShareOneServer) {
  start();
  ASSERT_NE(port, 0);
  ASSERT_NE(tls_port, 0);
  ASSERT_NE(port, tls_port);
  notify(make_job("j1", true));

  Miner secure(tls_port, true), plain(port, false);
  ASSERT_TRUE(secure.c.handshake_ok()) << secure.c.handshake_error();
  EXPECT_TRUE(secure.c.protocol() == "TLSv1.3" || secure.c.protocol() == "TLSv1.2") << secure.c.protocol();
  std::string en1_tls = secure.login("addr.tls");
  std::string en1_plain = plain.login("addr.plain");
  EXPECT_EQ(en1_tls.size(), 8u);
  EXPECT_NE(en1_tls, en1_plain);  // one extranonce space for both ports

  for (Miner* m : {&secure, &plain}) {
    auto d = m->note("mining.set_difficulty");
    ASSERT_TRUE(d);
    EXPECT_EQ((*d)["params"][0], 16);
    auto n = m->note("mining.notify");
    ASSERT_TRUE(n);
    EXPECT_EQ((*n)["params"][0], "j1");
  }

  auto r = secure.submit("addr.tls", "j1", "0000000000000001", 2);
  EXPECT_EQ(r["result"], true) << r;
  r = secure.submit("addr.tls", "j1", "0000000000000001", 3);  // the handler refuses odd nonces
  EXPECT_EQ(r["error"][0], stratum::error::low_difficulty) << r;
  r = secure.submit("addr.tls", "j1", "0000000000000001", 2);  // the server's duplicate check
  EXPECT_EQ(r["error"][0], stratum::error::duplicate) << r;
  r = plain.submit("addr.plain", "j1", "0000000000000001", 2);
  EXPECT_EQ(r["result"], true) << r;

  {
    std::lock_guard lock(handler.mu);
    ASSERT_EQ(handler.tls_shares.size(), 2u);
    EXPECT_EQ(handler.tls_shares[0], "addr.tls/" + en1_tls + "/0000000000000001");
    ASSERT_EQ(handler.plain_shares.size(), 1u);
    EXPECT_EQ(handler.plain_shares[0], "addr.plain/" + en1_plain + "/0000000000000001");
  }
  auto kinds = on_io([&] {
    std::multiset<bool> k;
    server->for_each_session([&](stratum::Session& s) { k.insert(s.tls()); });
    return k;
  });
  EXPECT_EQ(kinds, (std::multiset<bool>{false, true}));

  // A new clean job reaches both; the old job's shares are then stale on both ports.
  notify(make_job("j2", true));
  for (Miner* m : {&secure, &plain}) {
    auto n = m->note("mining.notify");
    ASSERT_TRUE(n);
    EXPECT_EQ((*n)["params"][0], "j2");
    EXPECT_EQ((*n)["params"][8], true);
  }
  r = secure.submit("addr.tls", "j1", "0000000000000002", 4);
  EXPECT_EQ(r["error"][0], stratum::error::job_not_found) << r;
  r = secure.submit("addr.tls", "j2", "0000000000000002", 4);
  EXPECT_EQ(r["result"], true) << r;
}

TEST_F(StratumTls, LargeJobLinesCrossTls) {
  // A P2P coinbase paying thousands of miners makes notify lines of MiB size.
  start();
  Miner secure(tls_port, true);
  ASSERT_TRUE(secure.c.handshake_ok()) << secure.c.handshake_error();
  secure.login("addr.big");
  auto job = make_job("big", true);
  job.coinb2_hex = std::string(3 << 20, 'e');
  notify(job);
  auto n = secure.note("mining.notify", 10000);
  ASSERT_TRUE(n);
  EXPECT_EQ((*n)["params"][3].get<std::string>().size(), size_t(3 << 20));
  EXPECT_EQ(secure.call("mining.ping")["result"], "pong");
}

TEST_F(StratumTls, PlainTextOnTheTlsPortIsDroppedAlone) {
  start();
  notify(make_job("j1", true));
  Miner secure(tls_port, true), plain(port, false);
  ASSERT_TRUE(secure.c.handshake_ok());
  secure.login("addr.tls");
  plain.login("addr.plain");

  // A Stratum client that forgot TLS: the handshake fails at its first line, it is dropped.
  LineClient wrong(tls_port, {false, 0});
  wrong.send_raw(R"({"id":1,"method":"mining.subscribe","params":[]})" "\n");
  EXPECT_TRUE(wrong.closed_by_server());

  // The others carry on.
  EXPECT_EQ(secure.submit("addr.tls", "j1", "00000000000000aa", 2)["result"], true);
  EXPECT_EQ(plain.submit("addr.plain", "j1", "00000000000000aa", 2)["result"], true);
  expect_alive();
  // Only the two miners remain (the pings' connections close in the background).
  size_t sessions = 0;
  for (int i = 0; i < 100 && (sessions = on_io([&] { return server->session_count(); })) != 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(sessions, 2u);
}

TEST_F(StratumTls, HandshakeTimeoutDropsSilentClients) {
  stratum::ServerConfig c;
  c.tls_handshake_timeout = std::chrono::milliseconds(300);
  start(c);
  Miner secure(tls_port, true);
  ASSERT_TRUE(secure.c.handshake_ok());
  secure.login("addr.tls");
  LineClient silent(tls_port, {false, 0});  // connects, never says hello
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.closed_by_server(3000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(250));
  // A TLS session past its handshake is not subject to that timeout.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(secure.call("mining.ping")["result"], "pong");
}

TEST_F(StratumTls, OnlyTls12AndLater) {
  start();
  LineClient old(tls_port, {true, TLS1_1_VERSION});
  EXPECT_FALSE(old.handshake_ok());
  EXPECT_TRUE(old.closed_by_server());
  LineClient v12(tls_port, {true, TLS1_2_VERSION});
  ASSERT_TRUE(v12.handshake_ok()) << v12.handshake_error();
  EXPECT_EQ(v12.protocol(), "TLSv1.2");
  expect_alive();
}

TEST(StratumTlsFiles, ErrorsNameTheFile) {
  test::TempDir dir;
  auto good = test::make_self_signed(dir.path(), "good");
  auto other = test::make_self_signed(dir.path(), "other");
  boost::asio::io_context io;
  FakeHandler handler;
  auto error_of = [&](const std::string& cert, const std::string& key) -> std::string {
    stratum::Server s(io, {}, handler);
    try {
      s.listen_tls("127.0.0.1", 0, cert, key);
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(s.tls_port(), 0) << "nothing may stay bound after a failure";
      return e.what();
    }
    return "";
  };

  std::string missing = (dir.path() / "nope.crt").string();
  std::string e = error_of(missing, good.key);
  EXPECT_NE(e.find("certificate file '" + missing + "'"), std::string::npos) << e;
  EXPECT_NE(e.find("No such file"), std::string::npos) << e;

  std::string missing_key = (dir.path() / "nope.key").string();
  e = error_of(good.cert, missing_key);
  EXPECT_NE(e.find("key file '" + missing_key + "'"), std::string::npos) << e;

  e = error_of(good.cert, other.key);  // a key of another certificate
  EXPECT_NE(e.find("'" + other.key + "' does not match the certificate in '" + good.cert + "'"), std::string::npos) << e;

  std::string junk = dir.file("junk.pem", "not a certificate\n");
  e = error_of(junk, good.key);
  EXPECT_NE(e.find("'" + junk + "' holds no usable PEM certificate"), std::string::npos) << e;
  e = error_of(good.cert, junk);
  EXPECT_NE(e.find("'" + junk + "' holds no usable PEM private key"), std::string::npos) << e;

  e = error_of(good.cert, good.key);
  EXPECT_EQ(e, "");

  // A port in use names the address.
  stratum::Server first(io, {}, handler);
  first.listen_tls("127.0.0.1", 0, good.cert, good.key);
  stratum::Server second(io, {}, handler);
  try {
    second.listen_tls("127.0.0.1", first.tls_port(), good.cert, good.key);
    ADD_FAILURE() << "bound a port in use";
  } catch (const std::runtime_error& ex) {
    EXPECT_NE(std::string(ex.what()).find("127.0.0.1:" + std::to_string(first.tls_port())), std::string::npos) << ex.what();
  }
}
