// Ethash / KawPow figures: light verification per thread (the pool's cost per share), DAG
// node generation (x1 vs the interleaved x4 path, and the threaded builder), light cache
// build time, and the Keccak permutations as the in-run baseline.
#include <benchmark/benchmark.h>

#include <vector>

#include "crypto/crypto.h"

using namespace otedama;
using namespace otedama::crypto;

namespace {

const Hash256 kHeader = hash_from_hex("2a8de2adf89af77358250bf908bf04ba94a6e8c3ba87775564a41d269a05e4ce");

void BM_Keccakf1600(benchmark::State& state) {
  uint64_t st[25] = {1};
  for (auto _ : state) {
    keccakf1600(st);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Keccakf1600);

void BM_Keccakf800(benchmark::State& state) {
  uint32_t st[25] = {1};
  for (auto _ : state) {
    keccakf800(st);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Keccakf800);

void BM_EthashLightVerify(benchmark::State& state) {
  const auto ctx = ethash_context(EthashVariant::ethash, 0);
  uint64_t nonce = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ethash_hash_light(*ctx, kHeader, nonce++));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EthashLightVerify)->Unit(benchmark::kMicrosecond);

void BM_KawpowLightVerify(benchmark::State& state) {
  const auto ctx = kawpow_context(0);
  uint64_t nonce = 0;
  for (auto _ : state) benchmark::DoNotOptimize(kawpow_hash_light(*ctx, 49, kHeader, nonce++));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KawpowLightVerify)->Unit(benchmark::kMicrosecond);

// DAG nodes computed one at a time vs 4 or 8 interleaved (ethash: 256 parents).
void BM_EthashDagNodes(benchmark::State& state) {
  const auto ctx = ethash_context(EthashVariant::ethash, 0);
  const unsigned n = static_cast<unsigned>(state.range(0));
  uint32_t index = 0;
  EthashNode out[8];
  for (auto _ : state) {
    ethash_dag_nodes(*ctx, index, n, out);
    benchmark::DoNotOptimize(out);
    index += 4099;
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_EthashDagNodes)->Arg(1)->Arg(4)->Arg(8)->Unit(benchmark::kMicrosecond);

// The threaded builder over 65536 nodes (1/256 of the epoch-0 DAG) on range(0) threads.
void BM_DagBuild65536Nodes(benchmark::State& state) {
  const auto ctx = state.range(1) ? kawpow_context(0) : ethash_context(EthashVariant::ethash, 0);
  std::vector<EthashNode> out(65536);
  for (auto _ : state) {
    ethash_build_dag_range(*ctx, 0, out.size(), out.data(), static_cast<unsigned>(state.range(0)));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_DagBuild65536Nodes)->ArgNames({"threads", "kawpow"})->Args({1, 0})->Args({2, 0})->Args({2, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LightCacheBuildEpoch0(benchmark::State& state) {
  const Hash256 seed = ethash_seed(0);
  for (auto _ : state) benchmark::DoNotOptimize(ethash_build_light_cache(seed, ethash_light_cache_size(0)));
}
BENCHMARK(BM_LightCacheBuildEpoch0)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
