// The P2P share chain (docs/perf-p2p.md):
//   - share verification throughput (ShareChain::add of pre-mined shares: scrypt PoW, the
//     window's payouts rebuilt, the coinbase and merkle root checked), with one payee and with
//     a full 2160-share window of distinct payees, against one scrypt hash (the PoW alone);
//   - sync of a pre-mined chain (100,000 shares, window 2160) from a peer over loopback into an
//     empty node, data directory on disk or on tmpfs;
//   - share propagation latency across 3 nodes in a line on loopback (submit at the first,
//     until the third's tip is that share), p50/p99.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>

#include "p2p/node_harness.h"
#include "support/support.h"

using namespace otedama;
using namespace otedama::p2p;
using namespace otedama::p2p::testing;

namespace {

constexpr uint32_t kT0 = 1'700'000'000;      // fixed, so cached chains stay valid
constexpr uint32_t kHardCoinBits = 0x1d00ffff;  // no share is a block (as on a real coin)
constexpr int64_t kReward = 5'000'000'000;

ChainParams window_params(uint32_t window) { return easy_params("bench-" + std::to_string(window), window); }

// The build directory (the otedama binary's folder): pre-mined chains are cached there, and the
// "disk" data directories live there.
std::filesystem::path build_dir() { return std::filesystem::path(OTEDAMA_BIN).parent_path(); }

int64_t unix_now() { return int64_t(std::time(nullptr)); }

Bytes payee(uint64_t height, uint32_t payees) { return script_for(uint32_t(height % payees)); }

// A chain of `n` shares, the share at height h paying payee(h, payees), one share_time apart.
// Mining is ~2 scrypt hashes a share plus the payouts; the result is cached in the build
// directory (a plain list of serialized shares) so repeated runs skip it.
std::vector<Share> premine(const ChainParams& params, size_t n, uint32_t payees) {
  std::string cache = build_dir().string() + "/p2p-chain-" + to_hex(params.id()).substr(0, 12) + "-" +
                      std::to_string(n) + "-" + std::to_string(payees) + ".bin";
  std::vector<Share> out;
  if (std::ifstream in(cache, std::ios::binary); in) {
    uint32_t len;
    while (in.read(reinterpret_cast<char*>(&len), 4)) {
      Bytes b(len);
      if (!in.read(reinterpret_cast<char*>(b.data()), len)) break;
      out.push_back(parse_share(b));
    }
    if (out.size() == n) return out;
    out.clear();
  }
  ShareChain c(params);
  FakeTemplate tpl;
  tpl.coin_bits = kHardCoinBits;
  const ShareEntry* parent = nullptr;
  for (size_t h = 0; h < n; ++h) {
    Share s = mine_share(c, parent, payee(h, payees), kT0 + uint32_t(h * params.share_time), tpl);
    // Our own freshly mined share: its PoW was just checked by the miner.
    AddResult r = c.add(s, unix_now(), false);
    if (r.status != AddStatus::accepted) throw std::runtime_error("premine: " + r.reason);
    parent = r.entry;
    out.push_back(std::move(s));
  }
  std::ofstream o(cache + ".tmp", std::ios::binary);
  for (auto& s : out) {
    Bytes b = serialize_share(s);
    uint32_t len = uint32_t(b.size());
    o.write(reinterpret_cast<const char*>(&len), 4);
    o.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }
  o.close();
  std::filesystem::rename(cache + ".tmp", cache);
  return out;
}

// ---- verification throughput -----------------------------------------------------------------

// The PoW alone: one scrypt(1024,1,1) of an 80-byte header (the baseline).
void BM_ScryptHeader(benchmark::State& state) {
  chain::Header80 h{};
  uint32_t n = 0;
  for (auto _ : state) {
    h[76] = uint8_t(n), h[77] = uint8_t(n >> 8), ++n;
    benchmark::DoNotOptimize(crypto::scrypt_1024_1_1(h));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScryptHeader)->Unit(benchmark::kMicrosecond);

// ShareChain::add of a share on a full window (2160 shares, `payees` distinct payout scripts):
// each iteration adds another pre-mined sibling on the same parent, so every add pays the
// same full verification. Arg 1: 1 = as from a peer (PoW checked), 0 = trusted (the node's own
// file at start: payouts and coinbase only).
void BM_ShareVerify(benchmark::State& state) {
  const uint32_t payees = uint32_t(state.range(0));
  const bool pow = state.range(1) != 0;
  const ChainParams params = window_params(2160);
  static std::map<uint32_t, std::vector<Share>> windows;
  auto& base = windows[payees];
  if (base.empty()) base = premine(params, params.window, payees);
  ShareChain c(params);
  for (auto& s : base)
    if (c.add(s, unix_now(), false).status != AddStatus::accepted) throw std::runtime_error("window");
  const ShareEntry* parent = c.tip();
  const size_t kSiblings = size_t(state.max_iterations);
  std::vector<Share> siblings;
  FakeTemplate tpl;
  tpl.coin_bits = kHardCoinBits;
  for (size_t i = 0; i < kSiblings; ++i)
    siblings.push_back(mine_share(c, parent, script_for(uint32_t(1'000'000 + i)), parent->share.info.time + 1, tpl));
  size_t i = 0;
  for (auto _ : state) {
    AddResult r = pow ? c.add(siblings[i++], unix_now()) : c.add(siblings[i++], unix_now(), false);
    if (r.status != AddStatus::accepted) {
      state.SkipWithError(("not accepted: " + r.reason).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::to_string(payees) + (payees == 1 ? " payee" : " payees") + (pow ? ", PoW" : ", trusted"));
}
BENCHMARK(BM_ShareVerify)
    ->ArgsProduct({{1, 2160}, {1, 0}})
    ->Iterations(300)
    ->Unit(benchmark::kMicrosecond);

// ---- sync ----------------------------------------------------------------------------------------

std::filesystem::path data_root(bool tmpfs) {
  if (tmpfs && std::filesystem::is_directory("/dev/shm")) return "/dev/shm";
  return build_dir().string();
}

struct ScopedDir {
  std::filesystem::path path;
  explicit ScopedDir(std::filesystem::path root) {
    path = root / ("otedama-p2p-bench-" + std::to_string(getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScopedDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

NodeConfig bench_config(const std::filesystem::path& dir, const ChainParams& params, std::vector<std::string> seeds = {}) {
  NodeConfig c;
  c.params = params;
  c.data_dir = dir.string();
  c.listen_host = "127.0.0.1";
  c.seeds = std::move(seeds);
  c.handshake_pow_bits = 8;
  return c;
}

// Node A holds `n` pre-mined shares (window 2160, 20 payees in turn); node B starts empty,
// dials A and syncs the whole chain. Time: B's start until B's tip is A's tip. Arg 1: B's data
// directory on tmpfs (1) or on the build directory's disk (0: one fdatasync per stored share).
void BM_SyncFromPeer(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  const bool tmpfs = state.range(1) != 0;
  const ChainParams params = window_params(2160);
  std::vector<Share> chain = premine(params, n, 20);
  // A's file, written directly (A's disk is not what is measured).
  ScopedDir a_dir(data_root(true)), b_dir(data_root(tmpfs));
  {
    ShareFile f((a_dir.path / "shares.dat").string());
    for (auto& s : chain) f.append(s, false);
  }
  auto t_load = std::chrono::steady_clock::now();
  NodeRunner a(bench_config(a_dir.path, params));
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  if (a->status().shares != n) {
    state.SkipWithError("node A did not load the chain");
    return;
  }
  const std::string want = a->status().tip;
  for (auto _ : state) {
    // Declared before the node: its callbacks may run until it is destroyed.
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    auto t0 = std::chrono::steady_clock::now();
    NodeRunner b(bench_config(b_dir.path, params, {a.address()}), [&](Node& node) {
      node.on_tip([&] {
        if (node.status().tip != want) return;
        std::lock_guard g(mu);
        done = true;
        cv.notify_all();
      });
    });
    std::unique_lock lock(mu);
    bool ok = cv.wait_for(lock, std::chrono::seconds(600), [&] { return done || b->status().tip == want; });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    lock.unlock();
    if (!ok) {
      state.SkipWithError(("sync did not finish: height " + std::to_string(b->status().height)).c_str());
      break;
    }
    state.SetIterationTime(s);
    state.counters["sync_s"] = s;
    state.counters["shares_per_s"] = double(n) / s;
  }
  state.counters["peer_load_s"] = load_s;
  state.SetLabel(std::to_string(n) + " shares, B on " + (tmpfs ? "tmpfs" : "disk"));
}
// B on tmpfs and on disk (the node fdatasyncs once per received batch).
BENCHMARK(BM_SyncFromPeer)
    ->Args({100'000, 1})
    ->Args({100'000, 0})
    ->Args({10'000, 1})
    ->Args({10'000, 0})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kSecond);

// ---- propagation latency ---------------------------------------------------------------------------

// Three nodes in a line (b dials a, c dials b). Each iteration mines a share on a's tip (not
// timed), then times a.submit() until c's tip is that share (two relays, three verifications
// and three stored shares). Arg: data directories on tmpfs (1) or disk (0).
void BM_PropagationLatency(benchmark::State& state) {
  const bool tmpfs = state.range(0) != 0;
  const ChainParams params = window_params(2160);
  ScopedDir root(data_root(tmpfs));
  // Declared before the nodes: c's callback may run until c is destroyed.
  std::mutex mu;
  std::condition_variable cv;
  std::string c_tip;
  std::chrono::steady_clock::time_point c_at;
  NodeRunner a(bench_config(root.path / "a", params));
  NodeRunner b(bench_config(root.path / "b", params, {a.address()}));
  NodeRunner c(bench_config(root.path / "c", params, {b.address()}), [&](Node& node) {
    node.on_tip([&] {
      std::string t = node.status().tip;
      auto now = std::chrono::steady_clock::now();
      std::lock_guard g(mu);
      c_tip = t;
      c_at = now;
      cv.notify_all();
    });
  });
  if (!otedama::test::eventually([&] { return a->peers().size() == 1 && b->peers().size() == 2 && c->peers().size() == 1; },
                                 std::chrono::seconds(10))) {
    state.SkipWithError("the nodes did not connect");
    return;
  }
  // Share times: one share_time apart from well in the past (never "in the future").
  const uint32_t t0 = uint32_t(unix_now()) - 100'000;
  std::vector<double> ms;
  uint32_t salt = 0;
  for (auto _ : state) {
    Share s = mine_on(*a, payee(salt, 50), t0, salt);
    ++salt;
    std::string want = chain::display_hex(s.hash());
    auto start = std::chrono::steady_clock::now();
    AddResult r = a->submit(s);
    if (r.status != AddStatus::accepted) {
      state.SkipWithError(("submit: " + r.reason).c_str());
      break;
    }
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return c_tip == want; })) {
      state.SkipWithError("the share did not reach the third node");
      break;
    }
    double d = std::chrono::duration<double, std::milli>(c_at - start).count();
    state.SetIterationTime(d / 1000);
    ms.push_back(d);
  }
  if (!ms.empty()) {
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) { return ms[std::min(ms.size() - 1, size_t(p * double(ms.size())))]; };
    state.counters["p50_ms"] = pct(0.50);
    state.counters["p99_ms"] = pct(0.99);
    state.counters["max_ms"] = ms.back();
  }
  state.SetLabel(std::string("3 nodes, 2 hops, data on ") + (tmpfs ? "tmpfs" : "disk"));
}
BENCHMARK(BM_PropagationLatency)->Arg(1)->Arg(0)->Iterations(300)->UseManualTime()->Unit(benchmark::kMillisecond);

struct Quiet {
  Quiet() { spdlog::set_level(spdlog::level::warn); }
} quiet;

}  // namespace
