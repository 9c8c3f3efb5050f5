// Vardiff on synthetic miners: Poisson share arrivals from a seeded RNG, synthetic time.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "pool/vardiff.h"

using otedama::pool::Vardiff;
using otedama::pool::VardiffConfig;

namespace {

struct SimRun {
  std::vector<std::pair<double, double>> changes;  // (time, new difficulty)
  double end_time = 0;
  uint64_t shares = 0;
};

// A miner doing `dsps` difficulty-1 shares per second (its hashrate) submits to `v` for
// `seconds`; shares at difficulty d arrive as a Poisson process of rate dsps / d. The pool
// calls on_tick on each 30 s job refresh (where a quiet miner's difficulty may fall).
SimRun simulate(Vardiff& v, double dsps, double start, double seconds, uint32_t seed) {
  std::mt19937_64 rng(seed);
  SimRun run;
  double t = start, end = start + seconds;
  double next_tick = std::floor(start / 30) * 30 + 30;
  auto draw = [&](double from) {
    std::exponential_distribution<double> exp(dsps / v.difficulty());
    return from + exp(rng);
  };
  double next_share = draw(t);
  while (true) {
    if (next_tick < next_share) {
      t = next_tick;
      if (t >= end) break;
      next_tick += 30;
      if (auto d = v.on_tick(t)) {
        run.changes.push_back({t, *d});
        next_share = draw(t);  // memoryless: redraw at the new difficulty
      }
      continue;
    }
    t = next_share;
    if (t >= end) break;
    ++run.shares;
    if (auto d = v.on_share(t, v.difficulty())) run.changes.push_back({t, *d});
    next_share = draw(t);
  }
  run.end_time = end;
  return run;
}

VardiffConfig config() {
  VardiffConfig c;
  c.target_share_time = 10;
  c.min_difficulty = 1e-4;
  c.max_difficulty = 1e9;
  return c;
}

bool in_band(double dsps, double difficulty, const VardiffConfig& c) {
  double rate = dsps / difficulty, target = 1 / c.target_share_time;
  return rate >= c.low_ratio * target && rate <= c.high_ratio * target;
}

// Converges within a bounded number of retargets, then stays put for a long steady run.
void check_converges(double speed, uint32_t seed, size_t max_retargets) {
  auto c = config();
  const double initial = 16;
  const double dsps = speed * initial / c.target_share_time;  // `speed` x the target rate at 16
  Vardiff v(c, initial, 0);
  SimRun first = simulate(v, dsps, 0, 4 * 3600, seed);
  ASSERT_FALSE(first.changes.empty());
  EXPECT_LE(first.changes.size(), max_retargets) << "speed " << speed << " seed " << seed;
  EXPECT_TRUE(in_band(dsps, v.difficulty(), c))
      << "speed " << speed << " seed " << seed << ": difficulty " << v.difficulty() << " for ideal "
      << dsps * c.target_share_time;
  // Steady state: another 8 hours (~2900 shares) with at most one correction.
  SimRun steady = simulate(v, dsps, first.end_time, 8 * 3600, seed + 1000);
  EXPECT_GT(steady.shares, 2000u);
  EXPECT_LE(steady.changes.size(), 1u) << "oscillates: speed " << speed << " seed " << seed;
  EXPECT_TRUE(in_band(dsps, v.difficulty(), c));
}

TEST(Vardiff, FastMinerConverges) {
  for (uint32_t seed = 1; seed <= 5; ++seed) check_converges(1000, seed, 3);
}

TEST(Vardiff, FastMinerConvergesQuickly) {
  // 1000x the target rate: the first retarget comes after 72 shares (well under a second)
  // and lands near the ideal difficulty.
  auto c = config();
  double dsps = 1000 * 16 / c.target_share_time;
  Vardiff v(c, 16, 0);
  SimRun r = simulate(v, dsps, 0, 60, 7);
  ASSERT_FALSE(r.changes.empty());
  EXPECT_LT(r.changes[0].first, 2.0);
  double ideal = dsps * c.target_share_time;
  EXPECT_NEAR(std::log(r.changes[0].second / ideal), 0, std::log(1.5));
}

TEST(Vardiff, SlowMinerConverges) {
  for (uint32_t seed = 1; seed <= 5; ++seed) check_converges(0.01, seed, 8);
}

TEST(Vardiff, SteadyMinerAtTheRightDifficultyIsLeftAlone) {
  auto c = config();
  double dsps = 12.5;  // ideal difficulty 125
  Vardiff v(c, 125, 0);
  SimRun r = simulate(v, dsps, 0, 12 * 3600, 42);
  EXPECT_GT(r.shares, 4000u);
  EXPECT_TRUE(r.changes.empty()) << r.changes.size() << " retargets, first to " << r.changes[0].second;
  EXPECT_NEAR(v.rate(r.end_time), dsps, dsps * 0.25);
}

TEST(Vardiff, WaitsForSharesOrTime) {
  auto c = config();
  Vardiff v(c, 1, 0);
  // 71 shares in 1 s are 700x too fast, but the rule waits for the 72nd.
  for (int i = 1; i <= 71; ++i) EXPECT_FALSE(v.on_share(i / 71.0, 1)) << i;
  auto d = v.on_share(1.01, 1);
  ASSERT_TRUE(d);
  EXPECT_GT(*d, 100);
  // After a change nothing happens for 240 s without 72 more shares...
  Vardiff q(c, 1000, 0);
  EXPECT_FALSE(q.on_tick(239));
  // ...then a quiet miner is lowered, in a bounded step: at most 1 share in 240 s assumed.
  auto lower = q.on_tick(240);
  ASSERT_TRUE(lower);
  EXPECT_NEAR(*lower, 1000 * c.target_share_time / 240, 1e-9);
}

TEST(Vardiff, HonoursMinMaxAndMinerMinimum) {
  auto c = config();
  c.min_difficulty = 0.5;
  c.max_difficulty = 1000;
  {
    Vardiff v(c, 16, 0);  // far too fast for max: pinned at max, never above
    SimRun r = simulate(v, 1e6, 0, 3600, 3);
    ASSERT_FALSE(r.changes.empty());
    for (auto& [t, d] : r.changes) EXPECT_LE(d, 1000);
    EXPECT_EQ(v.difficulty(), 1000);
  }
  {
    Vardiff v(c, 16, 0);  // far too slow for min
    SimRun r = simulate(v, 1e-4, 0, 24 * 3600, 4);
    ASSERT_FALSE(r.changes.empty());
    for (auto& [t, d] : r.changes) EXPECT_GE(d, 0.5);
    EXPECT_EQ(v.difficulty(), 0.5);
  }
  {
    Vardiff v(c, 16, 0);
    auto raised = v.set_miner_minimum(64, 0);
    ASSERT_TRUE(raised);
    EXPECT_EQ(*raised, 64);
    SimRun r = simulate(v, 0.01, 0, 24 * 3600, 5);  // would want 0.1
    for (auto& [t, d] : r.changes) EXPECT_GE(d, 64);
    EXPECT_EQ(v.difficulty(), 64);
  }
  Vardiff clamped(c, 1e9, 0);
  EXPECT_EQ(clamped.difficulty(), 1000);
}

TEST(Vardiff, FixedDifficultyDisablesRetargets) {
  auto c = config();
  Vardiff v(c, 16, 0);
  v.set_fixed(256, 0);
  EXPECT_TRUE(v.fixed());
  SimRun r = simulate(v, 1e5, 0, 600, 6);  // 4000x too fast at 256
  EXPECT_GT(r.shares, 1000u);
  EXPECT_TRUE(r.changes.empty());
  EXPECT_EQ(v.difficulty(), 256);
}

TEST(Vardiff, RejectsBadConfig) {
  auto c = config();
  c.target_share_time = 0;
  EXPECT_THROW(Vardiff(c, 1, 0), std::invalid_argument);
  c = config();
  c.min_difficulty = 10;
  c.max_difficulty = 1;
  EXPECT_THROW(Vardiff(c, 1, 0), std::invalid_argument);
  c = config();
  c.low_ratio = 1.5;
  EXPECT_THROW(Vardiff(c, 1, 0), std::invalid_argument);
  EXPECT_THROW(Vardiff(config(), 0, 0), std::invalid_argument);
}

}  // namespace
