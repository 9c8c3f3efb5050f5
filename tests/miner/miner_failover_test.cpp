// The Stratum v1 miner's fail-over against scriptable in-test pools: a pool that dies (refused
// and reset connections), one that accepts but stays silent, one that stops answering shares,
// one that refuses the miner, client.reconnect with and without a target, and the return to
// the preferred pool once it gives work again (and not while it only accepts connections).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <thread>

#include "miner/miner.h"
#include "support/support.h"

using namespace otedama;
using otedama::test::eventually;
using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// A Stratum v1 pool with one thread per connection. It accepts every share (the share check
// itself is miner_test.cpp's subject); what it does wrong is set through the flags.
class ScriptedPool {
 public:
  ScriptedPool() : port_(test::free_port()) { start(); }
  ~ScriptedPool() { stop(); }

  uint16_t port() const { return port_; }
  std::string url() const { return "127.0.0.1:" + std::to_string(port_); }

  // Listening again on the same port (after stop()).
  void start() {
    std::lock_guard lock(mutex_);
    if (listen_fd_ >= 0) return;
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    if (bind(listen_fd_, (sockaddr*)&a, sizeof a) != 0 || listen(listen_fd_, 16) != 0)
      throw std::runtime_error("ScriptedPool: cannot listen on port " + std::to_string(port_));
    stop_ = false;
    accept_thread_ = std::thread([this, fd = listen_fd_] { accept_loop(fd); });
  }

  // As if the process died: the port refuses connections and live ones are reset.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (listen_fd_ < 0) return;
      stop_ = true;
      shutdown(listen_fd_, SHUT_RDWR);
      close(listen_fd_);
      listen_fd_ = -1;
    }
    accept_thread_.join();
    for (auto& t : sessions_) t.join();
    sessions_.clear();
  }

  // client.reconnect to every authorized session.
  void send_reconnect(const json& params) {
    std::lock_guard lock(mutex_);
    for (int fd : live_) send(fd, {{"id", nullptr}, {"method", "client.reconnect"}, {"params", params}});
    reconnect_sent_at = steady::now();
  }

  std::atomic<int> connections{0}, authorized{0}, submits{0};
  std::atomic<bool> refuse_authorize{false};  // authorize answered false
  std::atomic<bool> silent{false};            // reads everything, answers nothing
  std::atomic<bool> ignore_submits{false};    // jobs, but no answers to shares
  std::atomic<bool> reconnect_on_authorize{false};  // client.reconnect (same pool) instead of work
  std::atomic<steady::time_point> reconnect_sent_at{}, last_connect_at{};

 private:
  static void send(int fd, const json& j) {
    std::string s = j.dump() + "\n";
    (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
  }

  void accept_loop(int listen_fd) {
    while (!stop_) {
      pollfd p{listen_fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept(listen_fd, nullptr, nullptr);
      if (fd < 0) continue;
      connections++;
      last_connect_at = steady::now();
      sessions_.emplace_back([this, fd] { session(fd); });
    }
  }

  void session(int fd) {
    std::string buf;
    char c[4096];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = read(fd, c, sizeof c);
      if (n <= 0) break;
      buf.append(c, size_t(n));
      size_t pos;
      while ((pos = buf.find('\n')) != std::string::npos) {
        json m = json::parse(buf.substr(0, pos), nullptr, false);
        buf.erase(0, pos + 1);
        if (!silent) handle(fd, m);
      }
    }
    {
      std::lock_guard lock(mutex_);
      live_.remove(fd);
    }
    linger l{1, 0};  // a reset, as from a killed process
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
  }

  void handle(int fd, const json& m) {
    std::string method = m.value("method", "");
    if (method == "mining.subscribe") {
      send(fd, {{"id", m["id"]}, {"result", {json::array(), "a1b2c3d4", 4}}, {"error", nullptr}});
    } else if (method == "mining.authorize") {
      if (refuse_authorize) {
        send(fd, {{"id", m["id"]}, {"result", false}, {"error", {24, "no work here", nullptr}}});
        return;
      }
      if (reconnect_on_authorize) {
        send(fd, {{"id", nullptr}, {"method", "client.reconnect"}, {"params", json::array()}});
        return;
      }
      send(fd, {{"id", m["id"]}, {"result", true}, {"error", nullptr}});
      send(fd, {{"id", nullptr}, {"method", "mining.set_difficulty"}, {"params", {0.0001}}});
      send(fd, {{"id", nullptr},
                {"method", "mining.notify"},
                {"params", {"j1", std::string(64, '0'), "01", "02", json::array(), "20000000", "1d00ffff", "5f5e1000", true}}});
      authorized++;
      std::lock_guard lock(mutex_);
      live_.push_back(fd);
    } else if (method == "mining.submit") {
      submits++;
      if (!ignore_submits) send(fd, {{"id", m["id"]}, {"result", true}, {"error", nullptr}});
    } else if (m.contains("id")) {
      send(fd, {{"id", m["id"]}, {"result", nullptr}, {"error", {20, "unsupported", nullptr}}});
    }
  }

  uint16_t port_;
  std::mutex mutex_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::list<std::thread> sessions_;  // touched by the accept thread, and by stop() after joining it
  std::list<int> live_;              // authorized sessions' sockets
};

struct RunningMiner {
  explicit RunningMiner(miner::MinerConfig c) : m(c), t([this] { m.run(); }) {}
  ~RunningMiner() {
    m.stop();
    t.join();
  }
  miner::Miner m;
  std::thread t;
};

miner::MinerConfig config(std::vector<std::string> urls) {
  miner::MinerConfig c;
  c.urls = std::move(urls);
  c.user = "tb1qtest.worker1";
  c.algo = "sha256d";
  c.threads = 1;
  c.report_interval = 200ms;
  c.reconnect_min = 100ms;
  c.reconnect_max = 1000ms;
  c.failback_interval = 500ms;
  c.response_timeout = 2000ms;
  return c;
}

// Submits reach `pool` from now on (the miner mines there).
bool mines_on(ScriptedPool& pool, std::chrono::milliseconds within = 10s) {
  int before = pool.submits;
  return eventually([&] { return pool.submits >= before + 2; }, within);
}

}  // namespace

TEST(MinerFailover, DeadPoolToNextAndBackWhenItReturns) {
  ScriptedPool a, b;
  RunningMiner rm(config({a.url(), b.url()}));
  ASSERT_TRUE(mines_on(a, 30s));
  EXPECT_EQ(b.connections, 0);

  auto killed = steady::now();
  a.stop();
  ASSERT_TRUE(mines_on(b)) << "no shares on the backup within 10 s of the preferred pool's death";
  spdlog::info("failed over in {} ms", std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - killed).count());
  EXPECT_EQ(rm.m.stats().pool, "127.0.0.1:" + std::to_string(b.port()));

  a.start();
  ASSERT_TRUE(mines_on(a)) << "the miner did not return to the preferred pool";
  EXPECT_TRUE(eventually([&] { return rm.m.stats().pool == "127.0.0.1:" + std::to_string(a.port()); }, 5s));
}

TEST(MinerFailover, StaysOnBackupWhilePreferredOnlyAcceptsConnections) {
  ScriptedPool a, b;
  a.refuse_authorize = true;  // up, but no work for us (e.g. its node lost the coin daemon)
  RunningMiner rm(config({a.url(), b.url()}));
  ASSERT_TRUE(mines_on(b, 30s));
  int b_connections = b.connections;
  // Several fail-back checks come and are refused: the miner does not leave the backup.
  ASSERT_TRUE(eventually([&] { return a.connections >= 4; }, 10s));
  EXPECT_EQ(b.connections, b_connections);
  EXPECT_EQ(a.authorized, 0);
  EXPECT_TRUE(mines_on(b));

  a.refuse_authorize = false;
  ASSERT_TRUE(mines_on(a)) << "the miner did not return once the preferred pool gave work";
}

TEST(MinerFailover, ClientReconnectToAnotherPoolThenBackToThePreferredOne) {
  ScriptedPool a, b;
  RunningMiner rm(config({a.url()}));  // b is not configured: only the redirect leads there
  ASSERT_TRUE(mines_on(a, 30s));
  a.refuse_authorize = true;  // as a pool that lost its daemon: redirect, then no work
  a.send_reconnect({"127.0.0.1", b.port(), 0});
  ASSERT_TRUE(mines_on(b)) << "client.reconnect to " << b.url() << " was not followed";
  EXPECT_EQ(rm.m.stats().pool, "127.0.0.1:" + std::to_string(b.port()));
  // While a refuses, the fail-back checks leave the miner on b.
  ASSERT_TRUE(eventually([&] { return a.connections >= 4; }, 10s));
  EXPECT_EQ(b.connections, 1);
  a.refuse_authorize = false;  // its daemon is back
  ASSERT_TRUE(mines_on(a));
}

TEST(MinerFailover, RedirectLastsOneSession) {
  ScriptedPool a, b;
  RunningMiner rm(config({a.url()}));
  ASSERT_TRUE(mines_on(a, 30s));
  a.refuse_authorize = true;
  a.send_reconnect({"127.0.0.1", b.port(), 0});
  ASSERT_TRUE(mines_on(b));
  b.refuse_authorize = true;  // b ends the session and refuses: the miner goes back to its own list
  b.stop();
  b.start();
  int a_before = a.connections;
  ASSERT_TRUE(eventually([&] { return a.connections > a_before + 1; }, 10s));
  int b_connections = b.connections;
  std::this_thread::sleep_for(1500ms);  // back-off rounds over a only
  EXPECT_EQ(b.connections, b_connections) << "the redirect target was tried again after its session ended";
  a.refuse_authorize = false;
  ASSERT_TRUE(mines_on(a));
}

TEST(MinerFailover, ClientReconnectWithPortAsStringAndUnreachableTargetFallsBack) {
  ScriptedPool a, b;
  RunningMiner rm(config({a.url(), b.url()}));
  ASSERT_TRUE(mines_on(a, 30s));
  uint16_t nobody = test::free_port();
  a.refuse_authorize = true;  // a goes on refusing, as a pool without its daemon would
  a.send_reconnect({"127.0.0.1", std::to_string(nobody)});
  ASSERT_TRUE(mines_on(b)) << "an unreachable redirect target must fall back to the configured URLs";
}

TEST(MinerFailover, ClientReconnectToTheSamePoolAfterItsWait) {
  ScriptedPool a;
  RunningMiner rm(config({a.url()}));
  ASSERT_TRUE(mines_on(a, 30s));
  ASSERT_EQ(a.connections, 1);
  a.send_reconnect({nullptr, nullptr, 1});
  ASSERT_TRUE(eventually([&] { return a.connections >= 2; }, 10s));
  auto waited = a.last_connect_at.load() - a.reconnect_sent_at.load();
  EXPECT_GE(waited, 1s) << "the miner came back before the pool's wait";
  EXPECT_TRUE(mines_on(a));
}

TEST(MinerFailover, MalformedClientReconnectIsIgnored) {
  ScriptedPool a;
  RunningMiner rm(config({a.url()}));
  ASSERT_TRUE(mines_on(a, 30s));
  a.send_reconnect({"127.0.0.1", "not a port"});
  a.send_reconnect({42});
  a.send_reconnect({"127.0.0.1", 70000});
  a.send_reconnect({"evil host/x", 3333});
  EXPECT_TRUE(mines_on(a));
  EXPECT_EQ(a.connections, 1);
  EXPECT_NE(rm.m.stats().last_error.find("client.reconnect"), std::string::npos) << rm.m.stats().last_error;
}

TEST(MinerFailover, SilentPoolIsLeft) {
  ScriptedPool a, b;
  a.silent = true;  // accepts, reads, never answers (a hung process)
  RunningMiner rm(config({a.url(), b.url()}));
  ASSERT_TRUE(mines_on(b, 15s));
  EXPECT_NE(rm.m.stats().last_error.find("no job"), std::string::npos) << rm.m.stats().last_error;
}

TEST(MinerFailover, PoolThatStopsAnsweringSharesIsLeft) {
  ScriptedPool a, b;
  RunningMiner rm(config({a.url(), b.url()}));
  ASSERT_TRUE(mines_on(a, 30s));
  a.ignore_submits = true;
  ASSERT_TRUE(mines_on(b, 15s));
  EXPECT_GT(rm.m.stats().accepted, 0u);
}

TEST(MinerFailover, EndlessReconnectRequestsAreNotFollowedForever) {
  ScriptedPool a, b;
  a.reconnect_on_authorize = true;  // bounces the miner back to itself, never gives work
  RunningMiner rm(config({a.url(), b.url()}));
  ASSERT_TRUE(mines_on(b, 30s));
  std::this_thread::sleep_for(2s);  // several fail-back checks of a, each bounced
  EXPECT_EQ(b.connections, 1);
  EXPECT_EQ(a.authorized, 0);
}
