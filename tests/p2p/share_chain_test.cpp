#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "p2p/p2p.h"
#include "share_miner.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::p2p;
using namespace otedama::p2p::testing;

namespace {

ChainParams test_params(uint32_t window = 20) {
  ChainParams p = ChainParams::for_network(chain::Coin::litecoin, chain::Network::regtest, "unit", 1);
  p.max_target_bits = 0x207fffff;  // trivial: the tests mine thousands of shares
  p.window = window;
  p.max_outputs = std::max<uint32_t>(window + 1, 4000);
  p.min_output = 1000;
  return p;
}

int64_t sum(const std::vector<chain::TxOut>& v) {
  int64_t s = 0;
  for (auto& o : v) s += o.value;
  return s;
}

}  // namespace

TEST(P2pWork, TargetsAndCompact) {
  // Core's GetBlockProof for the difficulty-1 target.
  EXPECT_EQ(uint64_t(work_from_target(U256::from_compact(0x1d00ffff))), 4295032833ull);
  EXPECT_EQ(uint64_t(work_from_target(U256::max())), 1u);
  EXPECT_EQ(uint64_t(work_from_target(U256::from_compact(0x207fffff))), 2u);
  for (uint32_t bits : {0x1d00ffffu, 0x207fffffu, 0x1b0404cbu, 0x1e0fffffu, 0x1f00ffffu, 0x03123456u})
    EXPECT_EQ(to_compact(U256::from_compact(bits)), bits) << std::hex << bits;
  // target_from_work inverts work_from_target within one compact step.
  for (uint32_t bits : {0x1d00ffffu, 0x1e0fffffu, 0x1c123456u}) {
    Work w = work_from_target(U256::from_compact(bits));
    U256 t = target_from_work(w);
    EXPECT_EQ(to_compact(t), bits) << std::hex << bits;
  }
}

TEST(P2pPayouts, HandWorkedSplit) {
  ChainParams p = test_params();
  Bytes a = script_for(1), b = script_for(2), c = script_for(3);
  ShareInfo info;
  info.payout_script = c;
  std::vector<WindowShare> w = {{&a, 1}, {&b, 1}, {&c, 2}};
  auto out = window_payouts(w, 1000'000, info, p);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(sum(out), 1000'000);
  std::map<Bytes, int64_t> by;
  for (auto& o : out) by[o.script] = o.value;
  EXPECT_EQ(by[a], 250'000);
  EXPECT_EQ(by[b], 250'000);
  EXPECT_EQ(by[c], 500'000);
  // Outputs sorted by script bytes.
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end(), [](auto& x, auto& y) { return x.script < y.script; }));

  // Rounding: 1000 atoms / 3 equal weights: 333 each, the remainder 1 to the top payee (ties:
  // smallest script).
  std::vector<WindowShare> eq = {{&a, 5}, {&b, 5}, {&c, 5}};
  p.min_output = 0;
  out = window_payouts(eq, 1000, info, p);
  std::map<Bytes, int64_t> r;
  for (auto& o : out) r[o.script] = o.value;
  Bytes smallest = std::min({a, b, c});
  EXPECT_EQ(r[smallest], 334);
  EXPECT_EQ(sum(out), 1000);

  // Dust: b's 1 % would be 100 atoms < 1000: dropped, a and c split everything 50/49 -> by work.
  p.min_output = 1000;
  std::vector<WindowShare> dust = {{&a, 50}, {&b, 1}, {&c, 49}};
  out = window_payouts(dust, 10'000, info, p);
  ASSERT_EQ(out.size(), 2u);
  by.clear();
  for (auto& o : out) by[o.script] = o.value;
  EXPECT_EQ(by.count(b), 0u);
  EXPECT_EQ(by[a] + by[c], 10'000);
  EXPECT_EQ(by[c], 10'000 * 49 / 99);

  // Everyone below the threshold: the finder takes all.
  out = window_payouts(dust, 500, info, p);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].script, c);
  EXPECT_EQ(out[0].value, 500);

  // Fee first, to the fee script, floor(reward * ppm / 1e6).
  p.fee_ppm = 10'000;
  info.fee_script = script_for(99);
  out = window_payouts(w, 1'000'001, info, p);
  EXPECT_EQ(out[0].script, info.fee_script);
  EXPECT_EQ(out[0].value, 10'000);
  EXPECT_EQ(sum(out), 1'000'001);
}

TEST(P2pShare, SerializationRoundTripAndGarbage) {
  ShareChain c(test_params());
  Share s = mine_share(c, nullptr, script_for(1), 1700000000);
  s.witness_commitment = from_hex("6a24aa21a9ed" + std::string(64, '1'));
  s.txids = {Hash256{1}};
  s.transactions = {Bytes{1, 2, 3}};
  s.mweb = Bytes{9, 9};
  Bytes b = serialize_share(s);
  Share back = parse_share(b);
  EXPECT_EQ(serialize_share(back), b);
  EXPECT_EQ(back.hash(), s.hash());
  for (size_t cut : {size_t(0), size_t(10), b.size() / 2, b.size() - 1})
    EXPECT_THROW(parse_share(ByteSpan(b).first(cut)), std::invalid_argument) << cut;
  Bytes extra = b;
  extra.push_back(0);
  EXPECT_THROW(parse_share(extra), std::invalid_argument);
  // A huge declared length never allocates: it is refused against the input's size.
  Bytes huge = serialize_share_info(s.info);
  huge.resize(huge.size() - 2);  // drop fee script length + ... then claim a 4 GB script
  huge.push_back(0xfe);
  for (int i = 0; i < 4; ++i) huge.push_back(0xff);
  EXPECT_THROW(parse_share(huge), std::invalid_argument);
}

TEST(P2pChain, BuildsVerifiesAndPicksTheHeaviestTip) {
  ShareChain c(test_params());
  uint32_t t = 1700000000;
  const ShareEntry* tip = nullptr;
  for (int i = 0; i < 40; ++i) {
    Share s = mine_share(c, tip, script_for(i % 3), t + i);
    auto r = c.add(s, t + i);
    ASSERT_EQ(r.status, AddStatus::accepted) << i << " " << r.reason;
    EXPECT_TRUE(r.new_tip);
    tip = r.entry;
  }
  EXPECT_EQ(c.tip()->share.info.height, 39u);
  auto w = c.window(c.tip());
  EXPECT_EQ(w.size(), 20u);
  EXPECT_EQ(w.back(), c.tip());

  // Duplicate.
  EXPECT_EQ(c.add(c.tip()->share, t + 40).status, AddStatus::duplicate);

  // A coinbase that pays anyone else than the window: invalid.
  Share thief = mine_share(c, tip, script_for(7), t + 41, {}, true, [](std::vector<chain::TxOut>& o) {
    o[0].value -= 1000;
    o.push_back({1000, script_for(666)});
  });
  auto r = c.add(thief, t + 41);
  EXPECT_EQ(r.status, AddStatus::invalid);
  EXPECT_NE(r.reason.find("merkle root"), std::string::npos) << r.reason;

  // Bad PoW.
  Share weak = mine_share(c, tip, script_for(7), t + 42, {}, false);
  r = c.add(weak, t + 42);
  EXPECT_EQ(r.status, AddStatus::invalid);
  EXPECT_NE(r.reason.find("proof of work"), std::string::npos) << r.reason;

  // Wrong target.
  Share easy = mine_share(c, tip, script_for(7), t + 43);
  easy.info.bits = 0x207ffffe;
  EXPECT_EQ(c.add(easy, t + 43).status, AddStatus::invalid);

  // Future time.
  Share future = mine_share(c, tip, script_for(7), t + 1000);
  r = c.add(future, t + 43);
  EXPECT_EQ(r.status, AddStatus::invalid);
  EXPECT_NE(r.reason.find("future"), std::string::npos);

  // A fork from height 30 that outgrows the main chain takes over.
  const ShareEntry* f = c.window(c.tip())[9];  // window = heights 20..39
  ASSERT_EQ(f->share.info.height, 29u);
  const ShareEntry* ftip = f;
  for (int i = 0; i < 12; ++i) {
    auto rr = c.add(mine_share(c, ftip, script_for(5), t + 50 + i), t + 60);
    ASSERT_EQ(rr.status, AddStatus::accepted) << rr.reason;
    ftip = rr.entry;
  }
  EXPECT_EQ(c.tip(), ftip);
  EXPECT_EQ(c.tip()->share.info.height, 41u);
}

TEST(P2pChain, OrphansAreAdoptedAndLocatorsSync) {
  ShareChain a(test_params());
  uint32_t t = 1700000000;
  const ShareEntry* tip = nullptr;
  std::vector<Share> shares;
  for (int i = 0; i < 30; ++i) {
    Share s = mine_share(a, tip, script_for(i % 4), t + i);
    tip = a.add(s, t + i).entry;
    shares.push_back(s);
  }
  // B receives them out of order: children first are held as orphans.
  ShareChain b(test_params());
  for (int i = 29; i >= 10; --i) EXPECT_EQ(b.add(shares[i], t + 30).status, AddStatus::orphan);
  EXPECT_EQ(b.orphan_count(), 20u);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(b.add(shares[i], t + 30).status, AddStatus::accepted);
  EXPECT_EQ(b.take_adopted().size(), 20u);
  EXPECT_EQ(b.tip()->hash, a.tip()->hash);
  EXPECT_EQ(b.orphan_count(), 0u);

  // C has the first 12: the locator sync hands over exactly the rest.
  ShareChain c(test_params());
  for (int i = 0; i < 12; ++i) c.add(shares[i], t + 30);
  auto missing = a.after_locator(c.locator(), 1000);
  ASSERT_EQ(missing.size(), 18u);
  EXPECT_EQ(missing.front()->share.info.height, 12u);
  for (auto* e : missing) ASSERT_EQ(c.add(e->share, t + 30).status, AddStatus::accepted);
  EXPECT_EQ(c.tip()->hash, a.tip()->hash);
  // An empty locator starts from the first share; max bounds the batch.
  EXPECT_EQ(a.after_locator({}, 5).front()->share.info.height, 0u);
  EXPECT_EQ(a.after_locator({}, 5).size(), 5u);
}

TEST(P2pChain, RetargetFollowsTheShareRate) {
  ChainParams p = test_params(50);
  p.max_target_bits = 0x2100ffff;  // very easy floor so that the retarget can move both ways
  p.share_time = 10;
  ShareChain c(p);
  uint32_t t = 1700000000;
  const ShareEntry* tip = nullptr;
  // Shares every second while the chain wants one per 10 s: the difficulty climbs.
  for (int i = 0; i < 40; ++i) tip = c.add(mine_share(c, tip, script_for(1), t + i), t + i).entry;
  Work w1 = tip->work;
  EXPECT_GT(w1, c.find(c.window(tip).front()->hash)->work);
  // Then one per 100 s: it falls back.
  for (int i = 0; i < 40; ++i) tip = c.add(mine_share(c, tip, script_for(1), t + 40 + 100 * i), t + 40 + 100 * i).entry;
  EXPECT_LT(tip->work, w1);
}

TEST(P2pChain, WindowOfThousandsOfPayees) {
  // 2,100 shares by 2,100 distinct payout scripts: the next share's coinbase has one output
  // each, all above the dust threshold, and its size stays far below a block's.
  ChainParams p = test_params(2100);
  p.max_outputs = 4000;
  ShareChain c(p);
  uint32_t t = 1700000000;
  const ShareEntry* tip = nullptr;
  FakeTemplate tpl;
  tpl.reward = 1'250'000'000;
  for (uint32_t i = 0; i < 2100; ++i) tip = c.add(mine_share(c, tip, script_for(i + 10), t + i, tpl), t + i).entry;
  ShareInfo next;
  next.payout_script = script_for(10);
  next.bits = c.next_bits(tip);
  auto out = c.expected_payouts(tip, next, tpl.reward);
  EXPECT_EQ(out.size(), 2100u);  // script_for(10)'s oldest share left the window, its new one entered
  EXPECT_EQ(sum(out), tpl.reward);
  for (auto& o : out) EXPECT_GE(o.value, p.min_output);
  auto opts = share_coinbase_options(next, out, c.network_id(), 4, 8);
  auto cb = chain::build_coinbase(tpl.height, tpl.reward, std::nullopt, opts);
  EXPECT_LT(cb.coinb2.size(), 100'000u);
}

TEST(P2pFile, PersistsAndCutsATornTail) {
  test::TempDir dir;
  std::string path = (dir.path() / "shares.dat").string();
  ShareChain c(test_params());
  std::vector<Share> shares;
  const ShareEntry* tip = nullptr;
  for (int i = 0; i < 5; ++i) {
    Share s = mine_share(c, tip, script_for(i), 1700000000 + i);
    tip = c.add(s, 1700000000 + i).entry;
    shares.push_back(s);
  }
  {
    ShareFile f(path);
    EXPECT_TRUE(f.load().empty());
    for (int i = 0; i < 5; ++i) f.append(shares[i], i == 3);
  }
  auto full = std::filesystem::file_size(path);
  {
    std::ofstream o(path, std::ios::app | std::ios::binary);
    o << "\x40\x00\x00\x00\x00garbage";  // a torn record
  }
  ShareFile f(path);
  auto back = f.load();
  ASSERT_EQ(back.size(), 5u);
  EXPECT_TRUE(back[3].second);
  EXPECT_FALSE(back[2].second);
  EXPECT_EQ(serialize_share(back[4].first), serialize_share(shares[4]));
  EXPECT_EQ(std::filesystem::file_size(path), full);
  ShareChain d(test_params());
  for (auto& [s, block] : back) EXPECT_EQ(d.add(s, 1700000010, block).status, AddStatus::accepted);
  EXPECT_EQ(d.tip()->hash, c.tip()->hash);
  EXPECT_TRUE(d.window(d.tip())[3]->block);
}
