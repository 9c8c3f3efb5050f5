// The JSON-RPC client against a scripted fake daemon on loopback: keep-alive, the daemon
// closing idle connections, auth (user/password, cookie re-read), RPC errors vs transport
// errors (refused, timeout, garbage, non-JSON), and cancelling a long poll.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "chain/chain.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::chain;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Request {
  std::string head, body;
  std::string header(const std::string& name) const {
    auto p = head.find("\r\n" + name + ": ");
    if (p == std::string::npos) return "";
    p += name.size() + 4;
    return head.substr(p, head.find("\r\n", p) - p);
  }
  json rpc() const { return json::parse(body); }
};

// What the fake daemon does with one request.
struct Reply {
  enum Kind { respond, respond_and_close, close, silent } kind = respond;
  std::string raw;  // a complete HTTP response
  static Reply http(unsigned status, const std::string& body, Kind k = respond) {
    std::string reason = status == 200 ? "OK" : status == 401 ? "Unauthorized" : status == 500 ? "Internal Server Error" : "X";
    return {k, "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body};
  }
  static Reply result(const json& r, const json& id) { return http(200, json{{"result", r}, {"error", nullptr}, {"id", id}}.dump()); }
};

class FakeDaemon {
 public:
  explicit FakeDaemon(std::function<Reply(const Request&)> handler) : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, (sockaddr*)&a, sizeof a) != 0 || listen(fd_, 16) != 0) throw std::runtime_error("fake daemon: bind");
    socklen_t len = sizeof a;
    getsockname(fd_, (sockaddr*)&a, &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~FakeDaemon() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    accept_thread_.join();
    std::lock_guard lock(mutex_);
    for (int c : clients_) shutdown(c, SHUT_RDWR);
    for (auto& t : threads_) t.join();
    for (int c : clients_) ::close(c);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  int connections() const { return connections_; }

 private:
  void accept_loop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::lock_guard lock(mutex_);
      clients_.push_back(c);
      threads_.emplace_back([this, c] { serve(c); });
    }
  }
  void serve(int c) {
    std::string buf;
    char tmp[4096];
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) return;
        buf.append(tmp, size_t(n));
      }
      Request r;
      r.head = buf.substr(0, end + 2);
      size_t length = std::stoul(r.header("Content-Length").empty() ? "0" : r.header("Content-Length"));
      while (buf.size() < end + 4 + length) {
        ssize_t n = recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) return;
        buf.append(tmp, size_t(n));
      }
      r.body = buf.substr(end + 4, length);
      buf.erase(0, end + 4 + length);
      Reply reply = handler_(r);
      if (reply.kind == Reply::silent) {
        while (recv(c, tmp, sizeof tmp, 0) > 0) {
        }
        return;
      }
      if (reply.kind == Reply::close) {
        shutdown(c, SHUT_RDWR);
        return;
      }
      send(c, reply.raw.data(), reply.raw.size(), MSG_NOSIGNAL);
      if (reply.kind == Reply::respond_and_close) {
        shutdown(c, SHUT_RDWR);
        return;
      }
    }
  }

  std::function<Reply(const Request&)> handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<int> clients_;
  std::vector<std::thread> threads_;
};

RpcOptions opts(const std::string& url, std::chrono::milliseconds timeout = 2000ms) {
  RpcOptions o;
  o.url = url;
  o.user = "u";
  o.password = "p";
  o.timeout = timeout;
  return o;
}

const std::string kBasicUP = "Basic dTpw";  // base64("u:p")

}  // namespace

TEST(RpcClient, KeepAliveRequestShapeAndResults) {
  FakeDaemon d([](const Request& r) {
    EXPECT_NE(r.head.find("POST / HTTP/1.1"), std::string::npos);
    EXPECT_EQ(r.header("Authorization"), kBasicUP);
    json j = r.rpc();
    if (j["method"] == "getblockcount") return Reply::result(431, j["id"]);
    if (j["method"] == "getbestblockhash") return Reply::result(std::string(63, '0') + "1", j["id"]);
    if (j["method"] == "submitblock") {
      EXPECT_EQ(j["params"], json::array({"00ff"}));
      return Reply::result(j["params"][0] == "00ff" ? json(nullptr) : json("high-hash"), j["id"]);
    }
    if (j["method"] == "getblocktemplate") {
      EXPECT_EQ(j["params"][0]["rules"], json::array({"mweb", "segwit"}));
      return Reply::result(json{{"height", 1}}, j["id"]);  // missing everything else
    }
    return Reply::http(404, json{{"result", nullptr}, {"error", {{"code", -32601}, {"message", "Method not found"}}}, {"id", j["id"]}}.dump());
  });
  RpcClient rpc(opts(d.url()));
  EXPECT_EQ(rpc.get_block_count(), 431u);
  EXPECT_EQ(rpc.get_best_block_hash()[0], 1);  // display order reversed into internal order
  EXPECT_EQ(rpc.submit_block(from_hex("00ff")), std::nullopt);
  try {
    rpc.call("nosuchmethod");
    ADD_FAILURE();
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code, -32601);
    EXPECT_EQ(e.message, "Method not found");
    EXPECT_EQ(e.method, "nosuchmethod");
  }
  // A malformed template is a transport-level problem (the daemon gave garbage), named.
  try {
    rpc.get_block_template({"mweb", "segwit"});
    ADD_FAILURE();
  } catch (const TransportError& e) {
    EXPECT_NE(std::string(e.what()).find("malformed block template"), std::string::npos) << e.what();
  }
  EXPECT_EQ(d.connections(), 1);  // all of it on one keep-alive connection
}

TEST(RpcClient, RetriesOnceWhenTheDaemonClosedAnIdleConnection) {
  std::atomic<int> n{0};
  FakeDaemon d([&](const Request& r) {
    // Every answer closes the connection afterwards without saying so (like an idle timeout).
    return Reply{Reply::respond_and_close, Reply::result(++n, r.rpc()["id"]).raw};
  });
  RpcClient rpc(opts(d.url()));
  EXPECT_EQ(rpc.get_block_count(), 1u);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rpc.get_block_count(), 2u);
  EXPECT_EQ(rpc.get_block_count(), 3u);
  EXPECT_EQ(d.connections(), 3);
}

TEST(RpcClient, AuthFailuresAndCookieReread) {
  test::TempDir dir;
  std::string cookie = dir.file(".cookie", "__cookie__:aaaa\n");
  std::mutex m;
  std::string accepted = "Basic X19jb29raWVfXzphYWFh";  // __cookie__:aaaa
  FakeDaemon d([&](const Request& r) {
    std::lock_guard lock(m);
    if (r.header("Authorization") != accepted) return Reply::http(401, "");
    return Reply::result(7, r.rpc()["id"]);
  });
  RpcOptions o = opts(d.url());
  o.user.clear();
  o.cookie_file = cookie;
  RpcClient rpc(o);
  EXPECT_EQ(rpc.get_block_count(), 7u);
  // The daemon restarts with a new cookie: the client reads the file again and goes on.
  {
    std::lock_guard lock(m);
    accepted = "Basic X19jb29raWVfXzpiYmJi";  // __cookie__:bbbb
  }
  dir.file(".cookie", "__cookie__:bbbb\n");
  EXPECT_EQ(rpc.get_block_count(), 7u);
  // A cookie that stays wrong is an AuthError naming the file.
  {
    std::lock_guard lock(m);
    accepted = "nothing";
  }
  try {
    rpc.get_block_count();
    ADD_FAILURE();
  } catch (const AuthError& e) {
    EXPECT_NE(std::string(e.what()).find(cookie), std::string::npos) << e.what();
  }
  // user/password: wrong password.
  RpcClient bad(opts(d.url()));
  EXPECT_THROW(bad.get_block_count(), AuthError);
  // A cookie file that does not exist.
  o.cookie_file = (dir.path() / "missing").string();
  RpcClient missing(o);
  EXPECT_THROW(missing.get_block_count(), AuthError);
}

TEST(RpcClient, TransportErrors) {
  // Nothing listening.
  {
    RpcClient rpc(opts("http://127.0.0.1:" + std::to_string(test::free_port()) + "/"));
    try {
      rpc.get_block_count();
      ADD_FAILURE();
    } catch (const TransportError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
    }
  }
  // A daemon that never answers: the per-call timeout.
  {
    FakeDaemon d([](const Request&) { return Reply{Reply::silent, ""}; });
    RpcClient rpc(opts(d.url(), 300ms));
    auto t0 = std::chrono::steady_clock::now();
    try {
      rpc.get_block_count();
      ADD_FAILURE();
    } catch (const TransportError& e) {
      EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    // A longer per-call limit is honoured too.
    t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(rpc.call("getblockcount", json::array(), 600ms), TransportError);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 550ms);
  }
  // Not HTTP at all.
  {
    FakeDaemon d([](const Request&) { return Reply{Reply::respond_and_close, "garbage\r\n\r\n"}; });
    RpcClient rpc(opts(d.url()));
    EXPECT_THROW(rpc.get_block_count(), TransportError);
  }
  // HTTP, but no JSON (a proxy's error page, 503 work queue full).
  {
    FakeDaemon d([](const Request&) { return Reply::http(503, "Work queue depth exceeded"); });
    RpcClient rpc(opts(d.url()));
    try {
      rpc.get_block_count();
      ADD_FAILURE();
    } catch (const TransportError& e) {
      EXPECT_NE(std::string(e.what()).find("HTTP 503"), std::string::npos) << e.what();
    }
  }
  // JSON that is not a JSON-RPC reply; a result of the wrong type.
  {
    FakeDaemon d([](const Request& r) {
      json j = r.rpc();
      if (j["method"] == "getblockcount") return Reply::result("many", j["id"]);
      return Reply::http(200, "[1,2,3]");
    });
    RpcClient rpc(opts(d.url()));
    EXPECT_THROW(rpc.call("x"), TransportError);
    EXPECT_THROW(rpc.get_block_count(), TransportError);
  }
  // The connection drops mid-request.
  {
    FakeDaemon d([](const Request&) { return Reply{Reply::close, ""}; });
    RpcClient rpc(opts(d.url()));
    EXPECT_THROW(rpc.get_block_count(), TransportError);
  }
  EXPECT_THROW(RpcClient(opts("https://127.0.0.1:1/")), std::invalid_argument);
  EXPECT_THROW(RpcClient(opts("http://127.0.0.1/")), std::invalid_argument);
  RpcOptions none = opts("http://127.0.0.1:1/");
  none.user.clear();
  EXPECT_THROW(RpcClient{none}, std::invalid_argument);
}

TEST(RpcClient, LongPollRunsBesideOtherCallsAndCanBeCancelled) {
  FakeDaemon d([](const Request& r) {
    json j = r.rpc();
    if (j["method"] == "getblocktemplate") {
      EXPECT_EQ(j["params"][0]["longpollid"], "abc");
      return Reply{Reply::silent, ""};
    }
    return Reply::result(5, j["id"]);
  });
  RpcOptions o = opts(d.url());
  o.longpoll_timeout = 30s;
  RpcClient rpc(o);
  auto poll = std::async(std::launch::async, [&] { return rpc.get_block_template({"segwit"}, "abc"); });
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(rpc.get_block_count(), 5u);  // not blocked by the long poll
  auto t0 = std::chrono::steady_clock::now();
  rpc.cancel_longpoll();
  try {
    poll.get();
    ADD_FAILURE();
  } catch (const TransportError& e) {
    EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  // A cancel with no poll in flight does not spoil the next call.
  rpc.cancel_longpoll();
  EXPECT_EQ(rpc.get_block_count(), 5u);
}
