// Block status against a real litecoind regtest chain: a found block's credits become payable
// after 100 confirmations (generatetoaddress), and a block invalidated with invalidateblock is
// orphaned with its credits reversed; a daemon that is down changes nothing.
#include <gtest/gtest.h>

#include "chain/chain.h"
#include "pool/block_status.h"
#include "pool/ledger.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::pool;

TEST(BlockStatusLitecoind, MaturityConfirmsAndInvalidateblockOrphans) {
  test::LitecoindOptions lo;
  lo.mweb = false;
  test::Litecoind ltc(lo);
  ltc.cli({"createwallet", "pool"});
  std::string addr = ltc.cli({"getnewaddress", "", "bech32"});
  test::TempDir dir;
  store::Options so;
  so.path = (dir.path() / "otedama.db").string();
  std::shared_ptr<store::Store> db(store::open(so));
  config::PoolConfig p;
  p.name = p.coin = "litecoin";
  p.algorithm = "scrypt";
  p.reward_system = config::RewardSystem::PPLNS;
  p.fee_percentage = 1.0;
  Ledger ledger(db, {p});
  for (int i = 0; i < 4; ++i) ledger.share("litecoin", i % 2 ? "minerA.x" : "minerB.y", 65536.0 * (i + 1), 1, false);

  chain::RpcOptions ro;
  ro.url = ltc.rpc_url();
  ro.cookie_file = ltc.cookie_path();
  auto lookup = bitcoin_block_lookup(std::make_shared<chain::RpcClient>(ro));

  // Two "found" blocks: the chain's blocks 1 and 2, accounted as if the pool had found them.
  ltc.cli({"generatetoaddress", "2", addr});
  std::string h1 = ltc.cli({"getblockhash", "1"}), h2 = ltc.cli({"getblockhash", "2"});
  ledger.block({"litecoin", 1, h1, 5'000'000'000, "minerA.x", unix_ms()});
  ledger.block({"litecoin", 2, h2, 5'000'000'000, "minerB.y", unix_ms()});
  ledger.flush();
  auto credits1 = ledger.credits_of("litecoin", h1);
  ASSERT_TRUE(credits1);
  int64_t each_block = 0;
  for (const auto& c : *credits1) each_block += c.amount;
  EXPECT_EQ(each_block, 5'000'000'000 - 50'000'000);  // 99 % split; the work ratio 6:4 divides exactly
  auto pending = [&] { return db->balance("litecoin", "minerA").pending + db->balance("litecoin", "minerB").pending; };
  auto payable = [&] { return db->balance("litecoin", "minerA").payable + db->balance("litecoin", "minerB").payable; };
  EXPECT_EQ(pending(), 2 * each_block);

  auto pass = update_block_status(*db, "litecoin", lookup, unix_ms());
  EXPECT_EQ(pass.checked, 2);
  EXPECT_EQ(pass.confirmed, 0);
  EXPECT_EQ(db->block("litecoin", h1)->confirmations, 2);

  // Block 2 leaves the main chain (and with it everything after it).
  ltc.cli({"invalidateblock", h2});
  addr = ltc.cli({"getnewaddress", "", "legacy"});  // new blocks must differ from the invalidated one
  pass = update_block_status(*db, "litecoin", lookup, unix_ms());
  EXPECT_EQ(pass.orphaned, 1);
  EXPECT_EQ(db->block("litecoin", h2)->status, store::BlockStatus::orphaned);
  EXPECT_EQ(pending(), each_block);

  // 98 more blocks on top of block 1: 99 confirmations, still pending; one more matures it.
  ltc.cli({"generatetoaddress", "98", addr});
  update_block_status(*db, "litecoin", lookup, unix_ms());
  EXPECT_EQ(db->block("litecoin", h1)->status, store::BlockStatus::pending);
  EXPECT_EQ(db->block("litecoin", h1)->confirmations, 99);
  ltc.cli({"generatetoaddress", "1", addr});
  pass = update_block_status(*db, "litecoin", lookup, unix_ms());
  EXPECT_EQ(pass.confirmed, 1);
  EXPECT_EQ(db->block("litecoin", h1)->status, store::BlockStatus::confirmed);
  EXPECT_EQ(payable(), each_block);
  EXPECT_EQ(pending(), 0);

  // A block recorded while the daemon is down stays pending.
  ledger.block({"litecoin", 200, std::string(64, 'c'), 1000, "minerA.x", unix_ms() - 3'600'000});
  ledger.flush();
  ltc.stop_pool_node();
  pass = update_block_status(*db, "litecoin", lookup, unix_ms());
  EXPECT_FALSE(pass.error.empty());
  EXPECT_EQ(db->block("litecoin", std::string(64, 'c'))->status, store::BlockStatus::pending);
}
