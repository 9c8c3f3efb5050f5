// `otedama bench`: the mining search loop on N threads, reporting the steady hashrate
// (the first part of the run, while caches warm and clocks settle, is not counted).
#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "app/app.h"
#include "crypto/crypto.h"

namespace otedama::app {

namespace {

// A job shaped like the algorithm's real work, with a target that is almost never met, so the
// loop measures hashing and the early-exit path, not result handling.
crypto::Work bench_work(const std::string& algo) {
  std::mt19937_64 rng(42);
  crypto::Work w;
  auto fill = [&](size_t n) {
    w.blob.resize(n);
    for (auto& b : w.blob) b = uint8_t(rng());
  };
  if (algo == "sha256d" || algo == "scrypt") {
    fill(80);
    w.nonce_offset = 76;
  } else if (algo == "randomx") {
    fill(76);  // a Monero hashing blob's size; nonce at 39
    w.nonce_offset = 39;
    for (auto& b : w.seed) b = uint8_t(rng());
  } else {
    fill(32);  // Ethash/KawPow header hash
    w.height = 0;
  }
  w.target = U256::from_u64(1) << 200;
  return w;
}

uint64_t batch_for(const std::string& algo) {
  if (algo == "sha256d") return 1 << 16;
  if (algo == "scrypt") return 64;
  return 16;
}

}  // namespace

int bench(const BenchOptions& o) {
  crypto::AlgorithmOptions ao;
  ao.variant = o.variant;
  ao.randomx_fast = !o.randomx_light;
  ao.large_pages = o.large_pages;
  unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  ao.init_threads = threads;
  if (!(o.seconds > 0) || o.seconds > 86400) {
    fprintf(stderr, "error: --seconds must be more than 0 and at most 86400\n");
    return kExitUsage;
  }

  crypto::set_crypto_log([](std::string_view line) { fprintf(stderr, "%.*s\n", int(line.size()), line.data()); });
  std::vector<std::unique_ptr<crypto::Algorithm>> algos;
  crypto::Work work;
  try {
    work = bench_work(o.algo);
    for (unsigned i = 0; i < threads; ++i) algos.push_back(crypto::make_algorithm(o.algo, ao));
  } catch (const std::invalid_argument& e) {
    fprintf(stderr, "error: %s\n", e.what());
    return kExitUsage;
  }
  if (!o.json)
    fprintf(stderr, "bench: %s on %u thread%s, %s; preparing...\n", o.algo.c_str(), threads, threads == 1 ? "" : "s",
            algos[0]->variant().c_str());
  // Build caches/datasets before the clock starts.
  for (auto& a : algos) a->hash(work, 0);

  std::atomic<bool> stop{false};
  std::vector<std::atomic<uint64_t>> counts(threads);
  std::vector<std::thread> workers;
  const uint64_t batch = batch_for(o.algo);
  for (unsigned i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      std::vector<crypto::Found> found;
      // Disjoint nonce ranges per thread, as the miner does.
      uint64_t nonce = uint64_t(i) << 28;
      while (!stop.load(std::memory_order_relaxed)) {
        uint64_t done = algos[i]->search(work, nonce, nonce + batch - 1, found, &stop);
        counts[i].fetch_add(done, std::memory_order_relaxed);
        nonce += batch;
        found.clear();
      }
    });
  }
  auto total = [&] {
    uint64_t t = 0;
    for (auto& c : counts) t += c.load();
    return t;
  };
  using clock = std::chrono::steady_clock;
  double warm = std::min(2.0, o.seconds * 0.2);
  std::this_thread::sleep_for(std::chrono::duration<double>(warm));
  uint64_t h0 = total();
  auto t0 = clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds - warm));
  uint64_t h1 = total();
  double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  stop = true;
  for (auto& t : workers) t.join();

  double rate = double(h1 - h0) / elapsed;
  if (o.json) {
    nlohmann::json j = {{"algo", o.algo},       {"threads", threads},      {"hashrate", rate},
                        {"variant", algos[0]->variant()}, {"large_pages", algos[0]->large_pages()},
                        {"seconds", elapsed},   {"hashes", h1 - h0}};
    printf("%s\n", j.dump().c_str());
  } else {
    const char* unit = "H/s";
    double shown = rate;
    if (rate >= 1e9) shown = rate / 1e9, unit = "GH/s";
    else if (rate >= 1e6) shown = rate / 1e6, unit = "MH/s";
    else if (rate >= 1e3) shown = rate / 1e3, unit = "kH/s";
    printf("%s: %.2f %s (%.0f H/s) on %u thread%s; variant %s; large pages %s\n", o.algo.c_str(), shown, unit, rate,
           threads, threads == 1 ? "" : "s", algos[0]->variant().c_str(), algos[0]->large_pages() ? "yes" : "no");
  }
  return kExitOk;
}

}  // namespace otedama::app
