// Reward computations: hand-worked examples (the arithmetic is in the comments), exact integer
// results, the sum never above the reward, and the incremental window equal to the pure one.
#include "accounting/accounting.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

using namespace otedama::accounting;

namespace {

Share S(const std::string& a, uint64_t work, int64_t t = 0) { return Share{a, Work(work), t}; }

void expect_conserved(const Payout& p, Amount reward) {
  EXPECT_EQ(p.fee + p.dust + p.total_credited(), reward);
  EXPECT_GE(p.dust, 0);
  for (const auto& c : p.credits) EXPECT_GT(c.amount, 0);
}

}  // namespace

TEST(Fee, FromPercentageAndRounding) {
  EXPECT_EQ(fee_from_percentage(1.0).ppm, 10'000u);
  EXPECT_EQ(fee_from_percentage(0.5).ppm, 5'000u);
  EXPECT_EQ(fee_from_percentage(0).ppm, 0u);
  EXPECT_EQ(fee_from_percentage(100).ppm, 1'000'000u);
  EXPECT_THROW(fee_from_percentage(-0.1), std::invalid_argument);
  EXPECT_THROW(fee_from_percentage(100.01), std::invalid_argument);
  EXPECT_THROW(fee_from_percentage(std::nan("")), std::invalid_argument);
  // 1% of 999 = 9.99 -> floor 9.
  EXPECT_EQ(fee_of(999, FeeRate{10'000}), 9);
  // 1.5% of 5,000,000,000 = 75,000,000 exactly.
  EXPECT_EQ(fee_of(5'000'000'000, fee_from_percentage(1.5)), 75'000'000);
  EXPECT_THROW(fee_of(-1, FeeRate{1}), std::invalid_argument);
}

TEST(Work, FromDifficulty) {
  EXPECT_EQ(work_from_difficulty(1.0), Work(1) << 32);
  EXPECT_EQ(work_from_difficulty(0.5), Work(1) << 31);
  EXPECT_EQ(work_from_difficulty(65536.0), Work(1) << 48);
  // 2^70 difficulty: beyond 64 bits of work, still exact.
  EXPECT_EQ(work_from_difficulty(std::ldexp(1.0, 70)), Work(1) << 102);
  EXPECT_EQ(work_from_difficulty(1e-12), Work(1));  // tiny but positive: at least 1
  EXPECT_DOUBLE_EQ(difficulty_from_work(work_from_difficulty(1234.5)), 1234.5);
  EXPECT_THROW(work_from_difficulty(0), std::invalid_argument);
  EXPECT_THROW(work_from_difficulty(-1), std::invalid_argument);
  EXPECT_THROW(work_from_difficulty(std::nan("")), std::invalid_argument);
  EXPECT_THROW(work_from_difficulty(INFINITY), std::invalid_argument);
}

TEST(MulDiv, ExactWide) {
  EXPECT_EQ(mul_div(990, 1, 3), 330u);
  // a * b beyond 128 bits: (2^63 - 1) * 2^100 / 2^101 = (2^63 - 1) / 2 -> floor = 2^62 - 1.
  EXPECT_EQ(mul_div((1ull << 63) - 1, Work(1) << 100, Work(1) << 101), (1ull << 62) - 1);
  // b == c gives a back, whatever the width.
  Work big = (Work(0xdeadbeefull) << 90) + 12345;
  EXPECT_EQ(mul_div(987654321987ull, big, big), 987654321987ull);
  // 10^18 * (3 * 2^80) / (7 * 2^80) = floor(3 * 10^18 / 7) = 428571428571428571.
  EXPECT_EQ(mul_div(1'000'000'000'000'000'000ull, Work(3) << 80, Work(7) << 80), 428571428571428571ull);
  EXPECT_THROW(mul_div(1, 1, 0), std::invalid_argument);
  EXPECT_THROW(mul_div(1, 2, 1), std::invalid_argument);
}

TEST(Split, HandWorked) {
  // A:1, B:2, reward 1000, fee 1%: fee = floor(1000 * 10000 / 1e6) = 10, left 990.
  // A = floor(990 * 1/3) = 330, B = floor(990 * 2/3) = 660, dust 0.
  std::vector<Weight> w{{"B", 2}, {"A", 1}};
  auto p = split(w, 1000, fee_from_percentage(1));
  EXPECT_EQ(p.fee, 10);
  ASSERT_EQ(p.credits.size(), 2u);
  EXPECT_EQ(p.credits[0], (Credit{"A", 330}));
  EXPECT_EQ(p.credits[1], (Credit{"B", 660}));
  EXPECT_EQ(p.dust, 0);
  expect_conserved(p, 1000);

  // Three equal weights, 100, no fee: 33 each (floor 33.33), dust 100 - 99 = 1.
  std::vector<Weight> w3{{"A", 5}, {"B", 5}, {"C", 5}};
  p = split(w3, 100, FeeRate{0});
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 33}, {"B", 33}, {"C", 33}}));
  EXPECT_EQ(p.dust, 1);
  expect_conserved(p, 100);

  // Duplicates merge: A:1 + A:1 vs B:2 -> 50/50 of 10 = 5 and 5.
  std::vector<Weight> dup{{"A", 1}, {"B", 2}, {"A", 1}};
  p = split(dup, 10, FeeRate{0});
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 5}, {"B", 5}}));

  // An account whose share rounds to 0 is left out and its part is dust:
  // A:1, B:999, reward 100 -> A = floor(100/1000) = 0, B = floor(99900/1000) = 99, dust 1.
  std::vector<Weight> tiny{{"A", 1}, {"B", 999}};
  p = split(tiny, 100, FeeRate{0});
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"B", 99}}));
  EXPECT_EQ(p.dust, 1);

  // No weights: everything but the fee is dust.
  p = split({}, 1000, fee_from_percentage(2));
  EXPECT_TRUE(p.credits.empty());
  EXPECT_EQ(p.fee, 20);
  EXPECT_EQ(p.dust, 980);
  EXPECT_THROW(split(w, -1, FeeRate{0}), std::invalid_argument);
}

TEST(Pplns, WindowOfWorkHandWorked) {
  // Oldest first: A:4, B:3, A:2, C:5; window 10 work units.
  // Walking back: C 5 (sum 5), A 2 (7), B 3 (10) -> full, the first A:4 is outside.
  // Weights A 2, B 3, C 5. Reward 10,000, fee 2%: fee 200, left 9,800:
  // A = 9800 * 2/10 = 1960, B = 9800 * 3/10 = 2940, C = 9800 * 5/10 = 4900.
  std::vector<Share> s{S("A", 4), S("B", 3), S("A", 2), S("C", 5)};
  WindowSpec win{std::nullopt, 10};
  auto p = pplns(s, win, 10'000, fee_from_percentage(2));
  EXPECT_EQ(p.fee, 200);
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 1960}, {"B", 2940}, {"C", 4900}}));
  EXPECT_EQ(p.dust, 0);

  // Window 12: the oldest A:4 straddles the edge and counts for 12 - 10 = 2 -> A 4, B 3, C 5.
  // Reward 1000, fee 1%: fee 10, left 990: A = floor(990*4/12) = 330, B = floor(990*3/12 = 247.5)
  // = 247, C = floor(990*5/12 = 412.5) = 412; sum 989, dust 1.
  p = pplns(s, WindowSpec{std::nullopt, 12}, 1000, fee_from_percentage(1));
  EXPECT_EQ(p.fee, 10);
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 330}, {"B", 247}, {"C", 412}}));
  EXPECT_EQ(p.dust, 1);
  expect_conserved(p, 1000);

  // Window larger than all the work (100): every share counts in full: A 6, B 3, C 5 of 14.
  // Reward 1400, no fee: A 600, B 300, C 500.
  p = pplns(s, WindowSpec{std::nullopt, 100}, 1400, FeeRate{0});
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 600}, {"B", 300}, {"C", 500}}));
}

TEST(Pplns, WindowAsMultipleOfNetworkDifficulty) {
  // Network difficulty 4, multiple 2 -> window of 8 difficulty units.
  // Shares of difficulty 1 (A), 2 (B), 4 (A), 4 (B), oldest first. Back: B 4 (4), A 4 (8): full.
  // A 4, B 4 -> 50/50 of 1000 = 500 each.
  Work t = pplns_work_target(2.0, 4.0);
  EXPECT_EQ(t, work_from_difficulty(8.0));
  std::vector<Share> s{{"A", work_from_difficulty(1), 0}, {"B", work_from_difficulty(2), 0},
                       {"A", work_from_difficulty(4), 0}, {"B", work_from_difficulty(4), 0}};
  auto p = pplns(s, WindowSpec{std::nullopt, t}, 1000, FeeRate{0});
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 500}, {"B", 500}}));
  EXPECT_THROW(pplns_work_target(0, 4), std::invalid_argument);
  EXPECT_THROW(pplns_work_target(2, -1), std::invalid_argument);
}

TEST(Pplns, TimeWindowHandWorked) {
  // PPLNT 10 s ending at 12,000 ms: shares after 2,000 ms count (2,000 itself does not).
  // A@1000 w1 (out), X@2000 w7 (out, on the edge), B@5000 w1, A@11000 w2 -> A 2, B 1.
  // Reward 3000, no fee: A 2000, B 1000.
  std::vector<Share> s{S("A", 1, 1000), S("X", 7, 2000), S("B", 1, 5000), S("A", 2, 11000)};
  WindowSpec win{std::chrono::seconds(10), 0};
  auto p = pplns(s, win, 3000, FeeRate{0}, 12'000);
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 2000}, {"B", 1000}}));
  // Without an end time the newest share's time (11,000) ends it: start 1,000 exclusive, so
  // X (7), B (1) and A@11000 (2) count: A 2, B 1, X 7 of 10 -> 600, 300, 2100 of 3000.
  p = pplns(s, win, 3000, FeeRate{0});
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 600}, {"B", 300}, {"X", 2100}}));
  EXPECT_THROW(pplns(s, WindowSpec{std::chrono::milliseconds(0), 0}, 1, FeeRate{0}), std::invalid_argument);
  EXPECT_THROW(pplns(s, WindowSpec{std::nullopt, 0}, 1, FeeRate{0}), std::invalid_argument);
}

TEST(PplnsWindow, IncrementalMatchesHandWorked) {
  PplnsWindow w(WindowSpec{std::nullopt, 12});
  for (auto& s : {S("A", 4), S("B", 3), S("A", 2), S("C", 5)}) w.add(s);
  EXPECT_EQ(w.total_work(), Work(12));
  auto p = w.payout(1000, fee_from_percentage(1));
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 330}, {"B", 247}, {"C", 412}}));
  // One more C:5 -> window 12 back: C5, C5 (10), A2 (12): A:4 and B:3 leave; B's account goes.
  w.add(S("C", 5));
  EXPECT_EQ(w.share_count(), 3u);
  EXPECT_EQ(w.account_count(), 2u);
  auto weights = w.weights();
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_EQ(weights[0].account, "A");
  EXPECT_EQ(weights[0].work, Work(2));
  EXPECT_EQ(weights[1].work, Work(10));
  // Shrinking the target to 7: C5 + 2 of the next C -> only C remains.
  w.set_work_target(7);
  weights = w.weights();
  ASSERT_EQ(weights.size(), 1u);
  EXPECT_EQ(weights[0].account, "C");
  EXPECT_EQ(weights[0].work, Work(7));
}

TEST(PplnsWindow, TimeWindowEvictsByTime) {
  PplnsWindow w(WindowSpec{std::chrono::seconds(10), 0});
  w.add(S("A", 1, 1000));
  w.add(S("B", 1, 5000));
  w.add(S("A", 2, 11000));  // evicts A@1000 (<= 11000 - 10000)
  EXPECT_EQ(w.share_count(), 2u);
  w.advance_to(15'000);  // evicts B@5000
  EXPECT_EQ(w.share_count(), 1u);
  auto p = w.payout(90, FeeRate{0});
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"A", 90}}));
  w.advance_to(30'000);
  EXPECT_EQ(w.share_count(), 0u);
  EXPECT_EQ(w.account_count(), 0u);
  p = w.payout(90, FeeRate{0});
  EXPECT_TRUE(p.credits.empty());
  EXPECT_EQ(p.dust, 90);
  EXPECT_THROW(w.set_work_target(5), std::logic_error);
}

TEST(PplnsWindow, EqualsPureFunctionOnRandomStreams) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20; ++round) {
    bool timed = round % 2 == 1;
    WindowSpec spec = timed ? WindowSpec{std::chrono::milliseconds(5000 + rng() % 5000), 0}
                            : WindowSpec{std::nullopt, Work(1000 + rng() % 100000) << 40};
    PplnsWindow w(spec);
    std::vector<Share> all;
    int64_t t = 0;
    for (int i = 0; i < 3000; ++i) {
      t += int64_t(rng() % 50);
      Share s{"acct" + std::to_string(rng() % 37), (Work(1 + rng() % 1000) << 36) + rng() % 7, t};
      all.push_back(s);
      w.add(s);
      if (i % 500 == 499) {
        Amount reward = Amount(rng() % 10'000'000'000ull);
        FeeRate fee{uint32_t(rng() % 50'000)};
        auto a = w.payout(reward, fee);
        auto b = pplns(all, spec, reward, fee, timed ? t : 0);
        ASSERT_EQ(a.credits, b.credits) << "round " << round << " share " << i;
        ASSERT_EQ(a.dust, b.dust);
        expect_conserved(a, reward);
      }
    }
  }
}

TEST(Pps, HandWorked) {
  // 6.25 BTC subsidy = 625,000,000 sat; share difficulty 1,000 of network 1,000,000:
  // gross = 625,000,000 * 1000 / 1e6 = 625,000; fee 1% = 6,250; net 618,750.
  auto c = pps(625'000'000, work_from_difficulty(1000), work_from_difficulty(1e6), fee_from_percentage(1));
  EXPECT_EQ(c.gross, 625'000);
  EXPECT_EQ(c.fee, 6'250);
  EXPECT_EQ(c.net(), 618'750);
  // Scrypt: a Stratum difficulty of 65,536 is 1.0 in network units (the caller divides out
  // 65536). Network difficulty 1,000 -> 625,000,000 / 1000 = 625,000 gross, no fee.
  c = pps(625'000'000, work_from_difficulty(65536.0 / 65536.0), work_from_difficulty(1000), FeeRate{0});
  EXPECT_EQ(c.gross, 625'000);
  // A share worth more than the network difficulty (a block) is capped at the full value.
  c = pps(100, work_from_difficulty(10), work_from_difficulty(5), FeeRate{0});
  EXPECT_EQ(c.gross, 100);
  EXPECT_THROW(pps(100, 1, 0, FeeRate{0}), std::invalid_argument);
  EXPECT_THROW(pps(-1, 1, 1, FeeRate{0}), std::invalid_argument);
}

TEST(Fpps, IncludesTemplateFees) {
  // Subsidy 312,500,000 + template fees 12,345,678 = 324,845,678; share 1 of network 3:
  // gross = floor(324,845,678 / 3) = floor(108,281,892.67) = 108,281,892;
  // fee 1% = floor(1,082,818.92) = 1,082,818; net 107,199,074.
  auto c = fpps(312'500'000, 12'345'678, work_from_difficulty(1), work_from_difficulty(3), fee_from_percentage(1));
  EXPECT_EQ(c.gross, 108'281'892);
  EXPECT_EQ(c.fee, 1'082'818);
  EXPECT_EQ(c.net(), 107'199'074);
  // PPS on the same share ignores the fees: floor(312,500,000 / 3) = 104,166,666.
  EXPECT_EQ(pps(312'500'000, work_from_difficulty(1), work_from_difficulty(3), FeeRate{0}).gross, 104'166'666);
}

TEST(Solo, FinderTakesBlockMinusFee) {
  // 50 BTC, fee 1.5%: fee 75,000,000, finder 4,925,000,000.
  auto p = solo("finder", 5'000'000'000, fee_from_percentage(1.5));
  EXPECT_EQ(p.fee, 75'000'000);
  EXPECT_EQ(p.credits, (std::vector<Credit>{{"finder", 4'925'000'000}}));
  EXPECT_EQ(p.dust, 0);
}

TEST(Maturity, PerCoinAndStatus) {
  EXPECT_EQ(coinbase_maturity("bitcoin"), 100u);
  EXPECT_EQ(coinbase_maturity("litecoin"), 100u);
  EXPECT_EQ(coinbase_maturity("monero"), 60u);
  EXPECT_THROW(coinbase_maturity("dogecoin2"), std::invalid_argument);
  EXPECT_EQ(block_status(true, 99, 100), BlockStatus::pending);
  EXPECT_EQ(block_status(true, 100, 100), BlockStatus::confirmed);
  EXPECT_EQ(block_status(false, 150, 100), BlockStatus::orphaned);
  EXPECT_EQ(block_status(true, -1, 100), BlockStatus::orphaned);  // bitcoind's -1: not in the main chain
}

TEST(Ledger, OrphanReversalAndBalances) {
  std::vector<LedgerEntry> ledger{{"A", "b1", 100}, {"B", "b1", 50}, {"A", "b2", 30}, {"A", "b3", 7}};
  auto rev = reverse_block(ledger, "b1");
  ASSERT_EQ(rev.size(), 2u);
  EXPECT_EQ(rev[0].account, "A");
  EXPECT_EQ(rev[0].amount, -100);
  EXPECT_TRUE(rev[0].reversal);
  EXPECT_EQ(rev[1].amount, -50);
  ledger.insert(ledger.end(), rev.begin(), rev.end());
  // Reversing twice gives nothing more.
  EXPECT_TRUE(reverse_block(ledger, "b1").empty());
  // b1 orphaned, b2 confirmed, b3 pending (not in the map): A payable 30, pending 7; B nothing.
  auto bal = balances(ledger, {{"b1", BlockStatus::orphaned}, {"b2", BlockStatus::confirmed}});
  ASSERT_EQ(bal.size(), 1u);
  EXPECT_EQ(bal[0], (AccountBalance{"A", 7, 30}));
}

TEST(Conservation, RandomSplitsNeverExceedReward) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::vector<Weight> w;
    int n = 1 + int(rng() % 50);
    for (int k = 0; k < n; ++k) w.push_back({std::string("a").append(std::to_string(rng() % 60)), (Work(rng()) << (rng() % 60)) + 1});
    Amount reward = Amount(rng() >> 2);
    auto p = split(w, reward, FeeRate{uint32_t(rng() % 1'000'001)});
    expect_conserved(p, reward);
    std::set<std::string> accounts;
    for (auto& x : w) accounts.insert(x.account);
    EXPECT_LT(p.dust, Amount(accounts.size()));  // each account loses less than one unit
  }
}

TEST(OperatorBalance, RewardsMinusShareCreditsPendingApart) {
  // 3 blocks of 50 LTC matured, one pending; shares credited 160 LTC so far.
  auto b = operator_balance(150'00000000, 50'00000000, 160'00000000);
  EXPECT_EQ(b.confirmed, -10'00000000);  // the pool is 10 LTC down until the pending block matures
  EXPECT_EQ(b.pending, 50'00000000);
  EXPECT_EQ(b.expected(), 40'00000000);
  EXPECT_EQ(operator_balance(0, 0, 0), (OperatorBalance{0, 0}));
  EXPECT_THROW(operator_balance(-1, 0, 0), std::invalid_argument);
  EXPECT_THROW(operator_balance(0, -1, 0), std::invalid_argument);
  EXPECT_THROW(operator_balance(0, 0, -1), std::invalid_argument);
  EXPECT_THROW(operator_balance(INT64_MAX, INT64_MAX, 0), std::invalid_argument);
  EXPECT_EQ(operator_balance(0, 0, INT64_MAX).confirmed, -INT64_MAX);
}
