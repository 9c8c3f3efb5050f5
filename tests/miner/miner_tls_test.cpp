// The built-in miner over stratum+ssl against a small in-test TLS pool (OpenSSL, self-signed
// certificate made at test time) that checks every share itself: coinbase -> merkle -> header
// -> OpenSSL SHA256d -> target. Plus the TLS failure paths: a pool that does not speak TLS,
// and a TLS pool that drops the connection.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <poll.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "miner/miner.h"
#include "support/support.h"
#include "support/tls.h"

using namespace otedama;
using otedama::test::eventually;
using json = nlohmann::json;

namespace {

Hash256 openssl_sha256d(const Bytes& data) {
  Hash256 a, b;
  SHA256(data.data(), data.size(), a.data());
  SHA256(a.data(), 32, b.data());
  return b;
}

int listen_loopback(uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (sockaddr*)&a, sizeof a) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof a;
  getsockname(fd, (sockaddr*)&a, &len);
  port = ntohs(a.sin_port);
  listen(fd, 8);
  return fd;
}

// A one-connection-at-a-time Stratum pool over TLS, in a thread.
class TlsPool {
 public:
  TlsPool(const test::CertFiles& certs, double difficulty) : difficulty_(difficulty) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_file(ctx_, certs.cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, certs.key.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("test pool: cannot load the certificate");
    listen_fd_ = listen_loopback(port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~TlsPool() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  std::atomic<int> connections{0}, handshakes{0}, valid{0}, invalid{0};
  std::atomic<bool> drop_next{false};
  std::string user, protocol;  // read after the counters say so

 private:
  void send(SSL* ssl, const json& j) {
    std::string s = j.dump() + "\n";
    SSL_write(ssl, s.data(), int(s.size()));
  }

  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      connections++;
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        handshakes++;
        protocol = SSL_get_version(ssl);
        session(ssl, fd);
        SSL_shutdown(ssl);
      }
      SSL_free(ssl);
      close(fd);
    }
  }

  void session(SSL* ssl, int fd) {
    coinb1_ = from_hex("01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20");
    coinb2_ = from_hex("ffffffff0100f2052a010000001976a914000000000000000000000000000000000000000088ac00000000");
    branch_ = {Hash256{}};
    branch_[0][3] = 9;
    std::string buf;
    char c[16384];
    while (!stop_) {
      if (drop_next.exchange(false)) return;
      if (SSL_pending(ssl) == 0) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
      }
      int n = SSL_read(ssl, c, sizeof c);
      if (n <= 0) {
        if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) continue;
        return;
      }
      buf.append(c, size_t(n));
      size_t pos;
      while ((pos = buf.find('\n')) != std::string::npos) {
        json m = json::parse(buf.substr(0, pos));
        buf.erase(0, pos + 1);
        handle(ssl, m);
      }
    }
  }

  void handle(SSL* ssl, const json& m) {
    std::string method = m.value("method", "");
    if (method == "mining.subscribe") {
      send(ssl, {{"id", m["id"]}, {"result", {json::array(), "0badcafe", 4}}, {"error", nullptr}});
    } else if (method == "mining.configure") {
      send(ssl, {{"id", m["id"]}, {"result", {{"version-rolling", false}}}, {"error", nullptr}});
    } else if (method == "mining.authorize") {
      user = m["params"][0];
      send(ssl, {{"id", m["id"]}, {"result", true}, {"error", nullptr}});
      send(ssl, {{"id", nullptr}, {"method", "mining.set_difficulty"}, {"params", {difficulty_}}});
      std::string prev;
      for (int w = 0; w < 8; ++w)
        for (int i = 3; i >= 0; --i) prev += to_hex(Bytes{uint8_t(w * 4 + i)});
      send(ssl, {{"id", nullptr}, {"method", "mining.notify"},
                 {"params", {"tlsjob", prev, to_hex(coinb1_), to_hex(coinb2_), json::array({to_hex(branch_[0])}),
                             "20000000", "1d00ffff", "5f5e1000", true}}});
    } else if (method == "mining.submit") {
      const auto& p = m["params"];
      Bytes cb = coinb1_;
      Bytes en1 = from_hex("0badcafe"), en2 = from_hex(p[2].get<std::string>());
      cb.insert(cb.end(), en1.begin(), en1.end());
      cb.insert(cb.end(), en2.begin(), en2.end());
      cb.insert(cb.end(), coinb2_.begin(), coinb2_.end());
      Hash256 root = openssl_sha256d(cb);
      for (auto& b : branch_) {
        Bytes pair(root.begin(), root.end());
        pair.insert(pair.end(), b.begin(), b.end());
        root = openssl_sha256d(pair);
      }
      uint32_t ntime = uint32_t(std::stoul(p[3].get<std::string>(), nullptr, 16));
      uint32_t nonce = uint32_t(std::stoul(p[4].get<std::string>(), nullptr, 16));
      Bytes h(80);
      auto le = [&](size_t off, uint32_t v) {
        for (int i = 0; i < 4; ++i) h[off + i] = uint8_t(v >> (8 * i));
      };
      le(0, 0x20000000);
      for (int i = 0; i < 32; ++i) h[4 + i] = uint8_t(i);
      std::copy(root.begin(), root.end(), h.begin() + 36);
      le(68, ntime);
      le(72, 0x1d00ffff);
      le(76, nonce);
      Hash256 hash = openssl_sha256d(h);
      bool ok = p.size() == 5 && U256::from_le_bytes(hash.data()) <= miner::share_target("sha256d", difficulty_) &&
                ntime == 0x5f5e1000 && m["params"][1] == "tlsjob";
      (ok ? valid : invalid)++;
      send(ssl, {{"id", m["id"]}, {"result", ok}, {"error", ok ? json() : json::array({23, "low difficulty", nullptr})}});
    }
  }

  double difficulty_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Bytes coinb1_, coinb2_;
  std::vector<Hash256> branch_;
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
  c.user = "tb1qtls.worker1";
  c.algo = "sha256d";
  c.threads = 2;
  c.report_interval = std::chrono::milliseconds(200);
  c.reconnect_min = std::chrono::milliseconds(100);
  return c;
}

class MinerTls : public ::testing::Test {
 protected:
  void SetUp() override { certs = test::make_self_signed(dir.path()); }
  test::TempDir dir;
  test::CertFiles certs;
};

}  // namespace

TEST(MinerTlsUrls, Parse) {
  auto u = miner::parse_pool_url("stratum+ssl://pool.example:3334");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "pool.example");
  EXPECT_EQ(u.port, 3334);
  EXPECT_TRUE(miner::parse_pool_url("stratum+tls://127.0.0.1:1").tls);
  EXPECT_FALSE(miner::parse_pool_url("stratum+tcp://127.0.0.1:1").tls);
  EXPECT_NO_THROW(miner::Miner(config({"stratum+ssl://127.0.0.1:1"})));
}

TEST_F(MinerTls, FindsSharesThePoolVerifiesOverTls) {
  TlsPool pool(certs, 0.002);
  RunningMiner rm(config({"stratum+ssl://127.0.0.1:" + std::to_string(pool.port())}));
  ASSERT_TRUE(eventually([&] { return pool.valid >= 5; }, std::chrono::seconds(60)))
      << "valid " << pool.valid << " invalid " << pool.invalid << " error " << rm.m.stats().last_error;
  EXPECT_EQ(pool.invalid, 0);
  EXPECT_EQ(pool.handshakes, 1);
  EXPECT_TRUE(pool.protocol == "TLSv1.3" || pool.protocol == "TLSv1.2") << pool.protocol;
  EXPECT_EQ(pool.user, "tb1qtls.worker1");
  EXPECT_TRUE(eventually([&] { return rm.m.stats().accepted >= 5; }, std::chrono::seconds(5)));
  EXPECT_EQ(rm.m.stats().rejected, 0u);
}

TEST_F(MinerTls, ReconnectsAfterTheTlsPoolDrops) {
  TlsPool pool(certs, 0.002);
  RunningMiner rm(config({"stratum+tls://127.0.0.1:" + std::to_string(pool.port())}));
  ASSERT_TRUE(eventually([&] { return pool.valid >= 1; }, std::chrono::seconds(60)));
  pool.drop_next = true;
  ASSERT_TRUE(eventually([&] { return pool.handshakes >= 2; }, std::chrono::seconds(10)));
  int before = pool.valid;
  ASSERT_TRUE(eventually([&] { return pool.valid > before; }, std::chrono::seconds(60)));
  EXPECT_EQ(pool.invalid, 0);
  EXPECT_GE(rm.m.stats().reconnects, 1u);
}

TEST_F(MinerTls, APoolWithoutTlsIsAHandshakeError) {
  // A plain-text Stratum pool: it answers the ClientHello with a line of JSON.
  uint16_t port = 0;
  int lfd = listen_loopback(port);
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0};
  std::thread plain([&] {
    while (!stop) {
      pollfd p{lfd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept(lfd, nullptr, nullptr);
      if (fd < 0) continue;
      accepted++;
      std::string junk = "{\"id\":null,\"method\":\"mining.notify\",\"params\":[]}\n";
      (void)!::write(fd, junk.data(), junk.size());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      close(fd);
    }
  });
  {
    RunningMiner rm(config({"stratum+ssl://127.0.0.1:" + std::to_string(port)}));
    ASSERT_TRUE(eventually([&] { return accepted >= 2; }, std::chrono::seconds(10)));  // it keeps retrying
    EXPECT_TRUE(eventually([&] { return rm.m.stats().last_error.find("TLS handshake") != std::string::npos; },
                           std::chrono::seconds(5)))
        << rm.m.stats().last_error;
    EXPECT_EQ(rm.m.stats().accepted, 0u);
  }
  stop = true;
  plain.join();
  close(lfd);
}
