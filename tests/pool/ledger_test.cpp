// The pools' ledger on a real SQLite store: shares recorded, PPLNS / PPLNT / SOLO / PPS credits
// checked against the pure accounting functions over the stored shares, windows rebuilt after a
// restart, and block status following a daemon's answers (maturity, orphans, unknown blocks).
#include "pool/ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "chain/chain.h"
#include "pool/block_status.h"
#include "pool/payout.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::pool;

namespace {

std::shared_ptr<store::Store> open_store(const test::TempDir& dir) {
  store::Options o;
  o.path = (dir.path() / "otedama.db").string();
  return std::shared_ptr<store::Store>(store::open(o));
}

config::PoolConfig pool_config(const std::string& coin, config::RewardSystem system, double fee = 1.0) {
  config::PoolConfig p;
  p.name = coin;
  p.coin = coin;
  p.algorithm = coin == "litecoin" ? "scrypt" : coin == "monero" ? "randomx" : "sha256d";
  p.reward_system = system;
  p.fee_percentage = fee;
  return p;
}

// The stored shares as the accounting functions take them.
std::vector<accounting::Share> stored_shares(store::Store& s, const std::string& coin, const std::string& algo) {
  std::vector<accounting::Share> out;
  for (const auto& st : s.shares(coin, 0, 1'000'000))
    out.push_back({st.share.account, share_work(algo, st.share.difficulty), st.share.time_ms});
  return out;
}

std::map<std::string, int64_t> pending_of(store::Store& s, const std::string& coin) {
  std::map<std::string, int64_t> out;
  for (const auto& b : s.balances(coin))
    if (b.pending) out[b.account] = b.pending;
  return out;
}

}  // namespace

TEST(Ledger, SharesReachTheStoreWithAccountAndWorker) {
  test::TempDir dir;
  auto db = open_store(dir);
  Ledger ledger(db, {pool_config("litecoin", config::RewardSystem::PPLNS)});
  ledger.share("litecoin", "rltc1qminer.rig1", 0.5, 7, false);
  ledger.share("litecoin", "rltc1qother", 2.0, 7, true);
  ledger.share("dogecoin", "nobody", 1.0, 1, false);  // no pool accounts this coin: ignored
  ledger.share("litecoin", "", 1.0, 1, false);        // refused by the store, logged, not thrown
  ASSERT_TRUE(db->flush(std::chrono::seconds(5)));
  auto shares = db->shares("litecoin", 0, 10);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares[0].share.account, "rltc1qminer");
  EXPECT_EQ(shares[0].share.worker, "rig1");
  EXPECT_DOUBLE_EQ(shares[0].share.difficulty, 0.5);
  EXPECT_EQ(shares[0].share.height, 7);
  EXPECT_EQ(shares[1].share.account, "rltc1qother");
  EXPECT_TRUE(shares[1].share.block_candidate);
  EXPECT_EQ(db->share_count("dogecoin"), 0);
}

TEST(Ledger, ScryptWorkDividesOutTheStratumFactor) {
  EXPECT_EQ(share_work("scrypt", 65536.0), accounting::work_from_difficulty(1.0));
  EXPECT_EQ(share_work("sha256d", 3.0), accounting::work_from_difficulty(3.0));
  EXPECT_THROW(share_work("scrypt", 0), std::invalid_argument);
}

TEST(Ledger, PplnsBlockCreditsTheWindowAsThePureFunctionDoes) {
  test::TempDir dir;
  auto db = open_store(dir);
  auto cfg = pool_config("litecoin", config::RewardSystem::PPLNS, 2.0);
  cfg.reward_window = {std::nullopt, 0.5};  // half the network difficulty's work
  Ledger ledger(db, {cfg});
  const double netdiff = 65536.0 * 4;  // Stratum units: network difficulty 4
  ledger.set_network("litecoin", netdiff, 2'500'000'000, 1234);
  // 3 accounts, uneven difficulties; more work than the window holds, so old shares drop out.
  const char* who[] = {"alice", "bob", "carol"};
  for (int i = 0; i < 60; ++i) ledger.share("litecoin", std::string(who[i % 3]) + ".w", 65536.0 * (0.01 + 0.003 * i), 1, false);
  const int64_t reward = 2'500'001'234;
  ledger.block({"litecoin", 100, std::string(64, 'a'), reward, "bob.w", pool::unix_ms()});
  ledger.flush();
  ASSERT_TRUE(db->flush(std::chrono::seconds(5)));

  accounting::WindowSpec spec;
  spec.work_target = accounting::pplns_work_target(0.5, 4.0);
  auto expected = accounting::pplns(stored_shares(*db, "litecoin", "scrypt"), spec, reward,
                                    accounting::fee_from_percentage(2.0));
  std::map<std::string, int64_t> want;
  for (const auto& c : expected.credits) want[c.account] = c.amount;
  EXPECT_EQ(pending_of(*db, "litecoin"), want);
  EXPECT_EQ(want.size(), 3u);
  int64_t sum = 0;
  for (auto& [a, v] : want) sum += v;
  EXPECT_LE(sum, reward - accounting::fee_of(reward, accounting::fee_from_percentage(2.0)));
  auto block = db->block("litecoin", std::string(64, 'a'));
  ASSERT_TRUE(block);
  EXPECT_TRUE(block->credited);
  EXPECT_EQ(block->finder, "bob");
  EXPECT_EQ(block->reward, reward);
  // The window really was clipped: the oldest shares' work is more than the target.
  accounting::Work all = 0;
  for (const auto& s : stored_shares(*db, "litecoin", "scrypt")) all += s.work;
  EXPECT_GT(all, spec.work_target);

  // A second flush writes nothing twice.
  ledger.flush();
  EXPECT_EQ(pending_of(*db, "litecoin"), want);
}

TEST(Ledger, PplntWindowIsRebuiltFromStoredSharesAfterARestart) {
  test::TempDir dir;
  auto cfg = pool_config("bitcoin", config::RewardSystem::PPLNS, 1.0);
  cfg.reward_window = {std::chrono::hours(2), 0};
  std::vector<accounting::Weight> before;
  {
    auto db = open_store(dir);
    // One share too old for the window, written straight to the store.
    store::Share old{"bitcoin", "dave", "x", 50.0, pool::unix_ms() - 3 * 3600 * 1000, 1, false};
    db->record_share(old);
    Ledger ledger(db, {cfg});
    for (int i = 0; i < 10; ++i) ledger.share("bitcoin", i % 2 ? "erin" : "frank.rig", 1.0 + i, 2, false);
    ASSERT_TRUE(db->flush(std::chrono::seconds(5)));
    before = ledger.weights("bitcoin");
    db->close();
  }
  auto db = open_store(dir);
  Ledger again(db, {cfg});
  auto after = again.weights("bitcoin");
  ASSERT_EQ(after.size(), 2u);  // dave's share is outside the 2 h window
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(before[i].account, after[i].account);
    EXPECT_TRUE(before[i].work == after[i].work);
  }
}

// Four threads submit shares while a fifth finds blocks: every block's credits equal pplns() over
// exactly the stored shares up to the block's time, and nothing is written before its window's
// shares are durable.
TEST(Ledger, ConcurrentBlocksAreRecomputableFromTheStoredShares) {
  test::TempDir dir;
  auto db = open_store(dir);
  auto cfg = pool_config("litecoin", config::RewardSystem::PPLNS, 1.0);
  cfg.reward_window = {std::chrono::hours(2), 0};
  Ledger ledger(db, {cfg});
  std::atomic<bool> stop{false};
  std::vector<std::thread> miners;
  for (int t = 0; t < 4; ++t)
    miners.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        ledger.share("litecoin", "acct" + std::to_string((t + i) % 7) + ".w", 65536.0 * (1 + (i % 5)), 9, false);
        if (i % 8 == 7) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  for (int b = 0; b < 40; ++b) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    char hash[65];
    std::snprintf(hash, sizeof hash, "%064d", b);
    ledger.block({"litecoin", 9, hash, 1'000'000'007, "acct0.w", pool::unix_ms()});
    if (b % 10 == 0) ledger.flush();  // some blocks written while shares still flow
  }
  stop = true;
  for (auto& t : miners) t.join();
  ASSERT_TRUE(db->flush(std::chrono::seconds(30)));
  ledger.flush();

  auto shares = stored_shares(*db, "litecoin", "scrypt");
  auto blocks = db->blocks("litecoin", std::nullopt, 100);
  ASSERT_EQ(blocks.size(), 40u);
  for (size_t i = 1; i < shares.size(); ++i) ASSERT_GE(shares[i].time_ms, shares[i - 1].time_ms) << i;
  accounting::WindowSpec spec;
  spec.duration = std::chrono::hours(2);
  std::map<std::string, int64_t> expected;
  for (const auto& b : blocks) {
    EXPECT_TRUE(b.credited);
    size_t end = 0;
    while (end < shares.size() && shares[end].time_ms <= b.time_ms) ++end;
    auto payout = accounting::pplns(std::span(shares.data(), end), spec, b.reward, accounting::fee_from_percentage(1.0),
                                    b.time_ms);
    std::vector<store::Credit> want;
    for (const auto& c : payout.credits)
      if (c.amount > 0) want.push_back({c.account, c.amount}), expected[c.account] += c.amount;
    auto got = ledger.credits_of("litecoin", b.hash);
    ASSERT_TRUE(got) << b.hash;
    ASSERT_EQ(got->size(), want.size()) << b.hash;
    for (size_t k = 0; k < want.size(); ++k) {
      EXPECT_EQ((*got)[k].account, want[k].account);
      EXPECT_EQ((*got)[k].amount, want[k].amount) << b.hash << " " << want[k].account;
    }
  }
  EXPECT_EQ(pending_of(*db, "litecoin"), expected);
}

TEST(Ledger, SoloPaysTheFinderAndPpsPaysEachShare) {
  test::TempDir dir;
  auto db = open_store(dir);
  Ledger ledger(db, {pool_config("bitcoin", config::RewardSystem::SOLO, 1.0),
                     pool_config("litecoin", config::RewardSystem::PPS, 1.0)});
  ledger.share("bitcoin", "gina.a", 10, 5, false);
  ledger.share("bitcoin", "hank.b", 10, 5, true);
  ledger.block({"bitcoin", 5, std::string(64, 'b'), 5'000'000'000, "hank.b", pool::unix_ms()});

  ledger.share("litecoin", "ivy", 65536.0, 9, false);  // before any template: worth nothing known yet
  ledger.set_network("litecoin", 65536.0 * 1000, 1'000'000'000, 50'000);
  for (int i = 0; i < 5; ++i) ledger.share("litecoin", "ivy.x", 65536.0 * 2, 9, false);
  ledger.share("litecoin", "jack", 65536.0 * 10, 9, false);
  ledger.flush();

  EXPECT_EQ(pending_of(*db, "bitcoin"), (std::map<std::string, int64_t>{{"hank", 5'000'000'000 - 50'000'000}}));
  auto fee = accounting::fee_from_percentage(1.0);
  auto nw = share_work("scrypt", 65536.0 * 1000);
  auto one = accounting::pps(1'000'000'000, share_work("scrypt", 65536.0 * 2), nw, fee).net();
  auto ten = accounting::pps(1'000'000'000, share_work("scrypt", 65536.0 * 10), nw, fee).net();
  EXPECT_EQ(one, 1'980'000);
  EXPECT_EQ(db->balance("litecoin", "ivy").payable, 5 * one);
  EXPECT_EQ(db->balance("litecoin", "jack").payable, ten);
  EXPECT_EQ(db->balance("litecoin", "ivy").pending, 0);
}

TEST(BlockStatus, MaturityConfirmsOrphansReverseUnknownWaitsForItsGrace) {
  test::TempDir dir;
  auto db = open_store(dir);
  Ledger ledger(db, {pool_config("bitcoin", config::RewardSystem::SOLO, 0)});
  int64_t now = pool::unix_ms();
  auto hash = [](char c) { return std::string(64, c); };
  for (char c : {'1', '2', '3', '4'}) ledger.block({"bitcoin", 10, hash(c), 1000, "kim", now - 1000});
  ledger.block({"bitcoin", 10, hash('5'), 1000, "kim", now - 600'000});
  ledger.flush();
  EXPECT_EQ(db->balance("bitcoin", "kim").pending, 5000);

  std::map<std::string, ChainBlockState> chain = {
      {hash('1'), {true, true, 100}},  // matured
      {hash('2'), {true, true, 99}},   // one short
      {hash('3'), {true, false, 0}},   // left the main chain
      // '4': unknown but recent; '5': unknown and old
  };
  BlockLookup lookup = [&](const std::string& h) {
    auto it = chain.find(h);
    return it == chain.end() ? ChainBlockState{} : it->second;
  };
  auto pass = update_block_status(*db, "bitcoin", lookup, now, 120'000);
  EXPECT_EQ(pass.checked, 5);
  EXPECT_EQ(pass.confirmed, 1);
  EXPECT_EQ(pass.orphaned, 2);
  EXPECT_EQ(db->block("bitcoin", hash('1'))->status, store::BlockStatus::confirmed);
  EXPECT_EQ(db->block("bitcoin", hash('2'))->status, store::BlockStatus::pending);
  EXPECT_EQ(db->block("bitcoin", hash('2'))->confirmations, 99);
  EXPECT_EQ(db->block("bitcoin", hash('3'))->status, store::BlockStatus::orphaned);
  EXPECT_EQ(db->block("bitcoin", hash('4'))->status, store::BlockStatus::pending);
  EXPECT_EQ(db->block("bitcoin", hash('5'))->status, store::BlockStatus::orphaned);
  auto b = db->balance("bitcoin", "kim");
  EXPECT_EQ(b.payable, 1000);
  EXPECT_EQ(b.pending, 2000);

  // A daemon that cannot answer changes nothing.
  BlockLookup down = [](const std::string&) -> ChainBlockState { throw chain::TransportError("connection refused"); };
  auto p2 = update_block_status(*db, "bitcoin", down, now);
  EXPECT_FALSE(p2.error.empty());
  EXPECT_EQ(db->balance("bitcoin", "kim").pending, 2000);
}

TEST(Payout, CoinAmountsAreExactDecimals) {
  EXPECT_EQ(format_coins(0), "0.00000000");
  EXPECT_EQ(format_coins(1), "0.00000001");
  EXPECT_EQ(format_coins(123'456'789'012), "1234.56789012");
  EXPECT_THROW(format_coins(-1), std::invalid_argument);
  EXPECT_EQ(parse_coins(0.0000141), 1410);
  EXPECT_EQ(parse_coins(12.34567891), 1'234'567'891);
}
