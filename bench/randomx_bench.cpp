// RandomX (rx/0) hash rates: light mode (the pool's share check) and fast mode (the miner),
// through Otedama's Algorithm and, as the baseline, librandomx called directly.
//   build-*/bench/randomx_bench --benchmark_filter=Light
//   build-*/bench/randomx_bench --benchmark_filter=Fast     (builds the 2 GiB dataset first)
// items_per_second = hashes/s of all threads together (real time).
#include <benchmark/benchmark.h>
#include <randomx.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "crypto/crypto.h"
#include "crypto/randomx.h"

namespace oc = otedama::crypto;

namespace {

constexpr uint64_t kBatch = 32;  // nonces per search() call

oc::Work bench_work() {
  oc::Work w;
  w.blob.resize(76);
  for (size_t i = 0; i < w.blob.size(); ++i) w.blob[i] = uint8_t(i * 37 + 11);
  w.nonce_offset = 39;
  w.seed = otedama::hash_from_hex("418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3");
  w.target = otedama::U256::from_u64(1);  // nothing found: pure hashing
  return w;
}

oc::AlgorithmOptions options(bool fast) {
  oc::AlgorithmOptions o;
  o.randomx_fast = fast;
  o.large_pages = true;  // falls back to regular pages when the system has none
  return o;
}

// Builds the key's cache/dataset before any timing starts.
void warm(bool fast) {
  static std::once_flag once[2];
  std::call_once(once[fast], [&] {
    auto a = oc::make_randomx_algorithm(options(fast));
    a->hash(bench_work(), 0);
  });
}

void report(benchmark::State& state, const oc::Algorithm& a, uint64_t hashes) {
  state.SetItemsProcessed(int64_t(hashes));
  if (state.thread_index() == 0) {
    state.counters["large_pages"] = a.large_pages();
    state.SetLabel(a.variant());
  }
}

// The pool's check: one hash per share, light mode.
void BM_RandomXLightVerify(benchmark::State& state) {
  warm(false);
  auto a = oc::make_randomx_algorithm(options(false));
  oc::Work w = bench_work();
  uint64_t nonce = uint64_t(state.thread_index()) << 28;
  for (auto _ : state) benchmark::DoNotOptimize(a->hash(w, nonce++));
  report(state, *a, state.iterations());
}
BENCHMARK(BM_RandomXLightVerify)->Threads(1)->Threads(2)->UseRealTime()->MinTime(3);

// The miner: pipelined search over nonces, fast mode.
void BM_RandomXFastSearch(benchmark::State& state) {
  warm(true);
  auto a = oc::make_randomx_algorithm(options(true));
  oc::Work w = bench_work();
  std::vector<oc::Found> found;
  uint64_t nonce = uint64_t(state.thread_index()) << 28, hashes = 0;
  for (auto _ : state) {
    hashes += a->search(w, nonce, nonce + kBatch - 1, found);
    nonce += kBatch;
  }
  report(state, *a, hashes);
}
BENCHMARK(BM_RandomXFastSearch)->Threads(1)->Threads(2)->UseRealTime()->MinTime(5);

// Baseline: librandomx's own loop (randomx_calculate_hash_next) on the same dataset,
// with no Otedama code in between.
void BM_RandomXFastLibDirect(benchmark::State& state) {
  warm(true);
  auto epoch = oc::RandomXContexts::shared(true, 0).get(bench_work().seed, oc::RandomXMode::fast);
  randomx_flags flags = (randomx_get_flags() & (RANDOMX_FLAG_JIT | RANDOMX_FLAG_HARD_AES)) |
                        RANDOMX_FLAG_FULL_MEM;
  randomx_vm* vm = randomx_create_vm(flags | RANDOMX_FLAG_LARGE_PAGES, nullptr, epoch->dataset());
  if (!vm) vm = randomx_create_vm(flags, nullptr, epoch->dataset());
  oc::Work w = bench_work();
  uint8_t out[32];
  uint32_t nonce = uint32_t(state.thread_index()) << 28;
  std::memcpy(&w.blob[39], &nonce, 4);
  randomx_calculate_hash_first(vm, w.blob.data(), w.blob.size());
  for (auto _ : state) {
    ++nonce;
    std::memcpy(&w.blob[39], &nonce, 4);
    randomx_calculate_hash_next(vm, w.blob.data(), w.blob.size(), out);
    benchmark::DoNotOptimize(out);
  }
  randomx_calculate_hash_last(vm, out);
  randomx_destroy_vm(vm);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RandomXFastLibDirect)->Threads(1)->Threads(2)->UseRealTime()->MinTime(5);

}  // namespace
