// Heavy (about 8-15 minutes here: ~2,100 regtest blocks): the Monero pool across a RandomX
// epoch change on a real monerod. Regtest moves the key every 2048 blocks with a 64-block lag,
// so templates up to height 2112 hash with the genesis key and from 2113 with block 2048's id.
// The pool prepares the announced next key ahead; old-key jobs are checked with the old key;
// jobs switch keys with the new block; old jobs are stale afterwards.
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

Hash256 hash_of(const json& job, uint32_t nonce) {
  Bytes blob = from_hex(job["blob"].get<std::string>());
  xmr::set_nonce(blob, 39, nonce);
  Hash256 seed{};
  Bytes s = from_hex(job["seed_hash"].get<std::string>());
  std::copy(s.begin(), s.end(), seed.begin());
  return crypto::randomx_hash(seed, blob);
}

json submit(LineClient& c, const std::string& id, const json& job, uint32_t nonce, const Hash256& result) {
  Bytes n(4);
  for (int i = 0; i < 4; ++i) n[i] = uint8_t(nonce >> (8 * i));
  return c.call("submit", {{"id", id}, {"job_id", job["job_id"]}, {"nonce", to_hex(n)}, {"result", to_hex(result)}});
}

TEST(MoneroSeedHeavy, JobsSwitchKeysAcrossAnEpoch) {
  Monerod node({.fixed_difficulty = 1});
  // 2112 blocks (heights 0..2111): the next template, height 2112, is the last with the old key.
  // The project's client (no 2-minute limit per call as the harness's): ~0.2-0.5 s a block.
  xmr::RpcClient rpc({.url = node.rpc_url(), .timeout = std::chrono::minutes(30)});
  rpc.generate_blocks(2111, kMoneroTestAddress);
  ASSERT_EQ(node.height(), 2112u);

  config::PoolConfig cfg;
  cfg.name = "xmr";
  cfg.coin = "monero";
  cfg.algorithm = "randomx";
  cfg.address = {"127.0.0.1", free_port()};
  cfg.payout_address = kMoneroTestAddress;
  cfg.daemon.url = node.rpc_url();
  cfg.difficulty.initial = 1;
  cfg.difficulty.min = 1;
  cfg.difficulty.target_share_time = std::chrono::seconds(60);
  cfg.randomx_mode = "light";
  boost::asio::io_context io;
  std::atomic<bool> ready{false};
  pool::MoneroPool pool(io, cfg, [&](bool ok, const std::string&) { ready = ok; });
  pool.start();
  std::thread loop([&] {
    auto guard = boost::asio::make_work_guard(io);
    io.run();
  });
  ASSERT_TRUE(eventually([&] { return ready.load(); }, std::chrono::seconds(30)));

  LineClient c(cfg.address.port);
  c.jsonrpc2 = true;
  json login = c.call("login", {{"login", kMoneroTestAddress}, {"pass", "x"}});
  ASSERT_TRUE(login["error"].is_null()) << login;
  std::string id = login["result"]["id"];
  json old_job = login["result"]["job"];
  ASSERT_EQ(old_job["height"], 2112);
  auto genesis_key = old_job["seed_hash"].get<std::string>();
  ASSERT_TRUE(old_job.contains("next_seed_hash")) << old_job;  // announced ahead of the switch
  std::string next_key = old_job["next_seed_hash"];
  EXPECT_NE(next_key, genesis_key);
  EXPECT_EQ(next_key, node.rpc("get_block_header_by_height", {{"height", 2048}})["block_header"]["hash"]);

  // The pool prepares the announced key ahead; the old-key job's shares are still checked
  // with the old key meanwhile.
  EXPECT_TRUE(eventually([&] { return crypto::RandomXContexts::shared().find(from_hex(next_key), crypto::RandomXMode::light) != nullptr; },
                         std::chrono::seconds(30)));
  Hash256 old_share = hash_of(old_job, 11);
  json first = submit(c, id, old_job, 11, old_share);
  EXPECT_TRUE(first["error"].is_null()) << first;

  // A block from outside: the pool pushes a clean job with the new key.
  node.rpc("generateblocks", {{"amount_of_blocks", 1}, {"wallet_address", kMoneroTestAddress}});
  json new_job;
  ASSERT_TRUE(eventually([&] {
    while (auto j = c.note("job", 50)) new_job = (*j)["params"];
    return new_job.is_object() && new_job["height"] == 2113;
  }, std::chrono::seconds(10)));
  EXPECT_EQ(new_job["seed_hash"], next_key);

  // The new job's shares are checked with the new key...
  Hash256 h = hash_of(new_job, 5);
  EXPECT_NE(h, hash_of(json{{"blob", new_job["blob"]}, {"seed_hash", genesis_key}}, 5));
  json r = submit(c, id, new_job, 5, h);
  EXPECT_TRUE(r["error"].is_null()) << r;
  // ...and the replaced old-key job is stale.
  json stale = submit(c, id, old_job, 12, hash_of(old_job, 12));
  EXPECT_EQ(stale["error"]["message"], "Stale job");
  EXPECT_EQ(pool.snapshot().shares_valid, 2u);

  // Both keys are held side by side (shares in flight for the old one still check).
  auto& contexts = crypto::RandomXContexts::shared();
  EXPECT_TRUE(contexts.find(from_hex(genesis_key), crypto::RandomXMode::light));
  EXPECT_TRUE(contexts.find(from_hex(next_key), crypto::RandomXMode::light));

  pool.stop();
  io.stop();
  loop.join();
}

}  // namespace
