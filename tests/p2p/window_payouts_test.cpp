// window_payouts (the coinbase every node rebuilds for every share) against a straightforward
// reference written from the rules in p2p.h with accounting::split: random windows with
// repeated payees, scripts of several lengths and high bytes (ordering), dust, fees, tiny and
// large rewards. Any difference would fork the share chain between versions.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "p2p/p2p.h"

using namespace otedama;
using namespace otedama::p2p;

namespace {

std::vector<chain::TxOut> reference(std::span<const WindowShare> window, int64_t reward, const ShareInfo& info,
                                    const ChainParams& params) {
  std::map<std::string, Work> by_script;
  for (const auto& s : window) by_script[std::string(s.script->begin(), s.script->end())] += s.work;
  std::vector<chain::TxOut> out;
  int64_t fee = params.fee_ppm ? accounting::fee_of(reward, accounting::FeeRate{params.fee_ppm}) : 0;
  if (fee > 0) out.push_back({fee, info.fee_script});
  const int64_t rest = reward - fee;
  std::vector<accounting::Weight> weights;
  for (auto& [script, work] : by_script)
    if (work > 0) weights.push_back({script, work});
  accounting::Payout split;
  while (!weights.empty()) {
    split = accounting::split(weights, rest, accounting::FeeRate{0});
    std::map<std::string, int64_t> paid;
    for (const auto& c : split.credits) paid[c.account] = c.amount;
    std::vector<accounting::Weight> keep;
    for (auto& w : weights)
      if (paid.count(w.account) && paid[w.account] >= params.min_output) keep.push_back(w);
    if (keep.size() == weights.size()) break;
    weights = std::move(keep);
  }
  if (weights.empty()) {
    out.push_back({rest, info.payout_script});
    return out;
  }
  const accounting::Weight* top = &weights.front();
  for (const auto& w : weights)
    if (w.work > top->work) top = &w;
  int64_t remainder = rest - split.total_credited();
  for (const auto& c : split.credits)
    out.push_back({c.amount + (c.account == top->account ? remainder : 0), Bytes(c.account.begin(), c.account.end())});
  return out;
}

std::vector<std::pair<int64_t, Bytes>> flat(const std::vector<chain::TxOut>& v) {
  std::vector<std::pair<int64_t, Bytes>> out;
  for (auto& o : v) out.emplace_back(o.value, o.script);
  return out;
}

}  // namespace

TEST(P2pWindowPayouts, MatchesTheReferenceOnRandomWindows) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 400; ++round) {
    ChainParams p;
    p.fee_ppm = rng() % 3 == 0 ? uint32_t(rng() % 50'000) : 0;
    p.min_output = int64_t(rng() % 4 == 0 ? 0 : rng() % 200'000);
    size_t n_scripts = 1 + rng() % (round % 10 == 0 ? 2000 : 40);
    std::vector<Bytes> scripts;
    for (size_t i = 0; i < n_scripts; ++i) {
      Bytes s(1 + rng() % 34);
      for (auto& b : s) b = uint8_t(rng() % 4 == 0 ? 0x80 + rng() % 128 : rng() % 4);  // collisions of prefixes
      scripts.push_back(s);
    }
    size_t n = 1 + rng() % 2160;
    std::vector<WindowShare> window;
    for (size_t i = 0; i < n; ++i) {
      Work w = rng() % 5 == 0 ? Work(1 + rng() % 3) : (Work(rng()) << (rng() % 40)) + 1;
      window.push_back({&scripts[rng() % scripts.size()], w});
    }
    ShareInfo info;
    info.payout_script = *window.back().script;
    info.fee_script = Bytes{0x51};
    int64_t reward = rng() % 3 == 0 ? int64_t(rng() % 100'000) : int64_t(rng() % 50'000'000'000ull);
    auto got = window_payouts(window, reward, info, p);
    auto want = reference(window, reward, info, p);
    ASSERT_EQ(flat(got), flat(want)) << "round " << round;
    int64_t total = 0;
    for (auto& o : got) total += o.value;
    EXPECT_EQ(total, reward);
  }
  EXPECT_THROW(window_payouts({}, -1, ShareInfo{}, ChainParams{}), std::invalid_argument);
}
