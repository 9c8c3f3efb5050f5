// Sustained share recording into the store (docs/perf-store.md): synthetic shares are
// recorded as fast as one producer thread can, and each iteration ends when the last one is
// durable (flush), so the rate counts commits, not queueing. SQLite with synchronous=FULL
// (fsync per group commit, the default) and NORMAL; PostgreSQL 15 in a throwaway cluster with
// fsync on and synchronous_commit on (its defaults).
//
// BM_*Paced: the writer's CPU per share when shares trickle in as a live pool sends them (a
// batch of `range` shares, then wait until durable, as a pool acking each share after its
// commit sees at a few thousand shares/s): process CPU time per share, writer thread included.
#include <benchmark/benchmark.h>

#include <memory>

#include "store/store.h"
#include "support/postgres.h"
#include "support/support.h"

using namespace otedama;
using namespace std::chrono_literals;

namespace {

constexpr int kShares = 200'000;

std::vector<store::Share> synthetic(int n) {
  std::vector<store::Share> v;
  v.reserve(size_t(n));
  for (int i = 0; i < n; ++i)
    v.push_back(store::Share{"litecoin", "ltc1qminer" + std::to_string(i % 1000), "rig" + std::to_string(i % 4),
                             double(1 << (i % 8)), 1'700'000'000'000 + i, 2'500'000 + i / 1000, false});
  return v;
}

void record(benchmark::State& state, const store::Options& o) {
  auto shares = synthetic(kShares);
  auto s = store::open(o);
  for (auto _ : state) {
    for (const auto& sh : shares) s->record_share(sh);
    if (!s->flush(120s)) state.SkipWithError(("not durable: " + s->writer_stats().last_error).c_str());
  }
  auto st = s->writer_stats();
  state.SetItemsProcessed(int64_t(state.iterations()) * kShares);
  state.counters["shares_per_batch"] = double(st.durable) / double(st.batches ? st.batches : 1);
}

void BM_Sqlite(benchmark::State& state) {
  test::TempDir dir;
  store::Options o;
  o.path = (dir.path() / "bench.db").string();
  o.sqlite_synchronous_full = state.range(0) == 1;
  record(state, o);
}
BENCHMARK(BM_Sqlite)->ArgName("full")->Arg(1)->Arg(0)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

// Batches of state.range(0) shares, each made durable before the next (what a pool at ~2,000
// shares/s with durable acks does: every fsync carries a handful of shares).
void paced(benchmark::State& state, const store::Options& o) {
  auto shares = synthetic(kShares);
  auto s = store::open(o);
  size_t per_batch = size_t(state.range(0)), next = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < per_batch; ++i) s->record_share(shares[next++ % shares.size()]);
    if (!s->flush(120s)) state.SkipWithError(("not durable: " + s->writer_stats().last_error).c_str());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(per_batch));
}

void BM_SqlitePaced(benchmark::State& state) {
  test::TempDir dir;
  store::Options o;
  o.path = (dir.path() / "bench.db").string();
  o.sqlite_synchronous_full = false;  // CPU, not the disk's fsync latency
  paced(state, o);
}
BENCHMARK(BM_SqlitePaced)->ArgName("batch")->Arg(4)->Arg(64)->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);

void BM_Postgres(benchmark::State& state) {
  static test::TempDir dir;
  static test::PostgresCluster cluster(dir.path(), /*fsync=*/true);
  store::Options o;
  o.driver = store::Driver::postgres;
  o.dsn = cluster.create_database();
  record(state, o);
}
BENCHMARK(BM_Postgres)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
