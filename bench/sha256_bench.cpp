// sha256d mining throughput (nonces/s) per kernel, against OpenSSL double SHA-256 of the same
// 80-byte header per nonce, measured in the same run. See docs/perf-sha256.md.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstring>

#include "crypto/crypto.h"

using namespace otedama;
using namespace otedama::crypto;

namespace {

// Bitcoin genesis header; the nonce field is overwritten.
const Bytes kHeader = from_hex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
    "67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c");

void set_nonce(uint8_t* header, uint32_t nonce) {
  for (int b = 0; b < 4; ++b) header[76 + b] = uint8_t(nonce >> (8 * b));
}

// Baseline: what a plain miner loop does with OpenSSL, SHA256(SHA256(header)) per nonce.
void BM_OpenSSL_Sha256d_Header(benchmark::State& state) {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once, as `openssl speed` does
  uint8_t h[80], d1[32], d2[32];
  std::memcpy(h, kHeader.data(), 80);
  uint32_t nonce = 0;
  for (auto _ : state) {
    set_nonce(h, nonce++);
    EVP_Digest(h, 80, d1, nullptr, md, nullptr);
    EVP_Digest(d1, 32, d2, nullptr, md, nullptr);
    benchmark::DoNotOptimize(d2);
  }
  EVP_MD_free(md);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenSSL_Sha256d_Header);

// One SHA-256 of 80 bytes through EVP: the unit `openssl speed -evp sha256 -bytes 80` counts.
void BM_OpenSSL_Sha256_80(benchmark::State& state) {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  uint8_t h[80], d[32];
  std::memcpy(h, kHeader.data(), 80);
  for (auto _ : state) {
    EVP_Digest(h, 80, d, nullptr, md, nullptr);
    benchmark::DoNotOptimize(d);
  }
  EVP_MD_free(md);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenSSL_Sha256_80);

// Our one-shot sha256d of a header (fastest single-message compression, no midstate).
void BM_Sha256d_Header(benchmark::State& state, ShaImpl impl) {
  if (!sha_impl_supported(impl)) {
    state.SkipWithError("not supported by this CPU");
    return;
  }
  uint8_t h[80];
  std::memcpy(h, kHeader.data(), 80);
  uint32_t nonce = 0;
  for (auto _ : state) {
    set_nonce(h, nonce++);
    benchmark::DoNotOptimize(sha256d(impl, ByteSpan(h, 80)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Sha256d_Header, portable, ShaImpl::portable);
BENCHMARK_CAPTURE(BM_Sha256d_Header, shani, ShaImpl::shani);

// The mining loop: sha256d_scan over consecutive chunks with the difficulty-1 target.
void BM_Sha256dScan(benchmark::State& state, ShaImpl impl) {
  if (!sha_impl_supported(impl)) {
    state.SkipWithError("not supported by this CPU");
    return;
  }
  const U256 target = U256::from_compact(0x1d00ffff);
  const uint32_t chunk = 1u << 16;
  std::vector<uint32_t> hits;
  uint32_t first = 0;
  uint64_t nonces = 0;
  for (auto _ : state) {
    hits.clear();
    nonces += sha256d_scan(impl, kHeader.data(), target, first, first + (chunk - 1), hits);
    first += chunk;
    benchmark::DoNotOptimize(hits.data());
  }
  state.SetItemsProcessed(int64_t(nonces));
}
BENCHMARK_CAPTURE(BM_Sha256dScan, portable, ShaImpl::portable);
BENCHMARK_CAPTURE(BM_Sha256dScan, shani, ShaImpl::shani);
BENCHMARK_CAPTURE(BM_Sha256dScan, avx2, ShaImpl::avx2);
BENCHMARK_CAPTURE(BM_Sha256dScan, avx512, ShaImpl::avx512);
BENCHMARK_CAPTURE(BM_Sha256dScan, shani_avx512, ShaImpl::shani_avx512);

}  // namespace
