// scrypt(N=1024, r=1, p=1) mining throughput per kernel against OpenSSL's EVP_PBE_scrypt.
// items_per_second = hashes per second (one thread).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <vector>

#include "crypto/crypto.h"

using namespace otedama;
using namespace otedama::crypto;

namespace {

Bytes test_header() {
  Bytes h(80);
  for (size_t i = 0; i < h.size(); ++i) h[i] = uint8_t(i * 37 + 11);
  return h;
}

void BM_OpenSSL_EVP_PBE_scrypt(benchmark::State& state) {
  Bytes header = test_header();
  uint8_t out[32];
  uint32_t nonce = 0;
  for (auto _ : state) {
    header[76] = uint8_t(nonce++);
    EVP_PBE_scrypt(reinterpret_cast<const char*>(header.data()), 80, header.data(), 80, 1024, 1, 1, 0, out, 32);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenSSL_EVP_PBE_scrypt)->Unit(benchmark::kMicrosecond);

// The mining loop: scrypt_scan over 48 nonces per call (a multiple of 3, 8 and 16 lanes),
// with a zero target so that nothing is reported.
void BM_scrypt_scan(benchmark::State& state, ScryptImpl impl) {
  if (!scrypt_impl_supported(impl)) {
    state.SkipWithError("not supported on this CPU");
    return;
  }
  Bytes header = test_header();
  std::vector<uint32_t> hits;
  uint32_t first = 0;
  uint64_t hashes = 0;
  for (auto _ : state) {
    hashes += scrypt_scan(impl, header.data(), U256{}, first, first + 47, hits);
    first += 48;
  }
  state.SetItemsProcessed(int64_t(hashes));
}
BENCHMARK_CAPTURE(BM_scrypt_scan, portable, ScryptImpl::portable)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_scrypt_scan, sse2, ScryptImpl::sse2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_scrypt_scan, avx2, ScryptImpl::avx2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_scrypt_scan, avx512, ScryptImpl::avx512)->Unit(benchmark::kMillisecond);

// Pool side: one header at a time.
void BM_scrypt_1024_1_1(benchmark::State& state) {
  Bytes header = test_header();
  for (auto _ : state) {
    ++header[76];
    benchmark::DoNotOptimize(scrypt_1024_1_1(header));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_scrypt_1024_1_1)->Unit(benchmark::kMicrosecond);

}  // namespace
