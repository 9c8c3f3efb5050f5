#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs std::exchange)

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/http.h"
#include "support/support.h"

using namespace otedama;

namespace {

// A server on a free loopback port, its loop on a background thread.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = std::make_shared<http::Router>();
    router->add("GET", "/hello", [](const http::Request& r) {
      nlohmann::json j = {{"path", r.path}, {"query", r.query}, {"ip", r.remote_ip}};
      return http::Response::json(200, j.dump());
    });
    router->add("POST", "/echo", [](const http::Request& r) { return http::Response::text(200, r.body); });
    router->add("GET", "/items/*", [](const http::Request& r) { return http::Response::text(200, r.path.substr(7)); });
    router->add("GET", "/boom", [](const http::Request&) -> http::Response { throw std::runtime_error("kaput"); });
    http::ServerOptions o;
    o.max_body = 1024;
    server = std::make_unique<http::Server>(io, "test", router, o);
    port = test::free_port();
    server->listen("127.0.0.1", port);
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    boost::asio::post(io, [this] { server->stop(); io.stop(); });
    thread.join();
  }
  std::string url(const std::string& path) { return "http://127.0.0.1:" + std::to_string(port) + path; }

  boost::asio::io_context io;
  std::unique_ptr<http::Server> server;
  uint16_t port = 0;
  std::thread thread;
};

// Sends raw bytes and returns whatever the server answers before closing.
std::string raw_exchange(uint16_t port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, (sockaddr*)&a, sizeof a) != 0) return "connect failed";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!write(fd, bytes.data(), bytes.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  close(fd);
  return out;
}

}  // namespace

TEST_F(ServerFixture, RoutesQueryAndJson) {
  auto r = http::get(url("/hello?a=1&b=x%20y"));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["path"], "/hello");
  EXPECT_EQ(j["query"]["a"], "1");
  EXPECT_EQ(j["query"]["b"], "x y");
  EXPECT_EQ(j["ip"], "127.0.0.1");
}

TEST_F(ServerFixture, PrefixRoutes) {
  auto r = http::get(url("/items/abc"));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "abc");
  EXPECT_EQ(http::get(url("/items/")).status, 404u);
}

TEST_F(ServerFixture, NotFoundAndMethodNotAllowedAreJson) {
  auto r = http::get(url("/nope"));
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], 404);
  auto m = http::request("DELETE", url("/hello"));
  EXPECT_EQ(m.status, 405u);
  EXPECT_EQ(m.headers["allow"], "GET");
}

TEST_F(ServerFixture, HandlerExceptionIs500NotACrash) {
  auto r = http::get(url("/boom"));
  EXPECT_EQ(r.status, 500u);
  EXPECT_NE(r.body.find("kaput"), std::string::npos);
  EXPECT_EQ(http::get(url("/hello")).status, 200u);
}

TEST_F(ServerFixture, PostBodyAndOversizedBody) {
  EXPECT_EQ(http::request("POST", url("/echo"), "ping").body, "ping");
  auto big = http::request("POST", url("/echo"), std::string(4096, 'x'));
  EXPECT_EQ(big.status, 413u);
  EXPECT_EQ(http::get(url("/hello")).status, 200u);
}

TEST_F(ServerFixture, MalformedRequestGets400) {
  std::string answer = raw_exchange(port, "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_NE(answer.find("400"), std::string::npos) << answer;
  EXPECT_EQ(http::get(url("/hello")).status, 200u);
}

TEST_F(ServerFixture, KeepAliveServesSeveralRequests) {
  std::string two = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /items/z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string answer = raw_exchange(port, two);
  size_t first = answer.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(answer.find("HTTP/1.1 200", first + 1), std::string::npos) << answer;
}

TEST(HttpServer, PortInUseIsAClearError) {
  boost::asio::io_context io;
  auto router = std::make_shared<http::Router>();
  http::Server a(io, "first", router), b(io, "second", router);
  uint16_t port = test::free_port();
  a.listen("127.0.0.1", port);
  try {
    b.listen("127.0.0.1", port);
    FAIL() << "second listen on the same port succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::to_string(port)), std::string::npos);
  }
}

TEST(HttpClient, UnreachableAndBadUrls) {
  uint16_t port = test::free_port();
  EXPECT_THROW(http::get("http://127.0.0.1:" + std::to_string(port) + "/", std::chrono::seconds(2)), std::runtime_error);
  EXPECT_THROW(http::get("ftp://x/"), std::invalid_argument);
  EXPECT_THROW(http::get("nonsense"), std::invalid_argument);
  auto u = http::parse_url("http://[::1]:8080/api/status");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_EQ(u.target, "/api/status");
}
