// WebSocket routes on the Beast server: upgrade, echo and pushes from other threads, refusals
// (426 for plain GET, the route's own refusal, the per-IP cap), a slow reader dropped with the
// queue bounded, ping/pong keep-alive, oversized messages, and stop() closing connections.
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <future>
#include <thread>

#include "http/http.h"
#include "support/support.h"

using namespace otedama;
using namespace std::chrono_literals;

namespace {

class WsFixture : public ::testing::Test {
 protected:
  void start(http::ServerOptions o = {}) {
    options = o;
    auto router = std::make_shared<http::Router>();
    http::WebSocketRoute route;
    route.accept = [](const http::Request& r) -> std::optional<http::Response> {
      if (r.query.count("deny")) return http::Response::error(401, "no entry");
      return std::nullopt;
    };
    route.on_open = [this](const http::WebSocketPtr& ws, const http::Request&) {
      std::lock_guard lock(mutex);
      open.push_back(ws);
    };
    route.on_message = [](const http::WebSocketPtr& ws, std::string m) { ws->send("echo:" + m); };
    route.on_close = [this](const http::WebSocketPtr&) { ++closed; };
    router->add_websocket("/ws", route);
    router->add("GET", "/plain", [](const http::Request&) { return http::Response::json(200, "{}"); });
    server = std::make_unique<http::Server>(io, "ws-test", router, options);
    port = test::free_port();
    server->listen("127.0.0.1", port);
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    if (thread.joinable()) stop_server();
  }
  void stop_server() {
    boost::asio::post(io, [this] { server->stop(); });
    test::eventually([&] { return connections() == 0; }, 5s);
    boost::asio::post(io, [this] { io.stop(); });
    thread.join();
  }
  size_t connections() {
    std::promise<size_t> p;
    boost::asio::post(io, [&] { p.set_value(server->websocket_connections()); });
    return p.get_future().get();
  }
  std::string url(const std::string& q = "") { return "ws://127.0.0.1:" + std::to_string(port) + "/ws" + q; }
  std::vector<http::WebSocketPtr> opened() {
    std::lock_guard lock(mutex);
    return open;
  }

  http::ServerOptions options;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work = boost::asio::make_work_guard(io);
  std::unique_ptr<http::Server> server;
  uint16_t port = 0;
  std::thread thread;
  std::mutex mutex;
  std::vector<http::WebSocketPtr> open;
  std::atomic<int> closed{0};
};

TEST_F(WsFixture, EchoAndPushFromAnotherThread) {
  start();
  http::WebSocketClient c(url());
  c.send("hello");
  EXPECT_EQ(c.receive(5s).value_or("<none>"), "echo:hello");
  ASSERT_TRUE(test::eventually([&] { return opened().size() == 1; }, 5s));
  auto ws = opened()[0];
  EXPECT_TRUE(ws->is_open());
  EXPECT_EQ(ws->remote_ip(), "127.0.0.1");
  std::thread pusher([&] {
    for (int i = 0; i < 100; ++i) ws->send("push " + std::to_string(i));
  });
  pusher.join();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(c.receive(5s).value_or("<none>"), "push " + std::to_string(i));
  EXPECT_EQ(c.receive(100ms), std::nullopt);  // nothing more
  c.close();
  EXPECT_TRUE(test::eventually([&] { return closed == 1 && connections() == 0; }, 5s));
  EXPECT_FALSE(ws->is_open());
  EXPECT_FALSE(ws->send("late"));  // a closed connection takes nothing
}

TEST_F(WsFixture, PlainRequestsAndRefusals) {
  start();
  auto plain = http::get("http://127.0.0.1:" + std::to_string(port) + "/ws");
  EXPECT_EQ(plain.status, 426u);
  EXPECT_NE(plain.body.find("WebSocket"), std::string::npos);
  auto post = http::request("POST", "http://127.0.0.1:" + std::to_string(port) + "/ws", "{}");
  EXPECT_EQ(post.status, 405u);
  try {
    http::WebSocketClient c(url("?deny=1"));
    FAIL() << "the route's refusal was ignored";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 401"), std::string::npos) << e.what();
  }
  // An upgrade on a path without a WebSocket route is an ordinary request.
  try {
    http::WebSocketClient c("ws://127.0.0.1:" + std::to_string(port) + "/plain");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 200"), std::string::npos) << e.what();
  }
  EXPECT_EQ(connections(), 0u);
}

TEST_F(WsFixture, ConnectionsPerIpAreCapped) {
  http::ServerOptions o;
  o.max_websockets_per_ip = 3;
  start(o);
  std::vector<std::unique_ptr<http::WebSocketClient>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<http::WebSocketClient>(url()));
  int refused = 0;
  for (int i = 0; i < 20; ++i) {  // a flood from the same IP
    try {
      http::WebSocketClient extra(url());
      ADD_FAILURE() << "connection " << i << " past the cap was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("HTTP 429"), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_EQ(refused, 20);
  EXPECT_EQ(connections(), 3u);
  clients[0]->close();
  ASSERT_TRUE(test::eventually([&] { return connections() == 2; }, 5s));
  http::WebSocketClient again(url());  // room again
  again.send("x");
  EXPECT_EQ(again.receive(5s).value_or(""), "echo:x");
}

TEST_F(WsFixture, SlowReaderIsDroppedAndTheQueueStaysBounded) {
  http::ServerOptions o;
  o.websocket_max_queue = 256 << 10;
  o.websocket_idle_timeout = 60s;  // keep-alive out of the way: only the queue decides
  start(o);
  http::WebSocketClient c(url());  // never reads
  ASSERT_TRUE(test::eventually([&] { return opened().size() == 1; }, 5s));
  auto ws = opened()[0];
  std::string chunk(32 << 10, 'x');
  size_t max_seen = 0;
  int sent = 0;
  bool refused = false;
  for (int i = 0; i < 4000 && !refused; ++i) {  // 128 MiB if nothing ever pushed back
    if (ws->send(chunk)) ++sent;
    else refused = true;
    max_seen = std::max(max_seen, ws->queued_bytes());
  }
  EXPECT_TRUE(refused) << "sent " << sent << " messages to a reader that never reads";
  EXPECT_LE(max_seen, o.websocket_max_queue);
  EXPECT_TRUE(test::eventually([&] { return connections() == 0; }, 5s));
  EXPECT_FALSE(ws->is_open());
}

TEST_F(WsFixture, KeepAlivePingsCloseSilentClientsOnly) {
  http::ServerOptions o;
  o.websocket_idle_timeout = 1s;  // ping after 0.5 s idle, closed 0.5 s later without a pong
  start(o);
  http::WebSocketClient live(url());
  http::WebSocketClient silent(url());  // its loop never runs: it never answers a ping
  ASSERT_TRUE(test::eventually([&] { return connections() == 2; }, 5s));
  auto end = std::chrono::steady_clock::now() + 3500ms;
  while (std::chrono::steady_clock::now() < end) EXPECT_EQ(live.receive(100ms), std::nullopt);  // answers pings
  EXPECT_EQ(connections(), 1u);
  live.send("still here");
  EXPECT_EQ(live.receive(5s).value_or(""), "echo:still here");
  EXPECT_THROW(
      {
        while (true)
          if (!silent.receive(1s)) break;
        silent.send("x");
        silent.receive(2s);
      },
      std::runtime_error);
}

TEST_F(WsFixture, OversizedMessageClosesTheConnection) {
  http::ServerOptions o;
  o.websocket_max_message = 1024;
  start(o);
  http::WebSocketClient c(url());
  c.send(std::string(512, 'a'));
  EXPECT_EQ(c.receive(5s).value_or("").size(), 5u + 512u);
  c.send(std::string(4096, 'b'));
  EXPECT_THROW(c.receive(5s), std::runtime_error);
  EXPECT_TRUE(test::eventually([&] { return connections() == 0; }, 5s));
}

TEST_F(WsFixture, StopClosesOpenConnections) {
  start();
  http::WebSocketClient c(url());
  ASSERT_TRUE(test::eventually([&] { return connections() == 1; }, 5s));
  boost::asio::post(io, [this] { server->stop(); });
  try {
    c.receive(5s);  // the close frame (going away), answered by the client
    FAIL() << "still open after stop";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("closed by the server"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(test::eventually([&] { return connections() == 0; }, 5s));
  EXPECT_EQ(closed, 1);
}

}  // namespace
