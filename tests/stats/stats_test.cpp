// The share-statistics collector with hand-computed values: difficulty-1 factors, hashrate
// windows (bucket-aligned, divided by the window or the collector's age), counts, workers,
// miners, effort and blocks, events, pruning, and concurrent recording.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "stats/stats.h"

using namespace otedama;
using namespace otedama::stats;
using std::chrono::seconds;

namespace {

// A multiple of 900 s, so every ring's buckets start at T0.
const Clock::time_point T0 = Clock::time_point(seconds(1700000100));

Share share(const std::string& miner, const std::string& worker, double diff, int at, ShareResult r = ShareResult::valid) {
  return {"p", miner, worker, diff, r, T0 + seconds(at)};
}

}  // namespace

TEST(Stats, HashesPerDifficultyOne) {
  // sha256d diff1 = 0xffff * 2^208: 2^256 / that = 2^48 / 65535.
  EXPECT_NEAR(*hashes_per_difficulty1("sha256d"), 281474976710656.0 / 65535, 1e-3);
  EXPECT_NEAR(*hashes_per_difficulty1("sha256d"), 4295032833.0, 1e-3);
  // scrypt's Stratum diff1 is 65536 times larger: 2^32 / 65535.
  EXPECT_NEAR(*hashes_per_difficulty1("scrypt"), 4294967296.0 / 65535, 1e-9);
  EXPECT_EQ(*hashes_per_difficulty1("randomx"), 1.0);
  EXPECT_EQ(hashes_per_difficulty1("kawpow"), std::nullopt);
  EXPECT_NEAR(hashes_per_difficulty1(U256::from_hex("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")), 1.0, 1e-12);
  EXPECT_THROW(hashes_per_difficulty1(U256{}), std::invalid_argument);
}

TEST(Stats, SplitLogin) {
  EXPECT_EQ(split_login("ltc1qabc.rig1"), (std::pair<std::string, std::string>{"ltc1qabc", "rig1"}));
  EXPECT_EQ(split_login("ltc1qabc"), (std::pair<std::string, std::string>{"ltc1qabc", "default"}));
  EXPECT_EQ(split_login("4Abc+5000"), (std::pair<std::string, std::string>{"4Abc", "default"}));
  EXPECT_EQ(split_login("4Abc.w.x+5000"), (std::pair<std::string, std::string>{"4Abc", "w.x"}));
  EXPECT_EQ(split_login("addr."), (std::pair<std::string, std::string>{"addr", "default"}));
}

TEST(Stats, HashrateWindowsByHand) {
  Collector c(T0);
  c.register_pool("p", "monero", "randomx", 1.0);
  EXPECT_TRUE(c.record_share(share("M1", "a", 100, 10)));
  EXPECT_TRUE(c.record_share(share("M1", "b", 200, 30)));
  EXPECT_TRUE(c.record_share(share("M2", "x", 300, 50)));
  EXPECT_TRUE(c.record_share(share("M2", "x", 1000, 55, ShareResult::invalid)));  // never counts as work
  EXPECT_FALSE(c.record_share({"unknown", "M", "w", 5, ShareResult::valid, T0}));

  // 59 s in: the collector is 60 s old, 600 difficulty -> 10 H/s in every window.
  auto p = *c.pool("p", T0 + seconds(59));
  EXPECT_DOUBLE_EQ(p.hashrate.m1, 10);
  EXPECT_DOUBLE_EQ(p.hashrate.m15, 10);
  EXPECT_DOUBLE_EQ(p.hashrate.h1, 10);
  EXPECT_DOUBLE_EQ(p.hashrate.h24, 10);
  EXPECT_EQ(p.shares.valid, 3u);
  EXPECT_EQ(p.shares.invalid, 1u);
  EXPECT_EQ(p.shares.total(), 4u);
  EXPECT_EQ(p.workers, 3u);
  EXPECT_EQ(p.miners, 2u);
  EXPECT_DOUBLE_EQ(p.round_work, 600);

  // 119 s: the 1 s ring no longer holds them; the 1 min ring does, over 120 s of age.
  p = *c.pool("p", T0 + seconds(119));
  EXPECT_DOUBLE_EQ(p.hashrate.m1, 0);
  EXPECT_DOUBLE_EQ(p.hashrate.m15, 5);
  EXPECT_DOUBLE_EQ(p.hashrate.h1, 5);
  EXPECT_DOUBLE_EQ(p.hashrate.h24, 5);

  // 2 h later: only the 24 h window (15 min buckets) still has them, over 7260 s of age.
  p = *c.pool("p", T0 + seconds(7259));
  EXPECT_DOUBLE_EQ(p.hashrate.m15, 0);
  EXPECT_DOUBLE_EQ(p.hashrate.h1, 0);
  EXPECT_DOUBLE_EQ(p.hashrate.h24, 600.0 / 7260);
  EXPECT_EQ(p.workers, 0u);  // nobody active in the last 15 min
  EXPECT_EQ(p.miners, 0u);

  // Two days in, the divisor is the full window: 86400 s.
  c.record_share(share("M1", "a", 864000, 2 * 86400));
  EXPECT_DOUBLE_EQ(c.pool("p", T0 + seconds(2 * 86400))->hashrate.h24, 10);
  EXPECT_DOUBLE_EQ(c.pool("p", T0 + seconds(2 * 86400))->hashrate.m1, 864000.0 / 60);
}

TEST(Stats, WorkersAndMinersByHand) {
  Collector c(T0);
  c.register_pool("p", "litecoin", "scrypt", 2.0);
  c.record_share(share("M1", "a", 30, 1));
  c.record_share(share("M1", "a", 30, 2, ShareResult::stale));
  c.record_share(share("M1", "b", 60, 3));
  c.record_share(share("M1", "b", 60, 4, ShareResult::duplicate));
  c.record_share(share("M2", "x", 15, 5, ShareResult::low_difficulty));
  auto now = T0 + seconds(59);
  auto ws = c.workers("p", now);
  ASSERT_EQ(ws.size(), 3u);
  // Most recent share first.
  EXPECT_EQ(ws[0].miner, "M2");
  EXPECT_EQ(ws[0].hashrate.m1, 0);  // a low-difficulty share is no work
  EXPECT_EQ(ws[0].shares.low_difficulty, 1u);
  EXPECT_EQ(ws[1].worker, "b");
  EXPECT_DOUBLE_EQ(ws[1].hashrate.m1, 60 * 2.0 / 60);
  EXPECT_EQ(ws[1].shares.duplicate, 1u);
  EXPECT_EQ(ws[1].last_difficulty, 60);
  EXPECT_EQ(ws[1].last_share, T0 + seconds(4));
  EXPECT_EQ(ws[2].worker, "a");
  EXPECT_DOUBLE_EQ(ws[2].hashrate.m1, 1);
  EXPECT_EQ(ws[2].shares.stale, 1u);
  EXPECT_EQ(ws[2].first_share, T0 + seconds(1));

  auto m = *c.miner("M1", "", now);
  EXPECT_DOUBLE_EQ(m.hashrate.m1, 3);  // (30 + 60) * 2 / 60
  EXPECT_EQ(m.shares.valid, 2u);
  EXPECT_EQ(m.shares.total(), 4u);
  EXPECT_EQ(m.workers.size(), 2u);
  EXPECT_EQ(c.miner("nobody"), std::nullopt);
  EXPECT_EQ(c.miner("M1", "other-pool", now), std::nullopt);
  EXPECT_TRUE(c.workers("other-pool", now).empty());

  // A day without shares from M2 forgets it; M1's later share keeps M1.
  c.record_share(share("M1", "a", 30, 86400));
  c.prune(T0 + seconds(86400 + 10));
  EXPECT_EQ(c.workers("p", T0 + seconds(86400 + 10)).size(), 1u);
}

TEST(Stats, EffortAndBlocks) {
  Collector c(T0);
  c.register_pool("p", "litecoin", "scrypt", 1.0);
  c.set_network("p", 100, 1200);
  c.record_share(share("M1", "a", 600, 1));
  EXPECT_DOUBLE_EQ(c.pool("p", T0 + seconds(2))->effort, 0.5);
  Block b;
  b.pool = "p", b.height = 101, b.hash = "h1", b.miner = "M1", b.worker = "a", b.time = T0 + seconds(2);
  c.record_block(b);
  auto p = *c.pool("p", T0 + seconds(3));
  EXPECT_EQ(p.blocks_found, 1u);
  EXPECT_DOUBLE_EQ(p.effort, 0);  // a new round
  EXPECT_EQ(p.height, 100u);
  auto page = c.blocks("", "", 0, 10);
  ASSERT_EQ(page.total, 1u);
  EXPECT_DOUBLE_EQ(page.blocks[0].effort, 0.5);
  EXPECT_EQ(page.blocks[0].coin, "litecoin");
  EXPECT_EQ(page.blocks[0].network_difficulty, 1200);
  EXPECT_EQ(page.blocks[0].status, "submitted");
  // The daemon's answer updates the same block.
  b.status = "accepted";
  c.record_block(b);
  page = c.blocks("p", "", 0, 10);
  ASSERT_EQ(page.total, 1u);
  EXPECT_EQ(page.blocks[0].status, "accepted");
  EXPECT_DOUBLE_EQ(page.blocks[0].effort, 0.5);
  EXPECT_EQ(c.pool("p")->blocks_found, 1u);

  for (int i = 2; i <= 5; ++i) {
    Block more = b;
    more.hash = "h" + std::to_string(i);
    c.record_block(more);
  }
  page = c.blocks("", "", 1, 2);  // newest first: h5 h4 h3 h2 h1
  EXPECT_EQ(page.total, 5u);
  ASSERT_EQ(page.blocks.size(), 2u);
  EXPECT_EQ(page.blocks[0].hash, "h4");
  EXPECT_EQ(page.blocks[1].hash, "h3");
  EXPECT_EQ(c.blocks("", "monero", 0, 10).total, 0u);
  EXPECT_EQ(c.blocks("", "litecoin", 10, 10).blocks.size(), 0u);
}

TEST(Stats, EventsReachSubscribersUntilUnsubscribed) {
  Collector c(T0);
  c.register_pool("p", "litecoin", "scrypt", 1.0);
  std::vector<std::string> seen;
  uint64_t id = c.subscribe([&](const Event& e) {
    std::string what = to_string(e.kind);
    if (e.kind == Event::Kind::share) what += ":" + std::get<Share>(e.data).worker;
    seen.push_back(what);
  });
  c.record_share(share("M1", "a", 1, 1));
  c.record_block({.pool = "p", .hash = "h"});
  c.record_payment({.pool = "p", .address = "M1", .amount = 1.5});
  MinerState ms;
  ms.running = true;
  c.set_miner_state(ms);
  EXPECT_TRUE(c.miner_state().running);
  c.unsubscribe(id);
  c.record_share(share("M1", "b", 1, 2));
  EXPECT_EQ(seen, (std::vector<std::string>{"share:a", "block", "payment", "miner_state"}));
  EXPECT_THROW(c.register_pool("q", "x", "y", 0), std::invalid_argument);
}

TEST(Stats, ConcurrentSharesAddUpExactly) {
  Collector c(T0);
  c.register_pool("p", "bitcoin", "sha256d", 1.0);
  std::atomic<uint64_t> events{0};
  c.subscribe([&](const Event&) { ++events; });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) c.record_share(share("M" + std::to_string(t), "w", 1, i % 60));
    });
  std::thread reader([&] {
    for (int i = 0; i < 200; ++i) (void)c.pools(T0 + seconds(59)), (void)c.workers("", T0 + seconds(59));
  });
  for (auto& t : threads) t.join();
  reader.join();
  auto p = *c.pool("p", T0 + seconds(59));
  EXPECT_EQ(p.shares.valid, 40000u);
  EXPECT_DOUBLE_EQ(p.hashrate.m1, 40000.0 / 60);
  EXPECT_EQ(p.miners, 4u);
  EXPECT_EQ(events.load(), 40000u);
}
