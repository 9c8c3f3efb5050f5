// A share chain window of 2,100 distinct payout addresses still yields a valid, standard block:
// a share built on a real litecoind regtest template, whose coinbase pays all 2,100 payees from
// the chain's window (each above the dust threshold), is accepted by litecoind's submitblock and
// the block's coinbase carries every payout.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chain/chain.h"
#include "share_miner.h"
#include "support/litecoind.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::p2p;
using namespace otedama::p2p::testing;
using json = nlohmann::json;

TEST(P2pManyPayees, AWindowOfTwoThousandPayeesMakesAStandardBlock) {
  test::LitecoindOptions o;
  o.mweb = false;
  test::Litecoind ltc(o);
  ltc.cli({"createwallet", "w"});
  std::string addr = ltc.cli({"getnewaddress", "", "bech32"});
  ltc.cli({"generatetoaddress", "1", addr});

  ChainParams p = ChainParams::for_network(chain::Coin::litecoin, chain::Network::regtest, "many", 1);
  p.max_target_bits = 0x207fffff;  // trivial: 2,100 shares mined here in a second or two
  p.window = 2100;
  p.max_outputs = 4000;
  p.block_shift = 0;
  ShareChain c(p);
  const ShareEntry* tip = nullptr;
  uint32_t t = uint32_t(std::time(nullptr)) - 3000;
  FakeTemplate fake;
  fake.coin_bits = 0x1d00ffff;  // these shares are never blocks
  for (uint32_t i = 0; i < 2100; ++i) {
    auto r = c.add(mine_share(c, tip, script_for(i + 100), t + i, fake), t + 2100);
    ASSERT_EQ(r.status, AddStatus::accepted) << i << " " << r.reason;
    tip = r.entry;
  }

  chain::BlockTemplate tpl =
      chain::parse_block_template(json::parse(ltc.cli({"getblocktemplate", R"({"rules":["mweb","segwit"]})"})));
  ShareInfo info;
  info.prev_share = tip->hash;
  info.height = tip->share.info.height + 1;
  info.bits = c.next_bits(tip);
  info.time = uint32_t(std::time(nullptr));
  info.payout_script = script_for(100);  // its oldest share leaves the window, this one enters
  auto payouts = c.expected_payouts(tip, info, tpl.coinbase_value);
  ASSERT_EQ(payouts.size(), 2100u);
  int64_t total = 0;
  for (auto& o : payouts) {
    EXPECT_GE(o.value, p.min_output);
    total += o.value;
  }
  EXPECT_EQ(total, tpl.coinbase_value);

  auto job = chain::make_job(tpl, share_coinbase_options(info, payouts, c.network_id(), 4, 8));
  Bytes en1(4, 1), en2(8, 2);
  U256 target = std::min(tpl.target, U256::from_compact(info.bits));
  chain::Header80 header{};
  for (uint32_t nonce = 0;; ++nonce) {
    header = chain::job_header(job, en1, en2, job.ntime, nonce, job.version);
    if (pow_of(c, header) <= target) break;
  }
  Bytes coinbase = job.coinbase.assemble(en1, en2);
  EXPECT_LT(coinbase.size(), 100'000u);
  Bytes block = chain::serialize_block(tpl, header, coinbase);
  std::string result = ltc.cli({"submitblock", to_hex(block)});
  EXPECT_EQ(result, "") << "litecoind refused the block: " << result;

  // The share made of that block verifies on the chain, and litecoind's copy pays every payee.
  Share s;
  s.info = info;
  s.header = chain::BlockHeader::parse(header);
  s.coin_height = tpl.height;
  s.reward = tpl.coinbase_value;
  s.extranonce = en1;
  s.extranonce.insert(s.extranonce.end(), en2.begin(), en2.end());
  s.witness_commitment = tpl.witness_commitment;
  s.merkle_branch = job.merkle_branch;
  EXPECT_EQ(c.verify(s, tip, info.time + 1), std::nullopt);

  json b = json::parse(ltc.cli({"getblock", ltc.cli({"getbestblockhash"}), "2"}));
  EXPECT_EQ(b["hash"].get<std::string>(), chain::display_hex(chain::block_hash(header)));
  auto vout = b["tx"][0]["vout"];
  size_t paid = 0;
  for (auto& v : vout)
    if (v["scriptPubKey"]["type"] == "witness_v0_keyhash") ++paid;
  EXPECT_EQ(paid, 2100u);
  RecordProperty("coinbase_bytes", int(coinbase.size()));
  RecordProperty("block_weight", b["weight"].get<int>());
}
