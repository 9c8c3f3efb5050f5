// The Monero pool on a real monerod regtest chain, driven by a test miner that speaks the
// Monero-style Stratum and grinds RandomX (light mode) itself: shares accepted at the job's
// target, blocks found and accepted by monerod paying the pool's wallet, jobs switching on new
// blocks (old jobs stale), and the rejections a real miner can run into.
#include <utility>  // before asio

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <thread>

#include "chain/chain.h"
#include "crypto/randomx.h"
#include "pool/pool.h"
#include "support/line_client.h"
#include "support/monerod.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::test;
namespace xmr = otedama::chain::monero;

namespace {

class PoolUnderTest {
 public:
  PoolUnderTest(const Monerod& node, const std::string& payout, uint64_t initial_difficulty = 1, bool nicehash = false,
                std::string zmq = "") {
    cfg.daemon.zmq = std::move(zmq);
    cfg.name = "xmr";
    cfg.coin = "monero";
    cfg.algorithm = "randomx";
    cfg.address = {"127.0.0.1", free_port()};
    cfg.payout_address = payout;
    cfg.daemon.url = node.rpc_url();
    cfg.difficulty.initial = double(initial_difficulty);
    cfg.difficulty.min = 1;
    cfg.difficulty.max = 1e9;
    cfg.difficulty.target_share_time = std::chrono::seconds(60);  // no vardiff moves during the test
    cfg.randomx_mode = "light";
    cfg.nicehash = nicehash;
    pool = std::make_unique<pool::MoneroPool>(io, cfg, [this](bool ok, const std::string& detail) {
      ready = ok;
      std::lock_guard lock(mutex);
      status = detail;
    });
    pool->start();
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
  }
  ~PoolUnderTest() {
    pool->stop();
    io.stop();
    thread.join();
  }
  std::string last_status() {
    std::lock_guard lock(mutex);
    return status;
  }

  config::PoolConfig cfg;
  boost::asio::io_context io;
  std::unique_ptr<pool::MoneroPool> pool;
  std::thread thread;
  std::atomic<bool> ready{false};
  std::mutex mutex;
  std::string status;
};

struct Miner {
  explicit Miner(uint16_t port, const std::string& login = kMoneroTestAddress) : client(port) {
    client.jsonrpc2 = true;
    json r = client.call("login", {{"login", login}, {"pass", "x"}, {"agent", "otedama-test/1"}, {"algo", {"rx/0"}}});
    if (!r["error"].is_null()) throw std::runtime_error("login refused: " + r.dump());
    id = r["result"]["id"];
    job = r["result"]["job"];
  }
  // Takes the newest pushed job, if one came.
  void update_job(int timeout_ms = 0) {
    while (auto j = client.note("job", timeout_ms)) job = (*j)["params"];
  }
  Bytes blob_with(uint32_t nonce) const {
    Bytes b = from_hex(job["blob"].get<std::string>());
    xmr::set_nonce(b, 39, nonce);
    return b;
  }
  Hash256 hash(uint32_t nonce) const {
    Hash256 seed{};
    Bytes s = from_hex(job["seed_hash"].get<std::string>());
    std::copy(s.begin(), s.end(), seed.begin());
    return crypto::randomx_hash(seed, blob_with(nonce));
  }
  json submit(uint32_t nonce, const Hash256& result, const std::string& job_id = "") {
    Bytes n(4);
    for (int i = 0; i < 4; ++i) n[i] = uint8_t(nonce >> (8 * i));
    return client.call("submit", {{"id", id},
                                  {"job_id", job_id.empty() ? job["job_id"].get<std::string>() : job_id},
                                  {"nonce", to_hex(n)},
                                  {"result", to_hex(result)}});
  }
  static std::string message(const json& reply) {
    return reply["error"].is_object() ? reply["error"].value("message", "") : "";
  }

  LineClient client;
  std::string id;
  json job;
};

TEST(MoneroPoolIt, MinesBlocksThatPayThePoolsWallet) {
  Monerod node({.fixed_difficulty = 12});
  MoneroWallet wallet(node);
  PoolUnderTest p(node, wallet.address());
  ASSERT_TRUE(eventually([&] { return p.ready.load(); }, std::chrono::seconds(30))) << p.last_status();
  uint64_t start_height = node.height();

  Miner m(p.cfg.address.port);
  EXPECT_EQ(m.job["algo"], "rx/0");
  EXPECT_EQ(m.job["height"].get<uint64_t>(), start_height);
  EXPECT_EQ(m.job["target"].get<std::string>().size(), 8u);
  EXPECT_EQ(xmr::difficulty_from_stratum_target(m.job["target"].get<std::string>()), 1u);
  auto tpl = xmr::RpcClient({.url = node.rpc_url()}).get_block_template(wallet.address(), 8);
  EXPECT_EQ(m.job["seed_hash"], to_hex(tpl.seed_hash));

  // Grind until one share meets the network difficulty (12): every share meets the job's (1).
  int accepted = 0;
  uint32_t nonce = 1;
  std::string first_job = m.job["job_id"];
  for (; nonce < 2000; ++nonce) {
    Hash256 h = m.hash(nonce);
    json r = m.submit(nonce, h);
    ASSERT_TRUE(r["error"].is_null()) << r;
    EXPECT_EQ(r["result"]["status"], "OK");
    ++accepted;
    if (xmr::hash_meets_difficulty(h, 12)) break;
  }
  ASSERT_TRUE(eventually([&] { return node.height() == start_height + 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(p.pool->snapshot().blocks_accepted, 1u);
  EXPECT_EQ(p.pool->snapshot().shares_valid, uint64_t(accepted));

  // The new block reaches the miner as a clean job; the old job's shares are stale now.
  ASSERT_TRUE(eventually([&] {
    m.update_job(50);
    return m.job["height"].get<uint64_t>() == start_height + 1;
  }, std::chrono::seconds(5)));
  EXPECT_EQ(Miner::message(m.submit(nonce + 1, Hash256{}, first_job)), "Stale job");
  EXPECT_EQ(p.pool->snapshot().shares_stale, 1u);

  // The block's coinbase pays the pool's wallet.
  auto header = node.rpc("get_last_block_header")["block_header"];
  wallet.rpc("refresh");
  auto balance = wallet.rpc("get_balance", {{"account_index", 0}});
  EXPECT_EQ(balance["balance"].get<uint64_t>(), header["reward"].get<uint64_t>());
}

TEST(MoneroPoolIt, RejectionsAMinerCanMeet) {
  Monerod node({.fixed_difficulty = 1000000});
  PoolUnderTest p(node, kMoneroTestAddress);
  ASSERT_TRUE(eventually([&] { return p.ready.load(); }, std::chrono::seconds(30))) << p.last_status();

  Miner m(p.cfg.address.port);
  Hash256 h = m.hash(7);
  // The pool recomputes the hash: a made-up result is refused whatever its value.
  Hash256 fake = m.hash(8);
  fake[0] ^= 1;
  EXPECT_EQ(Miner::message(m.submit(8, fake)), "Invalid result");
  EXPECT_TRUE(m.submit(7, h)["error"].is_null());
  EXPECT_EQ(Miner::message(m.submit(7, h)), "Duplicate share");

  // A miner asking for a high fixed difficulty: a random nonce is low difficulty.
  Miner hard(p.cfg.address.port, std::string(kMoneroTestAddress) + "+500000");
  // 8 target digits: the difficulty the miner derives is within 0.1% of the asked one.
  uint64_t hard_diff = xmr::difficulty_from_stratum_target(hard.job["target"].get<std::string>());
  EXPECT_NEAR(double(hard_diff), 500000.0, 500.0);
  uint32_t n = 1;
  Hash256 hh = hard.hash(n);
  while (xmr::hash_meets_difficulty(hh, hard_diff)) hh = hard.hash(++n);
  EXPECT_EQ(Miner::message(hard.submit(n, hh)), "Low difficulty share");

  // Addresses the daemon cannot pay are refused at login.
  LineClient c(p.cfg.address.port);
  c.jsonrpc2 = true;
  auto bad = c.call("login", {{"login", std::string(kMoneroTestAddress).substr(0, 90) + "aaaaa"}, {"pass", "x"}});
  EXPECT_NE(Miner::message(bad).find("Invalid address"), std::string::npos) << bad;
  auto snap = p.pool->snapshot();
  EXPECT_EQ(snap.shares_valid, 1u);
  EXPECT_EQ(snap.shares_duplicate, 1u);
  EXPECT_GE(snap.shares_invalid, 2u);  // wrong result, low difficulty
}

TEST(MoneroPoolIt, NewBlocksFromZmqReachMiners) {
  Monerod node({.fixed_difficulty = 100, .zmq = true});
  PoolUnderTest p(node, kMoneroTestAddress, 1, false, "tcp://127.0.0.1:" + std::to_string(node.zmq_pub_port()));
  ASSERT_TRUE(eventually([&] { return p.ready.load(); }, std::chrono::seconds(30))) << p.last_status();
  Miner m(p.cfg.address.port);
  uint64_t h = m.job["height"];
  for (int i = 1; i <= 3; ++i) {
    node.rpc("generateblocks", {{"amount_of_blocks", 1}, {"wallet_address", kMoneroTestAddress}});
    ASSERT_TRUE(eventually([&] {
      m.update_job(50);
      return m.job["height"].get<uint64_t>() == h + i;
    }, std::chrono::seconds(10)));
  }
}

TEST(MoneroPoolIt, DaemonDownIsReported) {
  auto node = std::make_unique<Monerod>(MonerodOptions{.fixed_difficulty = 100});
  PoolUnderTest p(*node, kMoneroTestAddress);
  ASSERT_TRUE(eventually([&] { return p.ready.load(); }, std::chrono::seconds(30))) << p.last_status();
  {
    Miner m(p.cfg.address.port);
    EXPECT_EQ(m.job["height"], 1);
  }
  node->stop();
  EXPECT_TRUE(eventually([&] { return !p.ready.load(); }, std::chrono::seconds(10)));
  EXPECT_NE(p.last_status().find("monerod"), std::string::npos) << p.last_status();
}

}  // namespace
