// The built-in miner against a small in-test Stratum pool that checks every share itself
// (coinbase -> merkle -> header -> OpenSSL SHA256d -> target), plus reconnect and fail-over.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <poll.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "miner/miner.h"
#include "support/support.h"

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

// A one-connection-at-a-time Stratum pool in a thread.
class FakePool {
 public:
  explicit FakePool(double difficulty, uint32_t version_mask = 0x1fffe000)
      : difficulty_(difficulty), mask_(version_mask) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    port_ = test::free_port();
    a.sin_port = htons(port_);
    if (bind(listen_fd_, (sockaddr*)&a, sizeof a) != 0) throw std::runtime_error("bind");
    listen(listen_fd_, 8);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakePool() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::atomic<int> connections{0}, valid{0}, invalid{0}, rolled{0};
  std::atomic<bool> drop_next{false};  // close the current connection
  std::atomic<bool> send_garbage{false};
  std::string user;

 private:
  void send(int fd, const json& j) {
    std::string s = j.dump() + "\n";
    (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL);  // the miner may be gone: no SIGPIPE
  }

  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      connections++;
      session(fd);
      close(fd);
    }
  }

  void session(int fd) {
    // The job: random-ish coinbase halves and a two-entry merkle branch.
    coinb1_ = from_hex("01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20");
    coinb2_ = from_hex("ffffffff0100f2052a010000001976a914000000000000000000000000000000000000000088ac00000000");
    branch_ = {Hash256{}, Hash256{}};
    branch_[0][0] = 1;
    branch_[1][5] = 7;
    std::string buf;
    char c[4096];
    while (!stop_) {
      if (drop_next.exchange(false)) return;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = read(fd, c, sizeof c);
      if (n <= 0) return;
      buf.append(c, size_t(n));
      size_t pos;
      while ((pos = buf.find('\n')) != std::string::npos) {
        json m = json::parse(buf.substr(0, pos));
        buf.erase(0, pos + 1);
        handle(fd, m);
      }
    }
  }

  void handle(int fd, const json& m) {
    std::string method = m.value("method", "");
    if (method == "mining.configure") {
      send(fd, {{"id", m["id"]}, {"result", {{"version-rolling", true}, {"version-rolling.mask", "1fffe000"}}}, {"error", nullptr}});
    } else if (method == "mining.subscribe") {
      send(fd, {{"id", m["id"]}, {"result", {json::array(), "a1b2c3d4", 4}}, {"error", nullptr}});
    } else if (method == "mining.authorize") {
      user = m["params"][0];
      send(fd, {{"id", m["id"]}, {"result", true}, {"error", nullptr}});
      if (send_garbage.exchange(false)) {  // once: the reconnected miner gets a clean session
        std::string junk = "{this is not json\n";
        (void)!::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
      }
      send(fd, {{"id", nullptr}, {"method", "mining.set_difficulty"}, {"params", {difficulty_}}});
      json branch = json::array();
      for (auto& b : branch_) branch.push_back(to_hex(b));
      // prevhash in Stratum's word-swapped form of the header bytes 00 01 02 ... 1f
      std::string prev;
      for (int w = 0; w < 8; ++w)
        for (int i = 3; i >= 0; --i) prev += to_hex(Bytes{uint8_t(w * 4 + i)});
      send(fd, {{"id", nullptr}, {"method", "mining.notify"},
                {"params", {"job1", prev, to_hex(coinb1_), to_hex(coinb2_), branch, "20000000", "1d00ffff", "5f5e1000", true}}});
    } else if (method == "mining.submit") {
      const auto& p = m["params"];
      Bytes cb = coinb1_;
      Bytes en1 = from_hex("a1b2c3d4"), en2 = from_hex(p[2].get<std::string>());
      cb.insert(cb.end(), en1.begin(), en1.end());
      cb.insert(cb.end(), en2.begin(), en2.end());
      cb.insert(cb.end(), coinb2_.begin(), coinb2_.end());
      Hash256 root = openssl_sha256d(cb);
      for (auto& b : branch_) {
        Bytes pair(root.begin(), root.end());
        pair.insert(pair.end(), b.begin(), b.end());
        root = openssl_sha256d(pair);
      }
      uint32_t version = 0x20000000;
      if (p.size() > 5) {
        uint32_t bits = uint32_t(std::stoul(p[5].get<std::string>(), nullptr, 16));
        if (bits & ~mask_) {
          invalid++;
          send(fd, {{"id", m["id"]}, {"result", nullptr}, {"error", {20, "version bits outside mask", nullptr}}});
          return;
        }
        if (bits) rolled++;
        version = (version & ~mask_) | bits;
      }
      uint32_t ntime = uint32_t(std::stoul(p[3].get<std::string>(), nullptr, 16));
      uint32_t nonce = uint32_t(std::stoul(p[4].get<std::string>(), nullptr, 16));
      Bytes h(80);
      auto le = [&](size_t off, uint32_t v) { for (int i = 0; i < 4; ++i) h[off + i] = uint8_t(v >> (8 * i)); };
      le(0, version);
      for (int i = 0; i < 32; ++i) h[4 + i] = uint8_t(i);
      std::copy(root.begin(), root.end(), h.begin() + 36);
      le(68, ntime);
      le(72, 0x1d00ffff);
      le(76, nonce);
      Hash256 hash = openssl_sha256d(h);
      bool ok = U256::from_le_bytes(hash.data()) <= miner::share_target("sha256d", difficulty_) && ntime == 0x5f5e1000;
      (ok ? valid : invalid)++;
      send(fd, {{"id", m["id"]}, {"result", ok}, {"error", ok ? json() : json::array({23, "low difficulty", nullptr})}});
    }
  }

  double difficulty_;
  uint32_t mask_;
  int listen_fd_;
  uint16_t port_;
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
  c.user = "tb1qtest.worker1";
  c.algo = "sha256d";
  c.threads = 2;
  c.report_interval = std::chrono::milliseconds(200);
  c.reconnect_min = std::chrono::milliseconds(100);
  return c;
}

}  // namespace

TEST(MinerUrls, Parse) {
  auto u = miner::parse_pool_url("stratum+tcp://127.0.0.1:3333");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 3333);
  EXPECT_EQ(miner::parse_pool_url("pool.example:1").port, 1);
  EXPECT_EQ(miner::parse_pool_url("stratum+tcp://[::1]:3333").host, "::1");
  EXPECT_THROW(miner::parse_pool_url("http://x:1"), std::invalid_argument);
  EXPECT_THROW(miner::parse_pool_url("stratum+tcp://host"), std::invalid_argument);
  EXPECT_THROW(miner::parse_pool_url("stratum+tcp://host:99999"), std::invalid_argument);
}

TEST(MinerJob, PrevhashWordSwapAndHeader) {
  std::string prev;
  for (int w = 0; w < 8; ++w)
    for (int i = 3; i >= 0; --i) prev += to_hex(Bytes{uint8_t(w * 4 + i)});
  Hash256 h = miner::stratum_prevhash_to_header(prev);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(h[i], i);
  miner::StratumJob job;
  job.coinb1 = {1, 2};
  job.coinb2 = {3};
  job.version = 0x20000000;
  job.nbits = 0x1d00ffff;
  auto header = miner::build_header(job, Bytes{4}, Bytes{5}, job.version, 0x12345678, 0xdeadbeef);
  Hash256 root = openssl_sha256d(Bytes{1, 2, 4, 5, 3});
  EXPECT_TRUE(std::equal(root.begin(), root.end(), header.begin() + 36));
  EXPECT_EQ(header[0], 0x00);
  EXPECT_EQ(header[3], 0x20);
  EXPECT_EQ(header[68], 0x78);
  EXPECT_EQ(header[79], 0xde);
  EXPECT_EQ(miner::share_target("sha256d", 1), U256::from_compact(0x1d00ffff));
  EXPECT_EQ(miner::share_target("scrypt", 1), U256::from_compact(0x1d00ffff) << 16);
}

TEST(Miner, FindsSharesThePoolVerifies) {
  FakePool pool(0.002);
  RunningMiner rm(config({"stratum+tcp://127.0.0.1:" + std::to_string(pool.port())}));
  ASSERT_TRUE(eventually([&] { return pool.valid >= 5; }, std::chrono::seconds(60)))
      << "valid " << pool.valid << " invalid " << pool.invalid;
  EXPECT_EQ(pool.invalid, 0);
  EXPECT_EQ(pool.user, "tb1qtest.worker1");
  EXPECT_TRUE(eventually([&] { return rm.m.stats().accepted >= 5; }, std::chrono::seconds(5)));
  EXPECT_EQ(rm.m.stats().rejected, 0u);
  EXPECT_GT(rm.m.stats().hashrate, 0);
}

TEST(Miner, SurvivesGarbageAndReconnects) {
  FakePool pool(0.002);
  pool.send_garbage = true;
  RunningMiner rm(config({"127.0.0.1:" + std::to_string(pool.port())}));
  ASSERT_TRUE(eventually([&] { return pool.connections >= 1; }, std::chrono::seconds(10)));
  // Malformed JSON from the pool drops the connection; the miner comes back and mines.
  ASSERT_TRUE(eventually([&] { return pool.connections >= 2; }, std::chrono::seconds(10)));
  ASSERT_TRUE(eventually([&] { return pool.valid >= 2; }, std::chrono::seconds(60)));
  pool.drop_next = true;
  ASSERT_TRUE(eventually([&] { return pool.connections >= 3; }, std::chrono::seconds(10)));
  EXPECT_GE(rm.m.stats().reconnects, 2u);
}

TEST(Miner, FailsOverToTheNextPool) {
  uint16_t dead = test::free_port();
  FakePool backup(0.002);
  RunningMiner rm(config({"127.0.0.1:" + std::to_string(dead), "127.0.0.1:" + std::to_string(backup.port())}));
  ASSERT_TRUE(eventually([&] { return backup.valid >= 1; }, std::chrono::seconds(30)));
}

TEST(Miner, RejectsBadConfig) {
  EXPECT_THROW(miner::Miner(config({})), std::invalid_argument);
  auto c = config({"127.0.0.1:1"});
  c.algo = "md5";
  EXPECT_THROW(miner::Miner{c}, std::invalid_argument);
  c = config({"127.0.0.1:1"});
  c.user = "";
  EXPECT_THROW(miner::Miner{c}, std::invalid_argument);
}
