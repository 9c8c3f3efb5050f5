// The coinbase payouts a share must carry: the PPLNS split of its window (docs/p2p.md).
//
// Every node runs this for every share it verifies, over a window of up to 2160 shares, so it
// avoids per-share string copies and ordered maps: scripts are aggregated by view into a hash
// map, sorted once, and split with exact integer arithmetic (accounting::mul_div, the same
// floor(rest * work / total) as accounting::split, whose rules this follows: accounts in script
// byte order, amounts that round to zero left out).
#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "p2p/p2p.h"

namespace otedama::p2p {

namespace {

struct ScriptWork {
  std::string_view script;
  Work work = 0;
};

std::string_view view_of(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// floor(rest * work / total) for each payee (the split of accounting::split with no fee).
void split_amounts(const std::vector<ScriptWork>& weights, int64_t rest, std::vector<int64_t>& amounts) {
  Work total = 0;
  for (const auto& w : weights) total += w.work;
  amounts.resize(weights.size());
  for (size_t i = 0; i < weights.size(); ++i)
    amounts[i] = total > 0 ? int64_t(accounting::mul_div(uint64_t(rest), weights[i].work, total)) : 0;
}

}  // namespace

std::vector<chain::TxOut> window_payouts(std::span<const WindowShare> window, int64_t reward, const ShareInfo& info,
                                         const ChainParams& params) {
  if (reward < 0) throw std::invalid_argument("negative reward");
  // Weights by script, in the scripts' byte order (the order accounting::split credits in).
  std::unordered_map<std::string_view, Work> by_script;
  by_script.reserve(std::min<size_t>(window.size(), 4096));
  for (const auto& s : window) by_script[view_of(*s.script)] += s.work;
  std::vector<ScriptWork> weights;
  weights.reserve(by_script.size());
  for (const auto& [script, work] : by_script)
    if (work > 0) weights.push_back({script, work});
  std::sort(weights.begin(), weights.end(), [](const ScriptWork& a, const ScriptWork& b) { return a.script < b.script; });

  std::vector<chain::TxOut> out;
  int64_t fee = params.fee_ppm ? accounting::fee_of(reward, accounting::FeeRate{params.fee_ppm}) : 0;
  if (fee > 0) out.push_back({fee, info.fee_script});
  const int64_t rest = reward - fee;

  // Drop payees below the dust threshold (or rounded to nothing) and split again among the
  // others; each pass only raises the remaining amounts, so it ends.
  std::vector<int64_t> amounts;
  while (!weights.empty()) {
    split_amounts(weights, rest, amounts);
    std::vector<ScriptWork> keep;
    keep.reserve(weights.size());
    for (size_t i = 0; i < weights.size(); ++i)
      if (amounts[i] > 0 && amounts[i] >= params.min_output) keep.push_back(weights[i]);
    if (keep.size() == weights.size()) break;
    weights = std::move(keep);
  }
  if (weights.empty()) {  // nobody reaches the threshold: the finder takes it all
    out.push_back({rest, info.payout_script});
    return out;
  }
  // The rounding remainder to the payee with the most work (ties: the smallest script).
  size_t top = 0;
  int64_t credited = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i].work > weights[top].work) top = i;
    credited += amounts[i];
  }
  const int64_t remainder = rest - credited;
  out.reserve(out.size() + weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    const auto& s = weights[i].script;
    out.push_back({amounts[i] + (i == top ? remainder : 0), Bytes(s.begin(), s.end())});
  }
  return out;
}

}  // namespace otedama::p2p
