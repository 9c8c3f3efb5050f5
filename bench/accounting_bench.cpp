// PPLNS payout when a share arrives, with a window of 1,000,000 shares (docs/perf-store.md):
// the incremental window (add one share, evict, compute the payout) against the baseline of
// recomputing the pure function over the same 1,000,000 shares, in the same run.
#include <benchmark/benchmark.h>

#include <random>

#include "accounting/accounting.h"

using namespace otedama::accounting;

namespace {

constexpr size_t kWindowShares = 1'000'000;

std::vector<Share> stream(size_t n, int accounts) {
  std::mt19937_64 rng(1);
  std::vector<Share> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i)
    v.push_back(Share{"miner" + std::to_string(rng() % uint64_t(accounts)), work_from_difficulty(double(1 << (rng() % 8))),
                      int64_t(i)});
  return v;
}

// Window target = the work of the last 1,000,000 shares of the stream (mean difficulty 31.875).
Work target_for(const std::vector<Share>& s) {
  Work w = 0;
  for (size_t i = s.size() - kWindowShares; i < s.size(); ++i) w += s[i].work;
  return w;
}

void BM_PplnsIncrementalShareAndPayout(benchmark::State& state) {
  int accounts = int(state.range(0));
  auto s = stream(kWindowShares + 200'000, accounts);
  PplnsWindow w(WindowSpec{std::nullopt, target_for(s)});
  for (size_t i = 0; i < kWindowShares; ++i) w.add(s[i]);
  size_t next = kWindowShares;
  FeeRate fee = fee_from_percentage(1);
  for (auto _ : state) {
    w.add(s[next++ % s.size()]);
    auto p = w.payout(625'000'000, fee);
    benchmark::DoNotOptimize(p);
  }
  state.counters["window_shares"] = double(w.share_count());
  state.counters["accounts"] = double(w.account_count());
}
BENCHMARK(BM_PplnsIncrementalShareAndPayout)->ArgName("accounts")->Arg(1000)->Arg(10'000)->Arg(100'000)
    ->Unit(benchmark::kMillisecond);

// Baseline: recompute the window from the share list for each payout.
void BM_PplnsRecomputeBaseline(benchmark::State& state) {
  int accounts = int(state.range(0));
  auto s = stream(kWindowShares, accounts);
  WindowSpec spec{std::nullopt, target_for(s)};
  FeeRate fee = fee_from_percentage(1);
  for (auto _ : state) {
    auto p = pplns(s, spec, 625'000'000, fee);
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_PplnsRecomputeBaseline)->ArgName("accounts")->Arg(1000)->Arg(10'000)->Arg(100'000)
    ->Unit(benchmark::kMillisecond);

// Adding a share alone (the share hot path's part of accounting).
void BM_PplnsAdd(benchmark::State& state) {
  auto s = stream(kWindowShares + 1'000'000, 10'000);
  PplnsWindow w(WindowSpec{std::nullopt, target_for(s)});
  for (size_t i = 0; i < kWindowShares; ++i) w.add(s[i]);
  size_t next = kWindowShares;
  for (auto _ : state) w.add(s[next++ % s.size()]);
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_PplnsAdd);

}  // namespace
