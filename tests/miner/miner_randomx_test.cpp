// `otedama mine --algo randomx`: the Monero-style Stratum client against the in-test pool of
// monero_pool.h, which recomputes every share with RandomX (light mode) itself. Light mode and
// difficulty 4 keep it fast: a light epoch builds in 1-2 s and a thread hashes ~17 H/s.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "miner/miner.h"
#include "monero_pool.h"
#include "support/support.h"

using namespace otedama;
using otedama::test::eventually;
using otedama::test::MoneroPool;
using otedama::test::PoolJob;

namespace {

struct RunningMiner {
  explicit RunningMiner(miner::MinerConfig c) : m(c), t([this] {
    try {
      m.run();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }) {}
  ~RunningMiner() {
    m.stop();
    t.join();
  }
  miner::Miner m;
  std::string failure;
  std::thread t;
};

miner::MinerConfig config(std::vector<std::string> urls, unsigned threads = 1) {
  miner::MinerConfig c;
  c.urls = std::move(urls);
  c.user = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A.rig7";
  c.password = "x";
  c.algo = "randomx";
  c.randomx_mode = "light";
  c.large_pages = false;  // no large-page notes in last_error
  c.threads = threads;
  c.report_interval = std::chrono::milliseconds(100);
  c.reconnect_min = std::chrono::milliseconds(100);
  c.reconnect_max = std::chrono::milliseconds(400);
  c.keepalive_interval = std::chrono::milliseconds(300);
  c.max_line = 16384;
  return c;
}

PoolJob job(const std::string& id, uint8_t seed, uint8_t blob_tweak = 0) {
  PoolJob j;
  j.id = id;
  j.blob = from_hex(test::kMoneroBlobHex);
  j.blob[60] ^= blob_tweak;  // another tree root: another block template
  j.seed = test::seed_of(seed);
  return j;
}

}  // namespace

TEST(MoneroTargets, AsXMRigReadsThem) {
  // 8 digits: LE32 of floor((2^32-1)/diff), the top 32 bits of the 64-bit target.
  EXPECT_EQ(miner::monero_target64("b88d0600"), 0x00068db8ull << 32);
  EXPECT_EQ(miner::monero_difficulty(miner::monero_target64("b88d0600")), 10000u);
  EXPECT_EQ(miner::monero_difficulty(miner::monero_target64("ffffff7f")), 2u);
  EXPECT_EQ(miner::monero_difficulty(miner::monero_target64("ffffffff")), 1u);
  // 16 digits: LE64 (diff 20 -> floor((2^64-1)/20) = 0x0ccccccccccccccc).
  EXPECT_EQ(miner::monero_target64("cccccccccccccc0c"), 0x0cccccccccccccccull);
  EXPECT_EQ(miner::monero_difficulty(0x0cccccccccccccccull), 20u);
  EXPECT_EQ(miner::monero_target64("0100000000000000"), 1u);
  EXPECT_EQ(miner::monero_difficulty(1), UINT64_MAX);
  for (const char* bad : {"", "ffffff", "ffffff7f00", "zzzzzzzz", "00000000", "0000000000000000", "ffffffffffffffffff"})
    EXPECT_THROW(miner::monero_target64(bad), std::invalid_argument) << bad;

  Hash256 h{};
  h[31] = 0x7f;
  h[24] = 0xff;  // top64 = 0x7f000000000000ff
  EXPECT_TRUE(miner::monero_hash_meets(h, 0x7f00000000000100ull));
  EXPECT_FALSE(miner::monero_hash_meets(h, 0x7f000000000000ffull));  // not below: equal
  h[23] = 0xff;  // bytes below 24 do not count
  EXPECT_TRUE(miner::monero_hash_meets(h, 0x7f00000000000100ull));
}

TEST(MoneroTargets, TheRealVectorHashesAsExpected) {
  // The pool's checker and the miner hash the same way librandomx's own test does.
  Bytes key = from_hex("74657374206b657920303031");
  EXPECT_EQ(to_hex(crypto::randomx_hash(key, from_hex(test::kMoneroBlobHex))),
            "c56414121acda1713c2f2a819d8ae38aed7c80c35c2a769298d34f03833cd5f1");
}

TEST(MoneroNonces, ThreadsGetDisjointRangesCoveringTheSpace) {
  auto a = miner::monero_nonce_range(0, 2, false, 0), b = miner::monero_nonce_range(1, 2, false, 0);
  EXPECT_EQ(a.first, 0u);
  EXPECT_EQ(a.last, 0x7fffffffu);
  EXPECT_EQ(b.first, 0x80000000u);
  EXPECT_EQ(b.last, 0xffffffffu);
  auto one = miner::monero_nonce_range(0, 1, false, 0x55);
  EXPECT_EQ(one.first, 0u);
  EXPECT_EQ(one.last, 0xffffffffu);
  // NiceHash: the top byte stays, the low 24 bits are shared.
  uint64_t next = 0xab000000;
  for (unsigned i = 0; i < 3; ++i) {
    auto r = miner::monero_nonce_range(i, 3, true, 0xab);
    EXPECT_EQ(r.first, next);
    EXPECT_EQ(r.first >> 24, 0xabu);
    EXPECT_EQ(r.last >> 24, 0xabu);
    next = uint64_t(r.last) + 1;
  }
  EXPECT_EQ(next, 0xac000000u);
  EXPECT_THROW(miner::monero_nonce_range(2, 2, false, 0), std::invalid_argument);
}

TEST(MoneroMiner, RejectsBadConfig) {
  auto c = config({"127.0.0.1:1"});
  c.randomx_mode = "turbo";
  EXPECT_THROW(miner::Miner{c}, std::invalid_argument);
  c = config({"127.0.0.1:1"});
  c.algo = "rx/wow";
  EXPECT_THROW(miner::Miner{c}, std::invalid_argument);
  c = config({"http://127.0.0.1:1"});
  EXPECT_THROW(miner::Miner{c}, std::invalid_argument);
}

TEST(MoneroMiner, MinesSharesThePoolVerifiesAndSwitchesSeed) {
  MoneroPool pool(job("j1", 1));
  pool.start();
  RunningMiner rm(config({pool.url()}));
  ASSERT_TRUE(eventually([&] { return pool.valid("j1") >= 3; }, std::chrono::seconds(60)))
      << "valid " << pool.valid() << " invalid " << pool.invalid() << " error " << rm.m.stats().last_error;
  EXPECT_EQ(pool.invalid(), 0);
  auto login = pool.login_params();
  EXPECT_EQ(login["login"], config({}).user);
  EXPECT_EQ(login["pass"], "x");
  EXPECT_TRUE(login["agent"].get<std::string>().starts_with("otedama/"));
  EXPECT_EQ(login["algo"], nlohmann::json::array({"rx/0"}));
  EXPECT_EQ(pool.bad_requests, 0);

  // A new block on a new RandomX key: the miner builds the new epoch and mines on it.
  pool.push(job("j2", 2, 0x5a));
  ASSERT_TRUE(eventually([&] { return pool.valid("j2") >= 3; }, std::chrono::seconds(60)))
      << "valid j2 " << pool.valid("j2") << " invalid " << pool.invalid() << " error " << rm.m.stats().last_error;
  EXPECT_EQ(pool.invalid(), 0);

  // keepalived goes out while the session is idle on the client side (interval 300 ms).
  EXPECT_TRUE(eventually([&] { return pool.keepalives >= 1; }, std::chrono::seconds(10)));
  ASSERT_TRUE(eventually([&] { return rm.m.stats().accepted >= 6; }, std::chrono::seconds(10)));
  auto s = rm.m.stats();
  EXPECT_EQ(s.rejected, 0u);
  EXPECT_GT(s.hashes, 6u);
  // The hashrate is over the last 100 ms report interval: a light-mode hash on a loaded machine
  // can take longer than that, so some intervals have none.
  EXPECT_TRUE(eventually([&] { return rm.m.stats().hashrate > 0; }, std::chrono::seconds(10)));
  EXPECT_EQ(s.difficulty, 4);
  EXPECT_EQ(s.jobs, 2u);
  EXPECT_EQ(s.pool, "127.0.0.1:" + std::to_string(pool.port()));
  EXPECT_EQ(s.reconnects, 0u);
  EXPECT_EQ(s.last_error, "");
}

TEST(MoneroMiner, NicehashKeepsTheTopByteAndThreadsSplitTheRest) {
  MoneroPool pool(job("n1", 1, 3));
  pool.nicehash = true;
  pool.nicehash_byte = 0xc5;
  pool.start();
  RunningMiner rm(config({pool.url()}, 2));
  ASSERT_TRUE(eventually(
      [&] {
        bool low = false, high = false;
        for (const auto& s : pool.shares()) {
          low = low || (s.valid && (s.nonce & 0x00800000) == 0);
          high = high || (s.valid && (s.nonce & 0x00800000) != 0);
        }
        return low && high && pool.valid() >= 4;
      },
      std::chrono::seconds(90)))
      << "valid " << pool.valid() << " invalid " << pool.invalid() << " error " << rm.m.stats().last_error;
  EXPECT_EQ(pool.invalid(), 0);
  for (const auto& s : pool.shares()) EXPECT_EQ(s.nonce >> 24, 0xc5u) << std::hex << s.nonce;
}

TEST(MoneroMiner, FailsOverWhenThePoolDies) {
  uint16_t dead = test::free_port();
  MoneroPool first(job("a1", 1, 4)), second(job("b1", 1, 5));
  first.start();
  second.start();
  RunningMiner rm(config({"127.0.0.1:" + std::to_string(dead), first.url(), second.url()}));
  ASSERT_TRUE(eventually([&] { return first.valid() >= 1; }, std::chrono::seconds(60))) << rm.m.stats().last_error;
  first.shutdown_now();
  ASSERT_TRUE(eventually([&] { return second.valid("b1") >= 1; }, std::chrono::seconds(60))) << rm.m.stats().last_error;
  EXPECT_EQ(first.invalid() + second.invalid(), 0);
  EXPECT_GE(rm.m.stats().reconnects, 2u);
}

TEST(MoneroMiner, BadInputFromThePoolMeansAnErrorAndAReconnect) {
  struct Case {
    const char* behaviour;
    const char* error;
  };
  const Case cases[] = {
      {"garbage", "malformed JSON"},
      {"not-object", "not an object"},
      {"bad-blob", "blob is not hex"},
      {"short-blob", "too short for the nonce at offset 39"},
      {"bad-target", "job target"},
      {"bad-seed", "seed_hash"},
      {"bad-algo", "not rx/0"},
      {"long-line", "longer than 16384 bytes"},
      {"login-error", "login refused: Invalid address"},
  };
  MoneroPool pool(job("g1", 1, 6));
  for (const auto& c : cases) pool.script.push_back(c.behaviour);
  pool.start();
  RunningMiner rm(config({pool.url()}));
  std::set<std::string> seen;
  // Every misbehaving session ends in a reconnect with its own error, then the miner mines.
  ASSERT_TRUE(eventually(
      [&] {
        std::string e = rm.m.stats().last_error;
        for (const auto& c : cases)
          if (e.find(c.error) != std::string::npos) seen.insert(c.behaviour);
        return pool.valid() >= 1;
      },
      std::chrono::seconds(90), std::chrono::milliseconds(5)))
      << rm.m.stats().last_error;
  EXPECT_GE(pool.connections, int(std::size(cases)) + 1);
  EXPECT_GE(rm.m.stats().reconnects, std::size(cases));
  EXPECT_EQ(rm.failure, "");
  // Each error stands at least for the back-off (100 ms and up) while this polls every 5 ms.
  for (const auto& c : cases) EXPECT_TRUE(seen.count(c.behaviour)) << "no error seen for " << c.behaviour;
}

TEST(MoneroMiner, CountsRejectionsAndLogsInAgainWhenTheSessionIsLost) {
  MoneroPool pool(job("r1", 1, 7));
  pool.script = {"unauth", "reject"};  // then the session stays: every share rejected
  pool.start();
  RunningMiner rm(config({pool.url()}));
  // "Unauthenticated": the pool forgot the session, so the miner logs in again.
  ASSERT_TRUE(eventually([&] { return pool.connections >= 2; }, std::chrono::seconds(60))) << rm.m.stats().last_error;
  ASSERT_TRUE(eventually([&] { return rm.m.stats().rejected >= 2; }, std::chrono::seconds(60)));
  auto s = rm.m.stats();
  EXPECT_NE(s.last_error.find("share rejected: Low difficulty share"), std::string::npos) << s.last_error;
  EXPECT_EQ(s.accepted, 0u);
  EXPECT_EQ(pool.connections, 2);
  EXPECT_EQ(pool.invalid(), 0);  // the shares were good; the pool said otherwise
}
